"""Saving and loading: bit-exact round trips, resumed training, atomic writes, bad files."""

import json
import os
import zipfile

import numpy as np
import pytest

import nnfast as nf


def data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)


def make(dtype="float32", optimizer=None, seed=3):
    model = nf.Sequential([
        nf.layers.Dense(12, activation="relu", kernel_initializer="he_normal",
                        kernel_regularizer=nf.regularizers.l2(1e-3)),
        nf.layers.BatchNormalization(momentum=0.9),
        nf.layers.Dropout(0.2),
        nf.layers.Dense(8, activation="gelu"),
        nf.layers.LayerNormalization(),
        nf.layers.Dense(3, activation="softmax"),
    ], input_dim=5, dtype=dtype, seed=seed)
    model.compile(optimizer or nf.optimizers.Adam(nf.schedules.CosineDecay(0.01, 200)),
                  "sparse_categorical_crossentropy", metrics=["accuracy", "auc"])
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_bit_exact(tmp_path, dtype):
    X, y = data()
    model = make(dtype)
    model.layers[3].trainable = False
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "model.npz"
    model.save(path)
    same = nf.load_model(path)
    assert [type(l).__name__ for l in same.layers] == [type(l).__name__ for l in model.layers]
    assert [l.name for l in same.layers] == [l.name for l in model.layers]
    assert same.layers[3].trainable is False and same.dtype == np.dtype(dtype)
    for a, b in zip(model.get_weights(), same.get_weights()):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(X), same.predict(X))
    assert same.evaluate(X, y) == model.evaluate(X, y)
    assert same.optimizer.iterations == model.optimizer.iterations
    assert same.optimizer.get_config() == model.optimizer.get_config()
    assert same.loss.get_config() == model.loss.get_config()
    assert [m.name for m in same.metrics] == ["accuracy", "auc"]
    for k, buf in model.optimizer.slots.items():
        np.testing.assert_array_equal(buf, same.optimizer.slots[k])


@pytest.mark.parametrize("opt", [
    lambda: nf.optimizers.Adam(nf.schedules.CosineDecay(0.01, 200)),
    lambda: nf.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    lambda: nf.optimizers.RMSprop(0.01, momentum=0.5, clipnorm=1.0),
    lambda: nf.optimizers.AdamW(0.01, global_clipnorm=1.0),
])
def test_resumed_training_equals_uninterrupted_training(tmp_path, opt):
    X, y = data()
    straight = make(optimizer=opt())
    straight.fit(X, y, epochs=3, batch_size=16, verbose=0, validation_split=0.2)
    first = make(optimizer=opt())
    first.fit(X, y, epochs=1, batch_size=16, verbose=0, validation_split=0.2)
    first.save(tmp_path / "ckpt.npz")
    resumed = nf.load_model(tmp_path / "ckpt.npz")
    resumed.fit(X, y, epochs=2, batch_size=16, verbose=0, validation_split=0.2)
    assert resumed.optimizer.iterations == straight.optimizer.iterations
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_uncompiled_model_round_trip(tmp_path):
    model = nf.Sequential([nf.layers.Dense(4, activation="elu"), nf.layers.Dense(2)],
                          input_dim=3, seed=0)
    model.save(str(tmp_path / "plain.npz"))
    same = nf.load_model(str(tmp_path / "plain.npz"))
    assert not same.compiled
    np.testing.assert_array_equal(same.predict(np.ones((2, 3))), model.predict(np.ones((2, 3))))


def test_file_holds_arrays_and_json_only(tmp_path):
    model = make()
    model.fit(*data(), epochs=1, verbose=0)
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as f:
        config = json.loads(f["__config__"].tobytes().decode())
        assert all(f[k].dtype != object for k in f.files)
    assert config["format"] == "nnfast.Sequential" and config["dtype"] == "float32"
    assert config["compile"]["optimizer"]["config"]["learning_rate"]["class_name"] == "CosineDecay"
    assert config["compile"]["iterations"] == model.optimizer.iterations


def test_save_is_atomic_and_replaces(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"old contents")
    model = make()
    model.save(path)
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]      # no temporary file left behind
    nf.load_model(path)

    class Boom(Exception):
        pass

    def fail(*a, **k):
        raise Boom()

    original = np.savez
    np.savez = fail
    try:
        with pytest.raises(Boom):
            model.save(path)
    finally:
        np.savez = original
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]
    nf.load_model(path)                                    # the old file is intact


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        nf.load_model("/nonexistent/dir/model.npz")


