#!/usr/bin/env bash
# Run nnfast's kernel tests under AddressSanitizer, in a fresh clone under /tmp.
#
#   tools/asan.sh                      # tests/kernels (the default)
#   tools/asan.sh tests/kernels tests/robustness/test_fuzz_ops.py -k matmul
#
# What it does:
#   1. clones the repository (its committed HEAD) into a new folder under ${TMPDIR:-/tmp}:
#      the in-place .so files of the checkout you run it from are never touched, so people
#      working in that tree are not disturbed;
#   2. installs Cython into that folder only (pip --target; the environment is not changed) and
#      builds the extensions in the clone with NNFAST_SANITIZE=address, which setup.py turns
#      into -fsanitize=address -fno-omit-frame-pointer -O1 -g;
#   3. runs pytest in the clone with the ASan runtime preloaded. CPython itself is not built
#      with ASan, so the runtime must be loaded before anything else (LD_PRELOAD), or the
#      first instrumented extension would abort with "ASan runtime does not come first";
#   4. fails (exit 1) if pytest fails OR if ASan wrote any report, even one that pytest
#      survived.
#
# ASAN_OPTIONS:
#   detect_leaks=0   CPython does not free everything at exit (interned strings, static types,
#                    module state, NumPy's caches): LeakSanitizer would report thousands of
#                    "leaks" that are not ours and bury real reports. Leaks are tested
#                    separately (tests/robustness/test_leaks.py measures RSS growth).
#   allocator_may_return_null=1
#                    a test that asks NumPy for an impossible array expects MemoryError;
#                    without this ASan would abort instead of returning NULL.
#   log_path         every report also goes to a file, so a report is never lost in
#                    pytest's captured output; any such file fails the run.
# PYTHONMALLOC=malloc sends Python's small objects through malloc too, so ASan sees them.
#
# Environment: PYTHON (default: the checkout's .venv/bin/python if there is one, else python
# on PATH; it needs numpy, scipy, setuptools, pytest and hypothesis), ASAN_KEEP=1 keeps the
# clone for inspection, ASAN_JOBS (default 2) parallel compile jobs.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO=$(git -C "$HERE" rev-parse --show-toplevel)
if [[ -z "${PYTHON:-}" ]]; then  # the checkout's virtual environment, else python on PATH
    PYTHON=python
    [[ -x "$REPO/.venv/bin/python" ]] && PYTHON="$REPO/.venv/bin/python"
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nnfast-asan.XXXXXX")
CLONE="$WORK/nnfast"
REPORTS="$WORK/reports"
mkdir -p "$REPORTS"

cleanup() {
    if [[ "${ASAN_KEEP:-0}" == 1 ]]; then
        echo "asan.sh: kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

LIBASAN=$(gcc -print-file-name=libasan.so)
if [[ ! -e "$LIBASAN" ]]; then
    echo "asan.sh: gcc has no libasan.so (install libasan / gcc's sanitizer runtime)" >&2
    exit 2
fi

echo "asan.sh: cloning $REPO ($(git -C "$REPO" rev-parse --short HEAD)) into $CLONE"
git clone --quiet --no-hardlinks "$REPO" "$CLONE"

echo "asan.sh: installing Cython into $WORK/buildtools"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$WORK/buildtools" "Cython>=3.0"

echo "asan.sh: building the extensions with AddressSanitizer (a few minutes)"
(
    cd "$CLONE"
    NNFAST_SANITIZE=address PYTHONPATH="$WORK/buildtools" \
        "$PYTHON" setup.py --quiet build_ext --inplace --parallel "${ASAN_JOBS:-2}" \
        > "$WORK/build.log" 2>&1
) || { tail -n 40 "$WORK/build.log" >&2; echo "asan.sh: build failed" >&2; exit 2; }
for so in "$CLONE"/nnfast/_kernels/*.so; do
    if ! nm -D "$so" | grep " U __asan_init" > /dev/null; then  # no -q: nm must not get SIGPIPE
        echo "asan.sh: $so is not instrumented (NNFAST_SANITIZE ignored?)" >&2
        exit 2
    fi
done

if [[ $# -eq 0 ]]; then
    set -- tests/kernels
fi

cd "$CLONE"
# Self-check: a deliberate 64-byte read of a 16-byte NumPy buffer must produce a report, or
# a clean run below would prove nothing (runtime not loaded, reports not written).
env LD_PRELOAD="$LIBASAN" ASAN_OPTIONS="detect_leaks=0:log_path=$WORK/selfcheck" \
    PYTHONMALLOC=malloc "$PYTHON" -c "import ctypes, numpy as np
a = np.empty(16, np.uint8); ctypes.string_at(a.ctypes.data, 64)" > /dev/null 2>&1 || true
if ! compgen -G "$WORK/selfcheck*" > /dev/null; then
    echo "asan.sh: ASan did not catch a deliberate overflow: the runtime is not working" >&2
    exit 2
fi

echo "asan.sh: running pytest $* under ASan"
status=0
env LD_PRELOAD="$LIBASAN" \
    ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:log_path=$REPORTS/asan" \
    PYTHONMALLOC=malloc PYTHONPATH="$CLONE" PYTHONDONTWRITEBYTECODE=1 \
    "$PYTHON" -c "import nnfast; assert nnfast.__file__.startswith('$CLONE'), nnfast.__file__" \
    || { echo "asan.sh: the clone's nnfast is not the one imported" >&2; exit 2; }
env LD_PRELOAD="$LIBASAN" \
    ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:log_path=$REPORTS/asan" \
    PYTHONMALLOC=malloc PYTHONPATH="$CLONE" PYTHONDONTWRITEBYTECODE=1 \
    "$PYTHON" -m pytest -q -p no:cacheprovider "$@" || status=$?

if compgen -G "$REPORTS/asan*" > /dev/null; then
    echo "asan.sh: AddressSanitizer reported errors:" >&2
    cat "$REPORTS"/asan* >&2
    exit 1
fi
if [[ $status -ne 0 ]]; then
    echo "asan.sh: pytest failed (exit $status), no ASan report" >&2
    exit "$status"
fi
echo "asan.sh: OK, no AddressSanitizer report"
