"""The ``.streamopt`` accessor on pandas Series and DataFrames (registered when streamopt is imported).

>>> import pandas as pd, streamopt
>>> pd.Series([1.0, 1.0]).streamopt.ewa(0.5, bias_correction=True).tolist()
[1.0, 1.0]
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .ewa import ewa as _ewa_mean
from .ewa import ewstd as _ewstd
from .ewa import ewvar as _ewvar
from .ewm import EWM
from .ewm import ewm as _ewm

__all__ = ["StreamoptAccessor"]


class StreamoptAccessor:
    """``obj.streamopt.ewa/ewvar/ewstd/ewm(...)``: :func:`streamopt.ewa` and friends on ``obj``.

    A Series gives a Series (same index and name), a DataFrame a DataFrame
    (same index and columns) smoothed down its rows; the parameters are those
    of the functions (without ``out``).

    Parameters
    ----------
    obj : Series or DataFrame
        The object the accessor is read from (pandas passes it).

    Examples
    --------
    >>> import pandas as pd, streamopt
    >>> pd.Series([1.0, 3.0], name="x").streamopt.ewa(0.5, bias_correction=True)
    0    1.000000
    1    2.333333
    Name: x, dtype: float64
    """

    def __init__(self, obj: pd.Series | pd.DataFrame) -> None:
        self._obj = obj

    def ewa(self, beta: Any = None, **kwargs: Any) -> pd.Series | pd.DataFrame:
        """Exponentially weighted average; see :func:`streamopt.ewa` (same parameters, without ``out``).

        Examples
        --------
        >>> import pandas as pd, streamopt
        >>> pd.Series([2.0, float("inf"), 4.0]).streamopt.ewa(0.5).tolist()
        [1.0, 1.0, 2.5]
        """
        return _ewa_mean(self._obj, beta, **kwargs)

    def ewvar(self, beta: Any = None, **kwargs: Any) -> pd.Series | pd.DataFrame:
        """Exponentially weighted variance; see :func:`streamopt.ewvar` (same parameters, without ``out``).

        Examples
        --------
        >>> import pandas as pd, streamopt
        >>> pd.DataFrame({"a": [1.0, 1.0], "b": [True, False]}).streamopt.ewvar(0.5, bias=True).round(4)
             a       b
        0  0.0  0.0000
        1  0.0  0.2222
        """
        return _ewvar(self._obj, beta, **kwargs)

    def ewstd(self, beta: Any = None, **kwargs: Any) -> pd.Series | pd.DataFrame:
        """Exponentially weighted standard deviation; see :func:`streamopt.ewstd` (same parameters, without ``out``).

        Examples
        --------
        >>> import pandas as pd, streamopt
        >>> pd.Series([0.0, 2.0]).streamopt.ewstd(0.5, bias=True).round(4).tolist()
        [0.0, 0.9428]
        """
        return _ewstd(self._obj, beta, **kwargs)

    def ewm(self, com: Any = None, span: Any = None, halflife: Any = None, alpha: Any = None,
            **kwargs: Any) -> EWM:
        """pandas-compatible EW statistics; see :func:`streamopt.ewm` (same parameters).

        Examples
        --------
        >>> import pandas as pd, streamopt
        >>> pd.Series([1.0, 3.0], name="x").streamopt.ewm(alpha=0.5).mean().tolist()
        [1.0, 2.3333333333333335]
        """
        return _ewm(self._obj, com, span, halflife, alpha, **kwargs)


pd.api.extensions.register_series_accessor("streamopt")(StreamoptAccessor)
pd.api.extensions.register_dataframe_accessor("streamopt")(StreamoptAccessor)
