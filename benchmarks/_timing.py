"""Interleaved timing for side-by-side comparisons on a noisy, shared machine.

Every candidate runs once per round, in turn, for several rounds; we report each one's median
and best time and its ratio to a baseline. Interleaving spreads background noise evenly over the
candidates, so ratios taken in one run are meaningful even when absolute times drift.

Run benchmarks with the OpenBLAS tuning variables unset, e.g.
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_kernels.py``.
"""

import statistics
import time


def time_call(fn, min_time=0.2):
    """Seconds per call of ``fn()``: loops until ``min_time`` has passed, returns the mean."""
    fn()
    n, elapsed = 0, 0.0
    t0 = time.perf_counter()
    while elapsed < min_time:
        fn()
        n += 1
        elapsed = time.perf_counter() - t0
    return elapsed / n


def compare(candidates, *, rounds=7, min_time=0.2, baseline=None, settle=0.15):
    """Time ``candidates`` ({name: zero-arg callable}) interleaved; return rows of results.

    Each row: ``name, median_s, best_s, speedup`` where speedup = baseline median / median
    (>1 means faster than the baseline; baseline defaults to the first candidate).

    ``min_time`` seconds per sample: on the 2-vCPU VMs these run on, an idle second core runs
    slowly for the first ~20 ms after the settle pause (2-thread adam_update on 1M floats:
    median 381 us over 20 ms samples, 153 us over 0.2 s ones, one process), while a training
    loop keeps its cores busy.

    ``settle`` seconds of sleep before each candidate let the previous one's worker threads
    (OpenBLAS's spin for ~0.1 s after a call; NumPy and SciPy each load their own OpenBLAS,
    torch its own OpenMP) go idle, so no candidate pays for its predecessor's spinning pool.
    """
    names = list(candidates)
    samples = {n: [] for n in names}
    for _ in range(rounds):
        for n in names:
            time.sleep(settle)
            samples[n].append(time_call(candidates[n], min_time))
    base = baseline or names[0]
    base_med = statistics.median(samples[base])
    rows = []
    for n in names:
        med = statistics.median(samples[n])
        rows.append((n, med, min(samples[n]), base_med / med))
    return rows


def format_rows(title, rows, baseline_name=None):
    """A small text table: median, best, speed relative to the baseline."""
    lines = [title, f"  {'candidate':<34}{'median':>12}{'best':>12}{'speed vs ' + (baseline_name or rows[0][0]):>24}"]
    for name, med, best, ratio in rows:
        lines.append(f"  {name:<34}{_fmt(med):>12}{_fmt(best):>12}{ratio:>23.2f}x")
    return "\n".join(lines)


def _fmt(s):
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"
