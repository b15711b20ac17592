"""Import the peers' OpenMP runtimes before nnfast's, so each starts under its own defaults.

``import nnfast`` sets ``OMP_WAIT_POLICY=PASSIVE`` and ``GOMP_SPINCOUNT=1000`` (unless the user
set them), and libgomp reads both when it loads: torch's bundled copy, loaded after nnfast,
would run under nnfast's settings instead of the ones its users get. Measured on the Zen 5
VM: torch's fused-Adam epoch at batch 32 on 2 threads was 16k samples/s under PASSIVE.
"""

try:
    import torch  # noqa: F401
except ImportError:  # torch is optional: its rows are skipped
    torch = None
