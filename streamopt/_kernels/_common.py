"""What every kernel shares: the Numba options, 1 − β^t and two intrinsics.

Kernels are plain loops over arrays: no validation, no pandas, no Python
objects.  Most allocate nothing; the few that need scratch space (a few arrays
of one entry per series, e.g. the EWA kernels' per-series correction terms)
allocate it themselves and release it on return.
"""

from __future__ import annotations

import functools
import math

import numba
from numba.core.options import DefaultOptions
from numba import types
from numba.extending import intrinsic

#: Options for every kernel: on-disk cache (a second process does not
#: recompile), NumPy's floating-point error model (no ZeroDivisionError checks
#: in the hot loop), no GIL held.
jit = functools.partial(numba.njit, cache=True, error_model="numpy", nogil=True)

#: As :data:`jit`, for kernels that split work across cores with ``numba.prange``.
pjit = functools.partial(numba.njit, cache=True, error_model="numpy", nogil=True, parallel=True)

#: As :data:`jit`, without Numba's reference counting (NRT) where
#: this Numba has the switch.  Kernels that allocate nothing and return no
#: array only take views of arrays their caller holds, so the counts protect
#: nothing; but each count that Numba's pruning leaves (it cannot remove them
#: across branches, e.g. around a slice or an array variable reassigned in a
#: loop) is an atomic read-modify-write in the training loop's per-batch path
#: (measured by the ``train`` group of ``bench/``).  A kernel compiled this way
#: fails to compile if it ever allocates, so the switch cannot hide a leak.
jit_uncounted = (functools.partial(numba.njit, cache=True, error_model="numpy", nogil=True, _nrt=False)
                 if hasattr(DefaultOptions, "_nrt") else jit)


@jit
def one_minus_beta_pow(alpha: float, t: float) -> float:
    """1 − β^t for β = 1 − α, without cancellation.

    Computed as −expm1(t·log1p(−α)), accurate to a few ulp for α down to 1e−16
    and t up to 1e15, where ``1 - beta**t`` loses every digit.  α = 1 (β = 0)
    gives 1 for every t ≥ 1.
    """
    if alpha >= 1.0:
        return 1.0
    return -math.expm1(t * math.log1p(-alpha))


@intrinsic
def fma(typingctx, a, b, c):
    """a·b + c with one rounding (LLVM ``llvm.fma``): IEEE fused multiply-add.

    The same correctly rounded result on every machine (a hardware FMA
    instruction where there is one, a correctly rounded fallback otherwise),
    scalar or vectorised alike.
    """
    if not (a == b == c):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return a(a, b, c), codegen


@intrinsic
def as_dtype_of(typingctx, value, array):
    """``value`` converted to the element type of ``array`` (as storing it into ``array`` would).

    Lets one kernel, compiled once per dtype, compute in the data's precision
    from parameters held in a float64 array.
    """
    if not isinstance(array, types.Array) or not isinstance(value, (types.Float, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        return context.cast(builder, args[0], signature.args[0], signature.return_type)

    return array.dtype(value, array), codegen
