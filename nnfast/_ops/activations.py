"""Validated activations ops."""

__all__ = []
