"""Validated optim ops."""

__all__ = []