@pytest.mark.parametrize("bad", [3, None, ["m.npz"]])
def test_path_of_the_wrong_type(bad):
    with pytest.raises(TypeError, match="path"):
        nf.load_model(bad)
    with pytest.raises(TypeError, match="path"):
        make().save(bad)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_saved_file_mode_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        make().save(tmp_path / "m.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644


def test_truncated_file(tmp_path):
    model = make()
    path = tmp_path / "m.npz"
    model.save(path)
    raw = path.read_bytes()
    for cut in (10, len(raw) // 2, len(raw) - 30):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="nnfast model file"):
            nf.load_model(bad)


def test_foreign_and_corrupt_files(tmp_path):
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    with pytest.raises(ValueError, match="__config__"):
        nf.load_model(foreign)
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="nnfast model file"):
        nf.load_model(text)
    npy = tmp_path / "single.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError, match="nnfast model file"):
        nf.load_model(npy)
    csv = tmp_path / "data.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not an .npz") as err:
        nf.load_model(csv)
    assert "allow_pickle" not in str(err.value)  # no advice to load anything unsafely
    empty = tmp_path / "empty.npz"
    np.savez(empty)
    with pytest.raises(ValueError, match="__config__"):
        nf.load_model(empty)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __config__=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ValueError, match="nnfast model file"):
        nf.load_model(pickled)
    badjson = tmp_path / "badjson.npz"
    np.savez(badjson, __config__=np.frombuffer(b"{not json", np.uint8))
    with pytest.raises(ValueError, match="nnfast model file"):
        nf.load_model(badjson)


def test_tampered_contents(tmp_path):
    model = make()
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    config = json.loads(arrays["__config__"].tobytes().decode())

    def write(name, arrays, config):
        out = tmp_path / name
        arrays = dict(arrays, __config__=np.frombuffer(json.dumps(config).encode(), np.uint8))
        np.savez(out, **arrays)
        return out

    missing = dict(arrays)
    del missing["weight_0001"]
    with pytest.raises(ValueError, match="valid model"):
        nf.load_model(write("missing.npz", missing, config))
    reshaped = dict(arrays, weight_0000=np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="valid model"):
        nf.load_model(write("shape.npz", reshaped, config))
    evil = dict(config, layers=[{"class_name": "os.system", "config": {}}])
    with pytest.raises(ValueError, match="valid model"):
        nf.load_model(write("evil.npz", arrays, evil))
    with pytest.raises(ValueError, match="version"):
        nf.load_model(write("future.npz", arrays, dict(config, version=99)))
    assert zipfile.is_zipfile(path)


# ---- metadata: user data (feature names, scalers, class labels) saved with the model ----

META = {"features": ["a", "b", "c", "d", "e"], "scaler": {"mean": [0.5, -1.25], "scale": [2.0, 1e-3]},
        "classes": ["cat", "dog", 3], "task": "classification", "nested": {"ok": True, "none": None}}


def test_metadata_round_trip(tmp_path):
    model = make()
    model.fit(*data(), epochs=1, verbose=0)
    assert model.metadata == {}
    model.save(tmp_path / "m.npz", metadata=META)
    same = nf.load_model(tmp_path / "m.npz")
    assert same.metadata == META
    assert model.metadata == {}                            # save does not change the model
    np.testing.assert_array_equal(same.predict(data()[0]), model.predict(data()[0]))
    # a loaded model saved again keeps its metadata (defaults to model.metadata)
    same.save(tmp_path / "again.npz")
    assert nf.load_model(tmp_path / "again.npz").metadata == META
    # and the attribute is what is saved when no argument is given
    model.metadata = {"note": "from the attribute"}
    nf.saving.save_model(model, tmp_path / "attr.npz")
    assert nf.load_model(tmp_path / "attr.npz").metadata == {"note": "from the attribute"}
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        assert json.loads(f["__config__"].tobytes().decode())["metadata"] == META


def test_files_without_metadata_still_load(tmp_path):
    model = make()
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    config = json.loads(arrays["__config__"].tobytes().decode())
    del config["metadata"]                                 # a file written before metadata existed
    arrays["__config__"] = np.frombuffer(json.dumps(config).encode(), np.uint8)
    np.savez(tmp_path / "old.npz", **arrays)
    old = nf.load_model(tmp_path / "old.npz")
    assert old.metadata == {}
    for a, b in zip(old.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    config["metadata"] = [1, 2]                            # tampered: not a dict
    arrays["__config__"] = np.frombuffer(json.dumps(config).encode(), np.uint8)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match="metadata"):
        nf.load_model(tmp_path / "bad.npz")


@pytest.mark.parametrize("bad", [[1, 2], {"x": np.zeros(2)}, {"x": float("nan")}, {1: "int key"},
                                 {"t": (1, 2)}, {"f": open}])
def test_metadata_that_json_cannot_hold_is_refused(tmp_path, bad):
    model = make()
    path = tmp_path / "m.npz"
    with pytest.raises(TypeError, match="metadata"):
        model.save(path, metadata=bad)
    assert not path.exists() and os.listdir(tmp_path) == []  # nothing written, no temporary file
