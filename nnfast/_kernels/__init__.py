"""Compiled kernels (Cython over C). Private: use :mod:`nnfast.kernels`, which validates inputs."""
