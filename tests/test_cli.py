"""The command line: ``python -m nnfast demo``, ``info``, ``train``, ``predict``, ``bench``.

Subprocesses (about 0.5 s each) where the real process matters: the demo, one train + predict
round trip, bench, one error; the rest calls ``nnfast.cli.main`` in-process.
"""

import csv
import subprocess
import sys

import numpy as np
import pytest

import nnfast as nf
from nnfast.cli import main


def _run(*args):
    return subprocess.run([sys.executable, "-m", "nnfast", *args], capture_output=True, text=True, timeout=300)


def test_demo_trains_digits_and_reports_accuracy():
    pytest.importorskip("sklearn")
    out = _run("demo", "--epochs", "20")
    assert out.returncode == 0, out.stderr
    assert "Epoch 20/20" in out.stdout
    acc = float(out.stdout.split("test accuracy:")[1].split()[0])
    assert acc >= 0.95


def test_demo_rejects_bad_arguments_with_one_line():
    out = _run("demo", "--epochs", "0")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "--epochs" in out.stderr


def test_unknown_command_exits_2():
    out = _run("frobnicate")
    assert out.returncode == 2


# ---- train / predict ------------------------------------------------------------------------

FEATURES = ["a", "b", "c"]


def _features(n, seed):
    return np.random.default_rng(seed).normal(size=(n, len(FEATURES)))


def _species(X):
    return np.where(X[:, 0] + X[:, 1] > 0.3, "cat", np.where(X[:, 2] > 0, "dog", "bird"))


def _write_csv(path, columns):
    """``columns``: {name: values}; written with a header, in order."""
    names = list(columns)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(names)
        for row in zip(*(columns[n] for n in names)):
            writer.writerow([f"{v:.6f}" if isinstance(v, float) else v for v in row])
    return path


def _classes_csv(path, n=240, seed=0):
    X = _features(n, seed)
    return _write_csv(path, {**{n: X[:, j].tolist() for j, n in enumerate(FEATURES)},
                             "species": _species(X).tolist()})


def _read_csv(text):
    rows = list(csv.reader(text.splitlines()))
    return rows[0], rows[1:]


def _cli(argv, capsys):
    """``(exit code, stdout, stderr)`` of ``nnfast.cli.main(argv)`` in this process."""
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_predict_round_trip_with_string_labels(tmp_path):
    data = _classes_csv(tmp_path / "train.csv")
    model = tmp_path / "model.npz"
    out = _run("train", str(data), "--target", "species", "--hidden", "32,16", "--epochs", "40",
               "--batch-size", "16", "--lr", "0.01", "--out", str(model))
    assert out.returncode == 0, out.stderr
    assert "task: classification (auto-detected: string labels" in out.stdout
    assert "Epoch 40/40" in out.stdout                                # the progress display
    assert float(out.stdout.split("accuracy ")[-1].split()[0]) >= 0.85  # validation accuracy
    meta = nf.load_model(model).metadata
    assert meta["features"] == FEATURES and meta["classes"] == ["bird", "cat", "dog"]
    assert meta["target"] == "species" and len(meta["scaler"]["mean"]) == 3

    # new rows, target column absent, columns reordered, an extra column: taken by name
    X = _features(100, seed=1)
    fresh = _write_csv(tmp_path / "new.csv", {"c": X[:, 2].tolist(), "id": list(range(100)),
                                              "a": X[:, 0].tolist(), "b": X[:, 1].tolist()})
    out = _run("predict", str(model), str(fresh))                     # to stdout
    assert out.returncode == 0, out.stderr
    header, rows = _read_csv(out.stdout)
    assert header == ["prediction", "proba_bird", "proba_cat", "proba_dog"]
    assert len(rows) == 100
    probs = np.array([[float(v) for v in r[1:]] for r in rows])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    labels = np.array([r[0] for r in rows])
    np.testing.assert_array_equal(labels, np.array(["bird", "cat", "dog"])[probs.argmax(axis=1)])
    assert np.mean(labels == _species(X)) >= 0.85


def test_train_predict_regression_in_process(tmp_path, capsys):
    X = _features(300, seed=2)
    y = 50.0 + 10.0 * X[:, 0] - 5.0 * X[:, 1] + 2.0 * X[:, 2]         # far from zero mean and unit scale
    data = _write_csv(tmp_path / "houses.csv", {**{n: X[:, j].tolist() for j, n in enumerate(FEATURES)},
                                                "price": y.tolist()})
    model = tmp_path / "reg.npz"
    code, out, err = _cli(["train", data, "--target", "price", "--hidden", "32", "--epochs", "60",
                           "--lr", "0.01", "--quiet", "--out", model, "--seed", "3"], capsys)
    assert code == 0, err
    assert "task: regression (auto-detected: non-integer numbers" in out
    assert "Epoch" not in out                                         # --quiet: no progress bar
    assert "mse " in out and "mae " in out
    assert float(out.split("R^2 ")[1].split()[0]) > 0.95
    meta = nf.load_model(model).metadata
    assert meta["task"] == "regression" and "target_scaler" in meta and "classes" not in meta

    preds = tmp_path / "preds.csv"
    code, out, err = _cli(["predict", model, data, "--out", preds], capsys)
    assert code == 0, err
    assert f"wrote 300 predictions to {preds}" in out
    header, rows = _read_csv(preds.read_text())
    assert header == ["prediction"]
    pred = np.array([float(r[0]) for r in rows])
    assert np.mean(np.abs(pred - y)) < 0.1 * np.std(y)               # in the target's units


