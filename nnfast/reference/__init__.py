"""NumPy twins of every compiled kernel: same signatures, plain readable NumPy.

They are the specification of what each kernel computes; the tests diff the compiled kernels
against them. They compute in float64 and return the input's dtype.
"""

from nnfast.reference.activations import *  # noqa: F401,F403
from nnfast.reference.linalg import *  # noqa: F401,F403
from nnfast.reference.losses import *  # noqa: F401,F403
from nnfast.reference.norm import *  # noqa: F401,F403
from nnfast.reference.optim import *  # noqa: F401,F403
from nnfast.reference import activations as _a, linalg as _l, losses as _s, norm as _n, optim as _o

__all__ = [*_l.__all__, *_a.__all__, *_s.__all__, *_n.__all__, *_o.__all__]
