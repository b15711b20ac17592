"""Validated normalization, dropout and gather ops."""

__all__ = []
