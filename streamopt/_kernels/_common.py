"""What every kernel shares: the Numba options and the one bias-correction formula.

Kernels are plain loops over contiguous arrays: no validation, no pandas, no
Python objects, no allocation beyond what they return.
"""

from __future__ import annotations

import functools
import math

import numba
from numba.core.options import DefaultOptions
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
#: loop) is an atomic read-modify-write: the training loop spent about one
#: microsecond of its seven per epoch on them.  A kernel compiled this way
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
