"""streamopt: online statistics and fast training loops.

Exponentially weighted averages (batch and streaming, pandas-aware) and fused
optimizer updates on flat parameter buffers, compiled with Numba; a mini-batch
pipeline and a compiled training loop that reproduces the notes' experiment.
"""

__version__ = "0.1.0"

from . import datasets  # noqa: F401

# --- EWA: streamopt.ewa -------------------------------------------------------
from . import accessor as _accessor  # noqa: F401  (registers .streamopt on pandas objects)
from .ewa import EWA, beta_from, ewa, ewstd, ewvar, horizon  # noqa: F401
from .ewm import EWM, ewm  # noqa: F401
from .ewmstream import EWMStream  # noqa: F401

# --- optimizers: streamopt.params, streamopt.optim, streamopt.schedules -------
from .params import FlatParams  # noqa: E402,F401
from .optim import SGD, Momentum, RMSprop, Adam  # noqa: E402,F401
from . import schedules  # noqa: E402,F401

# --- training: streamopt.pipeline, streamopt.model, streamopt.train ------------
from .pipeline import csv_batches, epochs, minibatches  # noqa: E402,F401
from .model import MLP  # noqa: E402,F401
from .train import History, TrainingDiverged, train  # noqa: E402,F401
