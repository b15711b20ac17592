"""Fuzzing ``nnfast.kernels``: each call returns its NumPy twin's result or a ValueError/TypeError.

For every public op (``nnfast.kernels.__all__``) a builder draws a well-formed call: shapes
with 0 and 1 in them, float32/float64, inputs in any layout (C, F, negative strides, strided
views, zero-stride broadcasts, Python lists), values with NaN, inf and huge entries, optional
arguments present or not, ``out=`` absent, fresh, or the input itself where in-place is allowed.
Then, often, one thing is broken: an array's dtype (float16, int, bool, complex, object, the
other float), its shape or its type, a hyperparameter (NaN, inf, negative, a string, a bool),
or ``out=`` (wrong shape or dtype, non-contiguous, read-only, a list, partly overlapping an
input); in-place arrays of the optimizer updates also get read-only, non-contiguous and
aliased versions.

The rule checked is the library's contract: a call either raises ValueError/TypeError, or
returns what ``nnfast.reference`` returns for the same inputs (and writes it where ``out=``
or the in-place arguments say). A well-formed call must not raise. A crash (segfault) kills
pytest: the fuzz runs in-process on purpose, so a crash cannot go unnoticed.
"""

import numbers

import numpy as np
import pytest
from hypothesis import given, strategies as st

import nnfast as nf
from nnfast import kernels as K, reference as R

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
ACTS = K.ACTIVATIONS
BAD_DTYPES = (np.float16, np.int64, np.int32, np.uint8, np.bool_, np.complex128, object)
BAD_SCALARS = (float("nan"), float("inf"), -float("inf"), -1.0, -1e-300, 1e300, 0.0, 1.0,
               "0.1", None, True, 1 + 0j, np.float32(0.5), np.int64(2), [0.1])
HUGE = 10**9


# ------------------------------------------------------------------------------ drawing inputs


class Gen:
    """Draws one call's arguments; values come from a NumPy generator seeded by hypothesis."""

    def __init__(self, data, dtype=None):
        self.data = data
        self.rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
        self.dtype = np.dtype(dtype or data.draw(st.sampled_from(FLOATS), label="dtype"))
        self.special = data.draw(st.sampled_from([None, None, "nan", "inf", "big", "extreme"]),
                                 label="special")
        self.wellformed = True

    def draw(self, strategy, label=None):
        return self.data.draw(strategy, label=label)

    def coin(self, p=0.5):
        return self.rng.random() < p

    def pick(self, options):
        """One of ``options`` (kept exact: rng.choice would turn big ints into floats)."""
        return options[int(self.rng.integers(len(options)))]

    def dim(self, low=0):
        return int(self.rng.choice([d for d in (0, 1, 1, 2, 3, 5, 8) if d >= low]))

    def shape(self, ndim, low=0):
        return tuple(self.dim(low) for _ in range(ndim))

    def values(self, shape, low=-4.0, high=4.0):
        v = np.asarray(self.rng.uniform(low, high, shape))
        if self.special and v.size:
            hit = self.rng.random(shape) < 0.25
            v[hit] = self.rng.choice(self._specials(), size=int(hit.sum()))
        return v

    def _specials(self):
        """``big`` stays clear of overflow in a product of seven; ``extreme`` does not."""
        big = 1e5 if self.dtype == np.float32 else 1e40  # a product of seven is finite
        top = float(np.finfo(self.dtype).max)
        return {"nan": [np.nan], "inf": [np.inf, -np.inf], "big": [big, -big],
                "extreme": [top, -top, top / 3]}[self.special]

    def array(self, shape, low=-4.0, high=4.0, *, layout=None, values=None, avoid=()):
        """A float array of ``shape`` and the case dtype, in a drawn layout (a read-only input)."""
        v = self.values(shape, low, high) if values is None else np.asarray(values)
        with np.errstate(over="ignore", invalid="ignore"):
            a = v.astype(self.dtype)
        layouts = [k for k in ("C", "C", "C", "F", "neg", "strided", "bcast", "list")
                   if k not in avoid]
        layout = layout or self.pick(layouts)
        return relayout(a, layout, self)

    def inplace(self, shape, low=-4.0, high=4.0):
        """A writable C-contiguous array of the case dtype (updated in place by the op)."""
        return self.array(shape, low, high, layout="C")


def relayout(a, layout, gen):
    """``a``'s values in another memory layout (a broadcast repeats ``a``'s first row)."""
    if layout == "F" and a.ndim >= 2:  # (np.asfortranarray makes a 0-d array 1-d)
        return np.asfortranarray(a)
    if layout == "neg" and a.ndim:
        flip = (slice(None, None, -1),) * a.ndim
        return a[flip].copy()[flip]
    if layout == "strided" and a.ndim and a.size < 10_000:
        big = np.zeros(tuple(2 * s + 1 for s in a.shape), a.dtype)
        view = big[(slice(1, None, 2),) * a.ndim]
        view[...] = a
        return view
    if layout == "bcast" and a.ndim and a.shape[0] > 1:
        return np.broadcast_to(a[:1], a.shape)
    if layout == "list" and a.dtype == np.float64 and a.ndim and 0 not in a.shape[:-1]:
        return a.tolist()  # (a list cannot say that an empty array was (0, k))
    return a.copy(order="C")  # (np.ascontiguousarray would make a 0-d array 1-d)


