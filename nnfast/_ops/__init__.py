"""The validated ops behind :mod:`nnfast.kernels`, one module per subject."""
