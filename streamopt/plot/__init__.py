"""Figures, as functions returning matplotlib Figures.

``streamopt.plot.ewa``, ``streamopt.plot.optim`` and ``streamopt.plot.train``
each hold the figure functions of one topic and a ``demo(out_dir, echo)`` that
writes that topic's PNG files for ``streamopt demo`` and returns their paths.
Import a submodule to use it; importing ``streamopt`` itself never imports
matplotlib.
"""