class Case:
    """A drawn call: keyword arguments plus what may be broken and what is written."""

    def __init__(self, gen, name, kw, *, arrays=(), inplace=(), scalars=None, out=None,
                 out_key="out", alias=(), result_out=None, labels=()):
        self.gen, self.name, self.kw = gen, name, kw
        self.arrays = [a for a in arrays if kw.get(a) is not None]  # may get a bad dtype/shape/type
        self.inplace = list(inplace)       # written in place: must stay writable C-contiguous
        self.scalars = scalars or {}       # name -> plausible wrong values
        self.out, self.out_key = out, out_key  # the shape of out= (None: the op has no out=)
        self.alias = list(alias)           # inputs that out= may be (in place)
        self.result_out = result_out       # where out= is in the result (None: the result itself)
        self.labels = list(labels)         # integer label/index arguments


def _other_float(dtype):
    return np.dtype(np.float64) if dtype == np.float32 else np.dtype(np.float32)


def _as_ndarray(a):
    return a if isinstance(a, np.ndarray) else np.asarray(a)


def _reshape_wrong(gen, shape):
    kind = gen.rng.integers(3) if shape else 0
    if kind == 0:
        return shape + (int(gen.rng.integers(1, 3)),)
    if kind == 1:
        return shape[:-1]
    i = int(gen.rng.integers(len(shape)))
    return shape[:i] + (shape[i] + 1,) + shape[i + 1:]


def mutate(case):
    """Break at most one thing of a well-formed case (marking it not well-formed)."""
    with np.errstate(all="ignore"):  # casts of inf/1e40 to float32, float16, int
        _mutate(case)


def _mutate(case):
    gen, kw = case.gen, case.kw
    options = []
    if case.arrays:
        options += ["dtype", "other_float", "shape", "type"]
    if case.scalars:
        options += ["scalar"]
    if case.out is not None:
        options += ["out_bad"] * 2
    if case.inplace:
        options += ["inplace_bad"]
    if case.labels:
        options += ["labels"]
    kind = gen.draw(st.sampled_from(["none", "none", "none", *options]), label="mutation")
    if kind == "none":
        return
    gen.wellformed = False
    if kind in ("dtype", "other_float", "shape", "type"):
        key = gen.draw(st.sampled_from(case.arrays), label="array")
        a = _as_ndarray(kw[key])
        if kind == "dtype":
            bad = gen.draw(st.sampled_from(BAD_DTYPES), label="bad dtype")
            with np.errstate(all="ignore"):
                if np.dtype(bad).kind in "iub":  # integers cannot hold nan/inf
                    a = np.nan_to_num(a.astype(np.float64), posinf=7, neginf=-7)
                kw[key] = a.astype(bad)
        elif kind == "other_float":
            kw[key] = a.astype(_other_float(a.dtype if a.dtype in FLOATS else gen.dtype))
        elif kind == "shape":
            kw[key] = gen.array(_reshape_wrong(gen, a.shape), layout="C")
        else:
            kw[key] = gen.draw(st.sampled_from([None, "x", 3.0, object(), [[1.0], [2.0, 3.0]]]),
                               label="bad object")
    elif kind == "scalar":
        key = gen.draw(st.sampled_from(sorted(case.scalars)), label="scalar")
        kw[key] = value = gen.draw(st.sampled_from(list(case.scalars[key]) + list(BAD_SCALARS)),
                                   label="bad value")
        if isinstance(value, numbers.Real) and abs(value) > 1e30:
            gen.special = "extreme"  # intermediates overflow the dtype: compare the structure only
    elif kind == "out_bad":
        _bad_out(case)
    elif kind == "inplace_bad":
        _bad_inplace(case)
    else:
        _bad_labels(case)


def _bad_out(case):
    gen, kw, shape = case.gen, case.kw, case.out
    dt = gen.dtype
    kinds = ["shape", "dtype", "int", "noncontig", "readonly", "list", "bcast", "overlap", "input"]
    kind = gen.draw(st.sampled_from(kinds), label="bad out")
    if kind == "shape":
        out = np.empty(_reshape_wrong(gen, shape), dt)
    elif kind == "dtype":
        out = np.empty(shape, _other_float(dt))
    elif kind == "int":
        out = np.empty(shape, np.int64)
    elif kind == "noncontig" and len(shape):
        out = np.empty(tuple(2 * s + 1 for s in shape), dt)[(slice(1, None, 2),) * len(shape)]
    elif kind == "readonly":
        out = np.empty(shape, dt)
        out.setflags(write=False)
    elif kind == "list":
        out = np.zeros(shape).tolist()
    elif kind == "bcast" and len(shape):
        out = np.broadcast_to(np.empty((1,) + shape[1:], dt), shape)
    elif kind == "overlap":
        # a C-ordered input and out= sharing all but one element of one buffer
        cands = [k for k in case.alias + case.arrays
                 if isinstance(kw.get(k), np.ndarray) and kw[k].shape == shape and kw[k].size]
        if not cands:
            out = np.empty(shape, dt)
        else:
            key = cands[0]
            src = kw[key]
            base = np.empty(src.size + 1, src.dtype)
            base[:-1] = src.reshape(-1)
            kw[key] = base[:-1].reshape(shape)
            out = base[1:].reshape(shape)
    elif kind == "input":
        cands = [k for k in case.arrays if isinstance(kw.get(k), np.ndarray)]
        out = kw[cands[0]] if cands else None
    else:
        out = np.empty(shape, dt)
    kw[case.out_key] = out


