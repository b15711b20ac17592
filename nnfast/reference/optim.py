"""NumPy reference twins: optim (filled in by its kernel module)."""

__all__ = []
