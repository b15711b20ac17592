"""nnfast's kernels as NumPy functions: validated, with optional ``out=``.

Every function checks its arguments (dtype, shape, layout, aliasing of ``out``) and then runs a
compiled Cython/C kernel with the GIL released. All array arguments of one call share one float
dtype, float32 or float64 (else TypeError). Non-contiguous inputs are accepted (copied or
handled by strides); ``out``, when given, must be C-contiguous with the exact shape and dtype.

>>> import numpy as np, nnfast as nf
>>> x = np.array([[1.0, -2.0]], dtype=np.float32)
>>> nf.kernels.matmul(x, np.eye(2, dtype=np.float32))
array([[ 1., -2.]], dtype=float32)
"""

from nnfast._ops.activations import *  # noqa: F401,F403
from nnfast._ops.linalg import *  # noqa: F401,F403
from nnfast._ops.losses import *  # noqa: F401,F403
from nnfast._ops.norm import *  # noqa: F401,F403
from nnfast._ops.optim import *  # noqa: F401,F403
from nnfast._ops import activations as _a, linalg as _l, losses as _s, norm as _n, optim as _o

__all__ = [*_l.__all__, *_a.__all__, *_s.__all__, *_n.__all__, *_o.__all__]