def _bad_inplace(case):
    gen, kw = case.gen, case.kw
    key = gen.draw(st.sampled_from(case.inplace), label="in-place array")
    a = kw[key]
    kind = gen.draw(st.sampled_from(["readonly", "noncontig", "F", "alias", "list", "bcast"]),
                    label="bad in-place")
    if kind == "readonly":
        a = a.copy()
        a.setflags(write=False)
    elif kind == "noncontig" and a.ndim:
        big = np.zeros(tuple(2 * s + 1 for s in a.shape), a.dtype)
        view = big[(slice(1, None, 2),) * a.ndim]
        view[...] = a
        a = view
    elif kind == "F":
        a = np.asfortranarray(a)
    elif kind == "alias":
        others = [k for k in case.inplace if k != key and isinstance(kw.get(k), np.ndarray)]
        if others:
            a = kw[others[0]]
    elif kind == "list":
        a = a.tolist()
    elif kind == "bcast" and a.ndim and a.shape[0]:
        a = np.broadcast_to(a[:1], a.shape)
    kw[key] = a


def _bad_labels(case):
    gen, kw = case.gen, case.kw
    key = case.labels[0]
    lab = np.asarray(kw[key])
    kind = gen.draw(st.sampled_from(["float_int", "float_frac", "neg", "too_big", "bool",
                                     "column", "length", "uint8", "nan", "list", "2d"]),
                    label="bad labels")
    if kind == "float_int":
        lab = lab.astype(np.float64)
    elif kind == "float_frac":
        lab = lab + 0.5
    elif kind == "neg" and lab.size:
        lab = lab.astype(np.int64)
        lab[int(gen.rng.integers(lab.size))] = -1
    elif kind == "too_big" and lab.size:
        lab = lab.astype(np.int64)
        lab[int(gen.rng.integers(lab.size))] = 10**6
    elif kind == "bool":
        lab = lab.astype(bool)
    elif kind == "column":
        lab = lab.reshape(-1, 1)
    elif kind == "length":
        lab = np.concatenate([lab, lab[:1] if lab.size else [0]])
    elif kind == "uint8":
        lab = lab.astype(np.uint8)
    elif kind == "nan":
        lab = np.full(lab.shape, np.nan)
    elif kind == "list":
        lab = lab.tolist()
    elif kind == "2d":
        lab = np.stack([lab, lab], axis=1)
    kw[key] = lab


def maybe_out(case, allow_inplace=True):
    """Well-formed ``out=``: absent, a fresh C array, or (in place) the aliased input itself."""
    gen, kw = case.gen, case.kw
    choice = gen.draw(st.sampled_from(["none", "none", "fresh", "inplace"]), label="out")
    if choice == "fresh":
        kw[case.out_key] = np.full(case.out, np.nan, gen.dtype)
    elif choice == "inplace" and allow_inplace and case.alias:
        key = case.alias[0]
        a = kw.get(key)
        if isinstance(a, np.ndarray) and a.shape == tuple(case.out):
            if not (a.flags.writeable and a.flags.c_contiguous):
                kw[key] = a = a.copy()
            kw[case.out_key] = a


# ------------------------------------------------------------------------------ builders


def _act_scalars():
    return {"activation": ["nope", "RELU", 3, b"relu", None, "softmax"]}


def build_forward(gen, name):
    act = gen.draw(st.sampled_from(ACTS + ("silu", None)), label="act") \
        if name == "activation_forward" else name
    two_d = act == "softmax" or name in ("softmax", "log_softmax")
    shape = gen.shape(2) if two_d else gen.shape(gen.draw(st.integers(0, 3), label="ndim"))
    kw = {"x": gen.array(shape, -30, 30)}
    scal = {}
    if name == "activation_forward":
        kw["activation"] = act
        scal = _act_scalars()
    case = Case(gen, name, kw, arrays=["x"], scalars=scal, out=shape, alias=["x"])
    maybe_out(case)
    return case


def build_backward(gen, name):
    named = name != "activation_backward"  # relu_backward(grad, *, x, y, out) ...
    act = name[:-len("_backward")] if named else \
        gen.draw(st.sampled_from(ACTS + ("silu", None)), label="act")
    shape = gen.shape(2) if act == "softmax" else gen.shape(gen.draw(st.integers(1, 3)))
    kw = {"grad": gen.array(shape)} if named else {"grad": gen.array(shape), "activation": act}
    has = gen.draw(st.sampled_from(["x", "y", "xy"]), label="given")
    if "x" in has:
        kw["x"] = gen.array(shape, -10, 10)
    if "y" in has or act in (None, "linear"):
        lo, hi = {"sigmoid": (0, 1), "tanh": (-1, 1), "softmax": (0, 1)}.get(act, (-1, 5))
        kw["y"] = gen.array(shape, lo, hi)
    case = Case(gen, name, kw, arrays=["grad", "x", "y"], scalars={} if named else _act_scalars(),
                out=shape, alias=["grad"])
    if has == "y" and act in ("gelu", "swish", "silu"):
        gen.wellformed = False  # these need x: must raise, or be right anyway
    maybe_out(case)
    return case


def build_bias_act(gen, name):
    n, k = gen.shape(2)
    kw = {"z": gen.inplace((n, k), -10, 10),
          "bias": gen.array((k,), layout="C") if gen.coin(0.8) else None,
          "code": int(gen.rng.integers(len(ACTS)))}
    return Case(gen, name, kw, arrays=["z", "bias"], inplace=["z"],
                scalars={"code": [-1, len(ACTS), 1.0, "relu", None]})


def build_bias_grad(gen, name):
    shape = gen.shape(2)
    case = Case(gen, name, {"grad": gen.array(shape)}, arrays=["grad"], out=(shape[1],))
    maybe_out(case)
    return case


def build_activation_code(gen, name):
    valid = list(ACTS) + ["silu", None]
    value = gen.draw(st.sampled_from(valid + ["Relu", "", "nope", 1, 1.5, b"relu", ["relu"],
                                              ("relu",), object()]))
    gen.wellformed = any(value is v or (isinstance(value, str) and value == v) for v in valid)
    return Case(gen, name, {"name": value})