def test_npz_columns_and_task_override(tmp_path, capsys):
    X = _features(200, seed=4).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + 2 * (X[:, 1] > 0)            # integer classes 0..3
    np.savez(tmp_path / "d.npz", X=X, y=y)
    model = tmp_path / "m.npz"
    code, out, err = _cli(["train", tmp_path / "d.npz", "--target", "y", "--hidden", "16",
                           "--epochs", "40", "--lr", "0.01", "--quiet", "--out", model], capsys)
    assert code == 0, err
    assert "auto-detected: integer target with 4 distinct values" in out
    meta = nf.load_model(model).metadata
    assert meta["features"] == ["X_0", "X_1", "X_2"] and meta["classes"] == [0, 1, 2, 3]
    np.savez(tmp_path / "new.npz", X=X[:50])                          # no target
    code, out, err = _cli(["predict", model, tmp_path / "new.npz"], capsys)
    assert code == 0, err
    header, rows = _read_csv(out)
    assert header == ["prediction", "proba_0", "proba_1", "proba_2", "proba_3"]
    assert np.mean(np.array([int(r[0]) for r in rows]) == y[:50]) >= 0.8
    # --task regression on the same integers; without a validation split the metrics are on
    # the training rows
    code, out, err = _cli(["train", tmp_path / "d.npz", "--target", "y", "--task", "regression",
                           "--hidden", "8", "--epochs", "2", "--quiet", "--validation-split", "0",
                           "--out", model], capsys)
    assert code == 0, err
    assert "task: regression (--task regression)" in out and "training (200 rows): mse" in out
    assert nf.load_model(model).metadata["task"] == "regression"


def _error_cases(tmp_path):
    """{name: (argv, words the one-line message must contain)}."""
    good = _classes_csv(tmp_path / "good.csv", n=60)
    model = tmp_path / "model.npz"
    assert main(["train", str(good), "--target", "species", "--hidden", "4", "--epochs", "1",
                 "--quiet", "--out", str(model)]) == 0
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("a,b,species\n")
    (tmp_path / "text.csv").write_text("a,b,c,species\n1,2,3,cat\n4,oops,6,dog\n")
    (tmp_path / "nan.csv").write_text("a,b,c,species\n1,2,3,cat\n4,nan,6,dog\n")
    (tmp_path / "ragged.csv").write_text("a,b,c,species\n1,2,3,cat\n4,5,dog\n")
    (tmp_path / "other.csv").write_text("a,x,species\n1,2,cat\n")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    np.savez(tmp_path / "objects.npz", a=np.array([1, None], dtype=object), species=np.arange(2))
    np.savez(tmp_path / "no_arrays.npz")
    rows = "".join(f"{i},{i % 3},{i},{'xy'[i % 2]}\n" for i in range(100))
    (tmp_path / "open_quote.csv").write_text("a,b,c,species\n" + rows.replace("50,2,50,x", '50,2,50,"x'))
    (tmp_path / "nul.csv").write_text("a,b,c,species\n1,2,3,cat\n4,5\x00,6,dog\n")
    (tmp_path / "one_class.csv").write_text("a,b,c,species\n1,2,3,0\n4,5,6,0\n7,8,9,0\n")
    train = ["train", "--quiet", "--epochs", "1", "--out", tmp_path / "out.npz"]
    return {
        "missing data file": (train + [tmp_path / "nope.csv", "--target", "species"], ["no such file", "nope.csv"]),
        "missing target": (train + [good, "--target", "colour"], ["no target column", "'colour'", "'species'"]),
        "non-numeric feature": (train + [tmp_path / "text.csv", "--target", "species"],
                                ["column 'b'", "'oops'", "line 3"]),
        "non-finite feature": (train + [tmp_path / "nan.csv", "--target", "species"], ["column 'b'", "'nan'"]),
        "empty file": (train + [tmp_path / "empty.csv", "--target", "species"], ["empty.csv is empty"]),
        "header only": (train + [tmp_path / "header.csv", "--target", "species"], ["no data rows"]),
        "ragged row": (train + [tmp_path / "ragged.csv", "--target", "species"], ["4 fields", "line 3"]),
        "bad npz data": (train + [tmp_path / "junk.npz", "--target", "species"], ["cannot read junk.npz"]),
        "object arrays": (train + [tmp_path / "objects.npz", "--target", "species"], ["Python objects"]),
        "bad --hidden": (train + [good, "--target", "species", "--hidden", "64,x"], ["--hidden", "'64,x'"]),
        "zero --hidden": (train + [good, "--target", "species", "--hidden", "0"], ["--hidden"]),
        "string target for regression": (train + [good, "--target", "species", "--task", "regression"],
                                         ["target column 'species'", "numbers"]),
        "one class": (train + [tmp_path / "other.csv", "--target", "species", "--validation-split", "0"],
                      ["at least 2 classes"]),
        "one numeric class": (train + [tmp_path / "one_class.csv", "--target", "species",
                                       "--validation-split", "0"], ["only 1 class (0)"]),
        "unclosed quote": (train + [tmp_path / "open_quote.csv", "--target", "species"],
                           ["not valid CSV", "line 52", "never closed"]),
        "NUL character": (train + [tmp_path / "nul.csv", "--target", "species"], ["NUL", "line 3"]),
        "npz without arrays": (train + [tmp_path / "no_arrays.npz", "--target", "species"],
                               ["holds no arrays"]),
        "bad --validation-split": (train + [good, "--target", "species", "--validation-split", "1.5"],
                                   ["--validation-split"]),
        "no output directory": (["train", good, "--target", "species", "--out", tmp_path / "no" / "m.npz"],
                                ["cannot write the model"]),
        "missing model file": (["predict", tmp_path / "nope.npz", good], ["no such model file"]),
        "unreadable model file": (["predict", good, good], ["nnfast model file"]),
        "not a train model": (["predict", tmp_path / "plain.npz", good], ["not written by 'nnfast train'"]),
        "missing feature columns": (["predict", model, tmp_path / "other.csv"],
                                    ["no feature columns", "'b'", "'c'"]),
    }


