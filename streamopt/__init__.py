"""streamopt: online statistics and fast training loops.

Exponentially weighted averages (batch and streaming, pandas-aware) and fused
optimizer updates on flat parameter buffers, compiled with Numba; a mini-batch
pipeline and a compiled training loop that reproduces the notes' experiment.
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import datasets  # noqa: F401

# --- EWA: streamopt.ewa -------------------------------------------------------

# --- optimizers: streamopt.params, streamopt.optim, streamopt.schedules -------

# --- training: streamopt.pipeline, streamopt.model, streamopt.train ------------