def build_matmul(gen, name):
    m, k, n = gen.shape(3)
    ta, tb = gen.coin(), gen.coin()
    kw = {"a": gen.array((k, m) if ta else (m, k)), "b": gen.array((n, k) if tb else (k, n)),
          "transpose_a": ta, "transpose_b": tb}
    case = Case(gen, name, kw, arrays=["a", "b"], out=(m, n),
                scalars={"transpose_a": [0, 1, None], "transpose_b": [0, 1, None]})
    maybe_out(case, allow_inplace=False)
    return case


def build_dense(gen, name):
    n, d, u = gen.shape(3)
    kw = {"x": gen.array((n, d)), "kernel": gen.array((d, u)),
          "bias": gen.array((u,)) if gen.coin(0.8) else None,
          "activation": gen.draw(st.sampled_from(ACTS + ("silu", None)))}
    case = Case(gen, name, kw, arrays=["x", "kernel", "bias"], out=(n, u), scalars=_act_scalars())
    maybe_out(case, allow_inplace=False)
    return case


def _weights(gen, n, kw):
    if gen.coin(0.4):
        # the inputs' float dtype or integers (a float of the other dtype is a mutation)
        kw["sample_weight"] = gen.rng.uniform(0, 2, n).astype(gen.draw(
            st.sampled_from([gen.dtype, np.int64])))
        if gen.special == "extreme" and n and kw["sample_weight"].dtype.kind == "f":
            kw["sample_weight"][0] = np.nan  # (0 * nan terms: only the structure is compared)


_SMOOTH = {"label_smoothing": [-0.1, 1.5, 2]}
_EPS = {"epsilon": [0.5, 0.7, -1e-9]}


def build_softmax_xent(gen, name):
    n, c = gen.dim(), gen.dim(low=1)
    kw = {"logits": gen.array((n, c), -20, 20)}
    if name == "softmax_cross_entropy":
        kw["labels"] = gen.rng.integers(0, c, n).astype(gen.draw(
            st.sampled_from([np.intp, np.int32, np.uint16, np.int8])))
        labels = ["labels"]
    else:
        t = gen.rng.dirichlet(np.ones(c), n) if n else np.zeros((0, c))
        kw["targets"] = gen.array((n, c), values=t)
        labels = []
    if gen.coin():
        kw["label_smoothing"] = float(gen.pick([0.0, 0.1, 1.0]))
    _weights(gen, n, kw)
    case = Case(gen, name, kw, arrays=["logits", "targets", "sample_weight"], out=(n, c),
                alias=["logits"], scalars=_SMOOTH, result_out=1, labels=labels)
    maybe_out(case)
    return case


def build_probs_xent(gen, name):
    n, c = gen.shape(2, low=1)
    kw = {"probs": gen.array((n, c), 0, 1)}
    if gen.coin():
        kw["targets"] = gen.rng.integers(0, c, n)
        labels = ["targets"]
    else:
        kw["targets"] = gen.array((n, c), values=gen.rng.dirichlet(np.ones(c), n))
        labels = []
    if gen.coin():
        kw["epsilon"] = float(gen.pick([0.0, 1e-7, 0.25]))
    _weights(gen, n, kw)
    case = Case(gen, name, kw, arrays=["probs", "sample_weight"] + ([] if labels else ["targets"]),
                out=(n, c), alias=["probs"], scalars=_EPS, result_out=1, labels=labels)
    maybe_out(case)
    return case


def _pred_target(gen, low, high, tlow, thigh):
    n = gen.dim()
    single = gen.coin()
    shape = (n,) if single and gen.coin() else (n, 1 if single else gen.dim())
    tshape = shape
    if single and gen.coin():
        tshape = (n,) if len(shape) == 2 else (n, 1)
    return shape, gen.array(shape, low, high), gen.array(tshape, tlow, thigh)


def build_elementwise_loss(gen, name):
    if name in ("sigmoid_cross_entropy", "binary_cross_entropy"):
        lo, hi = (-20, 20) if name == "sigmoid_cross_entropy" else (0, 1)
        shape, p, t = _pred_target(gen, lo, hi, 0, 1)
        first = "logits" if name == "sigmoid_cross_entropy" else "probs"
        second = "targets"
    else:
        shape, p, t = _pred_target(gen, -5, 5, -5, 5)
        first, second = "pred", "target"
    kw = {first: p, second: t}
    scal = {}
    if name in ("sigmoid_cross_entropy", "binary_cross_entropy"):
        scal.update(_SMOOTH)
        if gen.coin():
            kw["label_smoothing"] = float(gen.pick([0.0, 0.2, 1.0]))
    if name == "binary_cross_entropy":
        scal.update(_EPS)
    if name == "huber_loss":
        scal["delta"] = [0.0, -1.0, float("inf")]
        if gen.coin():
            kw["delta"] = float(gen.pick([0.1, 1.0, 3.0]))
    _weights(gen, shape[0], kw)
    case = Case(gen, name, kw, arrays=[first, second, "sample_weight"], out=shape, alias=[first],
                scalars=scal, result_out=1)
    maybe_out(case)
    return case


def build_norm_forward(gen, name):
    low = (1, 0) if name.startswith("batch") else (0, 1)
    n, d = gen.dim(low[0]), gen.dim(low[1])
    # (no broadcast x: a column of equal values has variance 0 exactly or 1e-33, whose
    # 1/sqrt at epsilon=0 is inf or 3e16 depending on the summation order)
    kw = {"x": gen.array((n, d), -10, 10, avoid=("bcast",)), "gamma": gen.array((d,)),
          "beta": gen.array((d,))}
    arrays = ["x", "gamma", "beta"]
    if name == "batch_norm_inference":
        kw["moving_mean"] = gen.array((d,))
        kw["moving_variance"] = gen.array((d,), 0, 4)
        arrays += ["moving_mean", "moving_variance"]
    if gen.coin():
        kw["epsilon"] = float(gen.pick([0.0, 1e-5, 1.0]))
    case = Case(gen, name, kw, arrays=arrays, out=(n, d), alias=["x"],
                scalars={"epsilon": [-1e-3]},
                result_out=None if name == "batch_norm_inference" else 0)
    maybe_out(case)
    return case


