"""Validated losses ops."""

__all__ = []
