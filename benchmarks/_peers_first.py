"""Import torch before nnfast in the training benchmark, so torch runs as its users get it.

``import nnfast`` sets ``OMP_WAIT_POLICY=PASSIVE`` and ``GOMP_SPINCOUNT=1000`` (unless the user
set them), and libgomp reads both when it first loads. A process holds one libgomp (torch's
``libgomp.so.1`` and the system's share the soname), so whoever imports first sets the policy
for both: torch first keeps torch's defaults (workers spin ~10 ms after a region), which is
fair to torch (issue 4: its fused-Adam epoch at batch 32 on 2 threads ran at 16k samples/s
under PASSIVE on the Zen 5 VM) and nnfast's harder case. The kernel benchmarks import nnfast
first: there nnfast's kernels run as configured.
"""

try:
    import torch  # noqa: F401
except ImportError:  # torch is optional: its rows are skipped
    torch = None
