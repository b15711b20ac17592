"""NumPy reference twins: activations (filled in by its kernel module)."""

__all__ = []