def build_norm_backward(gen, name):
    n, d = gen.shape(2, low=1)
    s = d if name.startswith("batch") else n
    kw = {"grad": gen.array((n, d)), "x": gen.array((n, d)), "gamma": gen.array((d,)),
          "mean": gen.array((s,)), "inv_std": gen.array((s,), 0.1, 3)}
    case = Case(gen, name, kw, arrays=list(kw), out=(n, d), alias=["grad"], result_out=0)
    maybe_out(case)
    return case


def build_dropout_forward(gen, name):
    shape = gen.shape(gen.draw(st.integers(0, 3)))
    kw = {"x": gen.array(shape), "rate": float(gen.pick([0.0, 0.1, 0.5, 0.99])),
          "seed": int(gen.pick([0, 1, 2**63, 2**64 - 1, int(gen.rng.integers(2**62))]))}
    case = Case(gen, name, kw, arrays=["x"], out=shape, alias=["x"], result_out=0,
                scalars={"rate": [1.0, -0.5, 1.5], "seed": [-1, 2**64, 1.0, "1", np.uint64(7)]})
    maybe_out(case)
    if gen.coin(0.3):  # mask= : a fresh array, or (broken) something else
        if gen.coin(0.7):
            kw["mask"] = np.empty(shape, gen.dtype)
        else:
            gen.wellformed = False
            kw["mask"] = kw.get("out") if kw.get("out") is not None else np.empty(shape, np.float16)
    return case


def build_dropout_backward(gen, name):
    shape = gen.shape(gen.draw(st.integers(0, 3)))
    mask = gen.rng.choice([0.0, 2.0], size=shape)
    kw = {"grad": gen.array(shape), "mask": gen.array(shape, values=mask)}
    case = Case(gen, name, kw, arrays=["grad", "mask"], out=shape, alias=["grad"])
    maybe_out(case)
    return case


def build_gather(gen, name):
    shape = gen.shape(gen.draw(st.integers(1, 3)))
    n = shape[0]
    m = gen.dim() if n else 0
    idx = gen.rng.integers(0, n, m)
    kw = {"x": gen.array(shape), "indices": idx.astype(gen.draw(
        st.sampled_from([np.int64, np.int32, np.uint8 if n < 256 else np.int64, np.intp])))}
    if gen.coin(0.2):
        kw["indices"] = kw["indices"].tolist()
    case = Case(gen, name, kw, arrays=["x"], out=(m,) + shape[1:], labels=["indices"])
    maybe_out(case, allow_inplace=False)
    return case


def _hyper_scalars(*names):
    return {n: [-0.1, float("nan"), float("inf")] for n in names}


def build_scale_add(gen, name):
    shape = gen.shape(gen.draw(st.integers(0, 3)))
    kw = {"y": gen.inplace(shape), "x": gen.array(shape), "alpha": float(gen.rng.normal())}
    if gen.coin(0.15):
        kw["x"] = kw["y"]  # documented: x may be y itself
    return Case(gen, name, kw, arrays=["y", "x"], inplace=["y"],
                scalars={"alpha": [float("nan"), float("inf")]})


def build_clip_value(gen, name):
    shape = gen.shape(gen.draw(st.integers(0, 3)))
    kw = {"grad": gen.inplace(shape), "clip_value": float(gen.pick([0.0, 0.5, 2.0, np.inf]))}
    return Case(gen, name, kw, arrays=["grad"], inplace=["grad"],
                scalars=_hyper_scalars("clip_value"))


def build_clip_norm(gen, name):
    shape = gen.shape(gen.draw(st.integers(0, 3)))
    kw = {"grad": gen.inplace(shape), "max_norm": float(gen.pick([0.0, 0.5, 5.0, np.inf]))}
    return Case(gen, name, kw, arrays=["grad"], inplace=["grad"],
                scalars=_hyper_scalars("max_norm"))


def _array_list(gen, inplace):
    k = int(gen.rng.integers(0, 4))
    arrays = [(gen.inplace if inplace else gen.array)(gen.shape(gen.draw(st.integers(0, 3))))
              for _ in range(k)]
    if not inplace and k == 1 and gen.coin():
        return arrays[0]
    return arrays if gen.coin(0.7) else tuple(arrays)


def build_global_norm(gen, name):
    arrays = _array_list(gen, inplace=False)
    return Case(gen, name, {"arrays": arrays}, scalars={"arrays": [3.0, "x", [[1.0], "a"]]})


def build_clip_global(gen, name):
    kw = {"arrays": _array_list(gen, inplace=True),
          "max_norm": float(gen.pick([0.0, 0.5, 5.0, np.inf]))}
    case = Case(gen, name, kw, scalars={**_hyper_scalars("max_norm"), "arrays": [3.0, None]})
    if kw["arrays"] and gen.coin(0.3):  # one entry broken: read-only, a copy, aliased, a dtype
        gen.wellformed = False
        arrays = list(kw["arrays"])
        kind = gen.draw(st.sampled_from(["readonly", "alias", "dtype", "list", "noncontig"]))
        a = arrays[0]
        if kind == "readonly":
            a = a.copy()
            a.setflags(write=False)
        elif kind == "alias":
            arrays.append(a)
        elif kind == "dtype":
            with np.errstate(over="ignore"):
                a = a.astype(_other_float(gen.dtype) if gen.coin() else np.float16)
        elif kind == "list":
            a = a.tolist()
        elif kind == "noncontig" and a.ndim and a.size > 1:
            a = np.repeat(a, 2, axis=-1)[..., ::2]
        arrays[0] = a
        kw["arrays"] = arrays
    return case