def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    nf.Sequential([nf.layers.Dense(2)], input_dim=3, seed=0).save(tmp_path / "plain.npz")
    cases = _error_cases(tmp_path)
    capsys.readouterr()
    for name, (argv, words) in cases.items():
        code, out, err = _cli(argv, capsys)
        assert code == 2, (name, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"nnfast {argv[0]}: error: "), (name, err)
        assert "Traceback" not in err
        for word in words:
            assert word in lines[0], (name, word, lines[0])
    assert not (tmp_path / "out.npz").exists()


def test_error_in_a_real_process_has_no_traceback(tmp_path):
    (tmp_path / "bad.csv").write_text("a,y\n1,0\nfoo,1\n")
    out = _run("train", str(tmp_path / "bad.csv"), "--target", "y")
    assert out.returncode == 2
    assert out.stderr.strip() == ("nnfast train: error: feature column 'a' of bad.csv must hold "
                                  "numbers, received: 'foo' at line 3")


def test_hidden_sizes_parse():
    from nnfast.cli import UsageError
    from nnfast.cli.train import parse_hidden

    assert parse_hidden("256,128") == (256, 128)
    assert parse_hidden(" 8 , 4 ") == (8, 4)
    assert parse_hidden("") == ()
    for bad in ("a", "8,,4", "-1", "1.5"):
        with pytest.raises(UsageError, match="--hidden"):
            parse_hidden(bad)


# ---- bench ------------------------------------------------------------------------------------

def test_bench_quick_prints_the_ratio_table():
    out = _run("bench", "--quick")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "speedup" in lines[1] and "nnfast" in lines[1] and "NumPy" in lines[1]
    for name in ("matmul", "dense_forward + relu", "softmax cross-entropy", "adam update", "relu",
                 "sigmoid", "gelu", "MLP fit, 1 epoch"):
        row = next(l for l in lines if l.startswith(name))
        ratio, check = row.split()[-2:]
        assert ratio.endswith("x") and float(ratio[:-1]) > 0
        assert check == "ok", row                                     # nnfast agrees with NumPy
    assert "geometric mean speedup" in lines[-1]


def test_benchmark_is_an_alias_of_bench(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["benchmark", "--help"])
    assert exit_info.value.code == 0
    assert "--quick" in capsys.readouterr().out


def test_info_reports_the_build(capsys):
    from nnfast.cli import main

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for key in ("openmp:", "build flags:", "isa selected:", "threads:", "blas:"):
        assert key in out
    flags = next(line for line in out.splitlines() if line.startswith("build flags:"))
    assert "-O3" in flags or "not recorded" in flags
    assert "-march=native" not in flags or "NNFAST_NATIVE" in __import__("os").environ


def test_quoted_fields_with_commas_and_newlines_are_read(tmp_path):
    from nnfast.cli.data import read_table

    path = tmp_path / "quoted.csv"
    path.write_text('a,b,label\n1,2,"multi\nline"\n3,4,"x, y"\n5,6, "z"\n')
    table = read_table(str(path))
    assert table.columns["label"].tolist() == ["multi\nline", "x, y", "z"]
    assert table.where(2) == "line 5" and table.features(["a", "b"]).tolist() == [
        [1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