def build_sgd(gen, name):
    shape = gen.shape(gen.draw(st.integers(0, 3)))
    mu = float(gen.pick([0.0, 0.0, 0.9]))
    kw = {"param": gen.inplace(shape), "grad": gen.array(shape),
          "learning_rate": float(gen.pick([0.0, 0.01, 1.0])), "momentum": mu,
          "nesterov": bool(mu and gen.coin()), "weight_decay": float(gen.pick([0.0, 1e-3]))}
    inplace = ["param"]
    if mu:
        kw["momentum_buffer"] = gen.inplace(shape)
        inplace.append("momentum_buffer")
    elif gen.coin(0.3):
        kw["momentum_buffer"] = gen.inplace(shape)  # ignored without momentum
    if gen.coin(0.1):
        kw["grad"] = kw["param"]  # the gradient may alias the parameter (it is copied)
    return Case(gen, name, kw, arrays=["param", "grad", "momentum_buffer"], inplace=inplace,
                scalars={**_hyper_scalars("learning_rate", "momentum", "weight_decay"),
                         "nesterov": [1, "yes", None]})


def build_rmsprop(gen, name):
    shape = gen.shape(gen.draw(st.integers(0, 3)))
    mu = float(gen.pick([0.0, 0.5]))
    kw = {"param": gen.inplace(shape), "grad": gen.array(shape),
          "square_avg": gen.inplace(shape, 0, 2), "learning_rate": 0.01,
          "rho": float(gen.pick([0.0, 0.9])), "epsilon": float(gen.pick([0.0, 1e-8])),
          "momentum": mu, "weight_decay": float(gen.pick([0.0, 1e-2]))}
    inplace = ["param", "square_avg"]
    if mu:
        kw["momentum_buffer"] = gen.inplace(shape)
        inplace.append("momentum_buffer")
    return Case(gen, name, kw, arrays=["param", "grad", "square_avg", "momentum_buffer"],
                inplace=inplace,
                scalars={**_hyper_scalars("learning_rate", "epsilon", "momentum", "weight_decay"),
                         "rho": [1.0, -0.5, float("nan")]})


def build_adam(gen, name):
    shape = gen.shape(gen.draw(st.integers(0, 3)))
    kw = {"param": gen.inplace(shape), "grad": gen.array(shape), "m": gen.inplace(shape),
          "v": gen.inplace(shape, 0, 2),
          "step": int(gen.pick([1, 2, 10, 2**40, 2**70])), "learning_rate": 0.001,
          "beta_1": float(gen.pick([0.0, 0.9])), "beta_2": float(gen.pick([0.0, 0.999])),
          "epsilon": 1e-8, "weight_decay": float(gen.pick([0.0, 0.01])),
          "decoupled": gen.coin()}
    return Case(gen, name, kw, arrays=["param", "grad", "m", "v"], inplace=["param", "m", "v"],
                scalars={**_hyper_scalars("learning_rate", "epsilon", "weight_decay"),
                         "beta_1": [1.0, -0.1], "beta_2": [1.0, 2.0], "step": [0, -1, 1.0, "1"],
                         "decoupled": [1, None, "no"]})


BUILDERS = {
    **{n: build_forward for n in ("activation_forward", "linear", "relu", "leaky_relu", "elu", "sigmoid",
                                  "tanh", "gelu", "swish", "silu", "softplus", "softmax",
                                  "log_softmax")},
    **{n: build_backward for n in ("activation_backward",
                                   *(f"{a}_backward" for a in (*ACTS, "silu")))},
    "bias_activation_inplace": build_bias_act,
    "bias_grad": build_bias_grad,
    "activation_code": build_activation_code,
    "matmul": build_matmul,
    "dense_forward": build_dense,
    "softmax_cross_entropy": build_softmax_xent,
    "categorical_cross_entropy": build_softmax_xent,
    "cross_entropy_from_probs": build_probs_xent,
    **{n: build_elementwise_loss for n in ("sigmoid_cross_entropy", "binary_cross_entropy",
                                           "mse_loss", "mae_loss", "huber_loss")},
    **{n: build_norm_forward for n in ("batch_norm_forward", "batch_norm_inference",
                                       "layer_norm_forward")},
    **{n: build_norm_backward for n in ("batch_norm_backward", "layer_norm_backward")},
    "dropout_forward": build_dropout_forward,
    "dropout_backward": build_dropout_backward,
    "gather_rows": build_gather,
    "scale_add": build_scale_add,
    "clip_by_value": build_clip_value,
    "clip_by_norm": build_clip_norm,
    "global_norm": build_global_norm,
    "clip_by_global_norm": build_clip_global,
    "sgd_update": build_sgd,
    "rmsprop_update": build_rmsprop,
    "adam_update": build_adam,
}
#: The public names that are not functions.
NOT_CALLABLE = {"ACTIVATIONS"}


# ------------------------------------------------------------------------------ checking


def _snapshot(value):
    """An independent copy of an argument (arrays copied, lists of arrays copied one by one).

    NumPy scalars become Python numbers, as the ops take them (``float(value)``): the NumPy
    twins would otherwise compute in float32 around a ``np.float32`` hyperparameter.
    """
    if isinstance(value, np.generic) and not isinstance(value, np.bool_):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)) and any(isinstance(v, np.ndarray) for v in value):
        return type(value)(v.copy() if isinstance(v, np.ndarray) else v for v in value)
    return value


def _tol(dtype):
    """(rtol, atol) of a result of ``dtype`` against the float64 reference."""
    return (2e-4, 1e-5) if dtype == np.float32 else (1e-9, 1e-11)


def assert_matches(got, want, dtype, what, *, scale=1.0, nonfinite_ok=False, big=False):
    """``got`` equals the reference ``want`` (arrays: shape, dtype, values; NaN == NaN).

    ``dtype`` sets the tolerance (None: compare the structure only), ``scale`` the magnitude of
    the inputs (absolute errors grow with it). With ``nonfinite_ok`` (the inputs held NaN or
    inf) a non-finite reference value only needs a non-finite result: whether inf - inf or
    0 * inf comes first decides between NaN and inf, and both say "not a number any more".
    A finite reference value always needs a close finite result, except with ``big`` inputs
    (1e5 in float32, 1e40 in float64, up to seven of them multiplied in one result): their
    products cancel (batch-norm backward: gamma·inv_std·xhat·dgamma), so the digits depend on
    the summation order and only "a finite reference value stays finite" (no spurious
    overflow, no NaN) is checked.
    """
    if want is None or isinstance(want, (str, bool)):
        assert got == want, what
        return
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), what
        for i, (g, w) in enumerate(zip(got, want)):
            assert_matches(g, w, dtype, f"{what}[{i}]", scale=scale, nonfinite_ok=nonfinite_ok,
                           big=big)
        return
    if isinstance(want, numbers.Number) and not isinstance(want, np.ndarray):
        assert isinstance(got, numbers.Number), f"{what}: {got!r} is not a number"
    else:
        assert isinstance(got, np.ndarray), f"{what}: {type(got).__name__} is not an ndarray"
        assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
        assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if dtype is None:
        return
    g = np.asarray(got, np.float64)
    w = np.asarray(want, np.float64)
    if big:
        ok = ~np.isfinite(w) | np.isfinite(g)
        assert np.all(ok), f"{what}: finite reference values became {g[~ok][:5]}"
        return
    rtol, atol = _tol(dtype)
    finite = w[np.isfinite(w)]
    scale = max(scale, float(np.max(np.abs(finite)))) if finite.size else scale
    ok = np.isclose(g, w, rtol=rtol, atol=atol * scale, equal_nan=True)
    if nonfinite_ok:
        ok |= ~np.isfinite(w) & ~np.isfinite(g)
    assert np.all(ok), (f"{what}: differs from the reference at {np.argwhere(~ok)[:5].tolist()}: "
                        f"got {g[~ok][:5]}, reference {w[~ok][:5]}")


def _input_stats(snap):
    """``(largest finite magnitude (at least 1), any non-finite value?)`` of the float inputs."""
    top, nonfinite = 1.0, False
    for v in snap.values():
        for a in (v if isinstance(v, (list, tuple)) else [v]):
            try:
                with np.errstate(all="ignore"):
                    a = np.asarray(a, np.float64) if isinstance(a, (np.ndarray, list)) else None
            except (TypeError, ValueError):  # ragged lists, objects: not inputs we compare
                continue
            if a is not None and a.size:
                finite = np.isfinite(a)
                nonfinite |= not finite.all()
                f = np.abs(a[finite])
                top = max(top, float(f.max())) if f.size else top
    return top, nonfinite


def _dtype_of(case):
    dts = [np.asarray(v).dtype for v in case.kw.values()
           if isinstance(v, np.ndarray) and v.dtype in FLOATS]
    return np.dtype(np.float32) if np.dtype(np.float32) in dts or not dts else np.dtype(np.float64)


def run(case):
    """Call the op; it must raise ValueError/TypeError or agree with the reference."""
    name, kw = case.name, case.kw
    outs = ("out", "mask") if name == "dropout_forward" else ("out",)
    snap = {k: _snapshot(v) for k, v in kw.items() if k not in outs}
    try:
        got = getattr(K, name)(**kw)
    except (ValueError, TypeError) as exc:
        if case.gen.wellformed:
            raise AssertionError(f"{name} rejected a well-formed call: {exc!r}") from exc
        return "raised"
    with np.errstate(all="ignore"):
        try:
            want = getattr(R, name)(**snap)
        except Exception as exc:  # the op accepted what its specification cannot compute
            raise AssertionError(f"{name} returned a result for a call its reference rejects: "
                                 f"{type(exc).__name__}: {exc}") from exc
    dtype = _dtype_of(case)
    if case.gen.special == "extreme":  # overflowing intermediates: values are not comparable
        dtype = None
    scale, nonfinite = _input_stats(snap)
    big = case.gen.special == "big"
    how = dict(scale=scale, nonfinite_ok=nonfinite, big=big)
    assert_matches(got, want, dtype, f"{name} result", **how)
    out = kw.get(case.out_key)
    if out is not None:
        res = got if case.result_out is None else got[case.result_out]
        assert res is out, f"{name} did not return its out= array"
    if name == "dropout_forward" and kw.get("mask") is not None:
        assert got[1] is kw["mask"], f"{name} did not return its mask= array"
    for key in case.inplace:
        assert_matches(kw[key], snap[key], dtype, f"{name} in-place {key}", **how)
    if name == "clip_by_global_norm":
        assert_matches(list(kw["arrays"]), list(snap["arrays"]), dtype, f"{name} in-place arrays",
                       **how)
    if name == "bias_activation_inplace":
        assert got is kw["z"]
    return "returned"


# ------------------------------------------------------------------------------ tests


def test_every_public_op_has_a_builder():
    public = set(K.__all__) - NOT_CALLABLE
    assert public == set(BUILDERS), (sorted(public - set(BUILDERS)), sorted(set(BUILDERS) - public))
    for name in public:
        assert hasattr(R, name), f"nnfast.reference has no twin of {name}"


@pytest.mark.parametrize("name", sorted(BUILDERS))
@given(data=st.data())
def test_op_returns_reference_result_or_raises(name, data):
    gen = Gen(data)
    case = BUILDERS[name](gen, name)
    mutate(case)
    run(case)


f32 = np.float32
HUGE_CALLS = {
    "relu": lambda: K.relu(np.empty((0, HUGE), f32)),
    "gelu": lambda: K.activation_forward(np.empty((HUGE, 0)), "gelu"),
    "softmax": lambda: K.softmax(np.empty((0, HUGE), f32)),
    "log_softmax": lambda: K.log_softmax(np.empty((0, HUGE))),
    "softmax_backward": lambda: K.activation_backward(np.empty((0, HUGE)), "softmax",
                                                      y=np.empty((0, HUGE))),
    "bias_grad": lambda: K.bias_grad(np.empty((HUGE, 0), f32)),
    "matmul_m0": lambda: K.matmul(np.empty((0, HUGE), f32), np.broadcast_to(f32(1), (HUGE, 3))),
    "matmul_n0": lambda: K.matmul(np.empty((HUGE, 0)), np.empty((0, 0))),
    "matmul_k0": lambda: K.matmul(np.empty((0, HUGE)), np.empty((0, 0)), transpose_a=True),
    "dense_forward": lambda: K.dense_forward(np.empty((0, HUGE), f32),
                                             np.broadcast_to(f32(1), (HUGE, 2)), np.zeros(2, f32)),
    "softmax_cross_entropy": lambda: K.softmax_cross_entropy(np.empty((0, HUGE), f32),
                                                             np.empty(0, np.int64)),
    "mse_loss": lambda: K.mse_loss(np.empty((0, HUGE)), np.empty((0, HUGE))),
    "batch_norm_forward": lambda: K.batch_norm_forward(np.empty((HUGE, 0)), np.empty(0),
                                                       np.empty(0)),
    "dropout_forward": lambda: K.dropout_forward(np.empty((0, HUGE), f32), 0.5, 1),
    "gather_rows": lambda: K.gather_rows(np.empty((HUGE, 0), f32), [0, HUGE - 1, 7]),
    "global_norm": lambda: K.global_norm([np.empty((0, HUGE)), np.empty((HUGE, 0))]),
    "adam_update": lambda: K.adam_update(*(np.empty((0, HUGE)) for _ in range(4)), step=1,
                                         learning_rate=0.1),
}


@pytest.mark.parametrize("name", sorted(HUGE_CALLS))
def test_huge_but_empty_shapes_are_cheap(name):
    """Shapes like (0, 10**9) cost nothing: no allocation, no loop, a result of the right shape."""
    result = HUGE_CALLS[name]()
    arrays = [r for r in (result if isinstance(result, tuple) else (result,))
              if isinstance(r, np.ndarray)]
    assert all(a.size == 0 for a in arrays)


def test_huge_index_is_checked_against_huge_rows():
    x = np.empty((HUGE, 0), np.float32)
    with pytest.raises(ValueError, match="indices"):
        K.gather_rows(x, [0, HUGE])
    with pytest.raises(ValueError, match="indices"):
        K.gather_rows(x, [-1])


def test_dimensions_beyond_blas_int_are_refused():
    a = np.broadcast_to(np.float32(1), (1, 2**31))
    b = np.broadcast_to(np.float32(1), (2**31, 1))
    with pytest.raises(ValueError, match="2\\*\\*31"):
        K.matmul(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_of_minus_infinity_is_zero(dtype):
    """x·Phi(x) underflows to 0 below -40 (was -inf at -inf, nan in float64); the derivative too."""
    x = np.array([-np.inf, -np.finfo(dtype).max, -40.0], dtype)
    np.testing.assert_array_equal(K.gelu(x), np.zeros(3, dtype))
    np.testing.assert_array_equal(nf.reference.gelu(x), np.zeros(3))
    g = np.ones(3, dtype)
    np.testing.assert_array_equal(K.activation_backward(g, "gelu", x=x), np.zeros(3, dtype))


@pytest.mark.parametrize("call", [
    lambda: K.relu(None),
    lambda: K.matmul(np.ones((2, 2)), None),
    lambda: K.mse_loss(None, np.ones(2)),
    lambda: K.layer_norm_forward(np.ones((2, 2)), None, np.ones(2)),
    lambda: K.sgd_update(np.ones(2), None, learning_rate=0.1),
], ids=["relu", "matmul", "mse_loss", "layer_norm_forward", "sgd_update"])
def test_a_missing_array_is_a_type_error(call):
    """None where an array is required: TypeError naming it (was StopIteration/AttributeError)."""
    with pytest.raises(TypeError, match="=None"):
        call()


def test_bias_epilogue_checks_survive_python_dash_o():
    """``bias_activation_inplace`` checks with real errors, not asserts ``python -O`` removes
    (a short bias was a heap over-read of the kernel under -O)."""
    import subprocess
    import sys

    code = ("import numpy as np, nnfast as nf\n"
            "z = np.zeros((4, 1000), np.float32)\n"
            "try:\n"
            "    nf.kernels.bias_activation_inplace(z, np.zeros(1, np.float32), 1)\n"
            "except ValueError as e:\n"
            "    print('ValueError', e)\n")
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.startswith("ValueError Expected bias of shape (1000,)"), out.stdout
