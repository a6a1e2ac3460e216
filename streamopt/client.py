r"""A client of the statistics service (``streamopt serve``): :class:`Client`.

Sends keyed observations over HTTP and reads the statistics back, with
exactly-once delivery: every batch carries the client's ``producer`` id and a
sequence number ``seq``, strictly increasing per stream, and a batch the
server has already applied (``seq`` ≤ the producer's last applied ``seq``) is
answered as a duplicate and not applied again.  So :meth:`Client.send` can
retry a batch whose answer was lost (a timeout, a connection reset, a server
killed and restarted, a 5xx) as often as it needs to: the batch is counted
once.

Needs the ``service`` extra (``pip install 'streamopt[service]'``: httpx and
orjson).
"""

from __future__ import annotations

import datetime
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import orjson
import pandas as pd

from .ewm import _column, _times
from .state import excerpt

__all__ = ["Client", "SendResult", "LearnResult", "ServiceError", "ServiceUnavailable"]

#: Statuses worth a retry: the server failed, or something between client and server did.
RETRY_STATUSES = frozenset({500, 502, 503, 504})
#: The statistics a key's state holds (JSON null: NaN, e.g. before min_periods).
STATS = ("mean", "var", "std")


class ServiceError(Exception):
    """The service refused a request: a 4xx (or a 5xx other than 500, 502, 503, 504, which are retried).

    Attributes
    ----------
    status : int
        The HTTP status.
    message : str
        The server's ``{"error": ...}`` text (or an excerpt of its body).
    """

    def __init__(self, status: int, message: str, method: str = "", path: str = "") -> None:
        self.status, self.message = status, message
        where = f"{method} {path}: " if method else ""
        super().__init__(f"{where}{status}: {message}")


class ServiceUnavailable(ConnectionError):
    """No answer after every retry (connection refused or reset, timeouts, 5xx).

    For :meth:`Client.send`, whether the batch was applied is unknown: ``seq``
    is the sequence number it was sent with.  Send the same batch again with
    ``seq=exc.seq`` before any other batch of that stream: it is applied if
    it was not, and answered as a duplicate if it was.
    """

    def __init__(self, message: str, seq: int | None = None) -> None:
        self.seq = seq
        super().__init__(message)


@dataclass(frozen=True)
class SendResult:
    """The service's acknowledgement of one batch.

    Attributes
    ----------
    applied : int
        Observations applied by this request (0 for a duplicate).
    duplicate : bool
        True when the batch had been applied before (a retry whose first
        answer was lost, or a rerun): nothing was applied again.
    batch : int
        The stream's batch number of this batch (1, 2, ... in applied order;
        for a duplicate, the number it got when it was applied).
    seq : int
        The sequence number the batch was sent with.
    results : dict of str -> ndarray, or None
        Each statistic of the stream after each observation (NaN where the
        server answered null), bit for bit what :class:`streamopt.EWMStream`
        gives; None for a duplicate or with ``results=False``.
    """

    applied: int
    duplicate: bool
    batch: int
    seq: int
    results: dict[str, np.ndarray] | None = None


@dataclass(frozen=True)
class LearnResult:
    """The service's acknowledgement of one learn batch (:meth:`Client.learn`).

    Attributes
    ----------
    step : int
        The model's step this batch made (1, 2, ... in applied order; for a
        duplicate, the step it made when it was applied).
    duplicate : bool
        True when the batch had been applied before: no step was taken now.
    seq : int
        The sequence number the batch was sent with.
    loss, accuracy_before : float or None
        The batch's mean loss and accuracy before the step (None for a duplicate).
    """

    step: int
    duplicate: bool
    seq: int
    loss: float | None = None
    accuracy_before: float | None = None


def _values(values: Any) -> np.ndarray:
    """``values`` as float64 (NaN and ±inf missing), as :class:`~streamopt.EWMStream` reads them."""
    if isinstance(values, (pd.Series, pd.Index)):
        return _column(values.array, values.dtype, "values")
    if isinstance(values, (pd.DataFrame, str, bytes, dict)) or values is None:
        raise TypeError(f"values must be a number or a 1-D array of numbers, got {excerpt(values)}")
    arr = np.asarray(values, dtype=object) if isinstance(values, (list, tuple)) else np.asarray(values)
    if arr.ndim > 1:
        raise ValueError(f"values must be a number or 1-D, got shape {arr.shape}")
    return _column(arr.reshape(-1), arr.dtype, "values")


def _keys(keys: Any, n: int) -> list[Any]:
    """``keys`` as a list of Python str / int (the server checks their kind and length)."""
    if isinstance(keys, (str, int, np.integer, np.str_)) and not isinstance(keys, (bool, np.bool_)):
        keys = [keys]
    if isinstance(keys, (bytes, dict, pd.DataFrame)) or keys is None or np.ndim(keys) != 1:
        raise TypeError(f"keys must be a key (str or int) or a 1-D array of keys, got {excerpt(keys)}")
    out = keys.tolist() if hasattr(keys, "tolist") else list(keys)
    if len(out) != n:
        raise ValueError(f"keys must have one key per value ({n}), got {len(out)}")
    return out


def _time_list(times: Any, n: int) -> list[Any]:
    """``times`` as a list of integer nanoseconds since the epoch, or of ISO-8601 strings as given."""
    if isinstance(times, (str, int, np.integer, np.datetime64, datetime.datetime)):
        times = [times]
    if np.ndim(times) != 1:
        raise TypeError(f"times must be a 1-D array of times, got {excerpt(times)}")
    if len(times) != n:
        raise ValueError(f"times must have one entry per value ({n}), got {len(times)}")
    dtype = getattr(times, "dtype", None)
    if dtype is not None and (pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)):
        return np.asarray(times, dtype=np.int64).tolist()
    if dtype is None or dtype == object:
        items = list(times)
        if all(isinstance(t, str) for t in items):
            return items
        if all(isinstance(t, (int, np.integer)) and not isinstance(t, (bool, np.bool_)) for t in items):
            return [int(t) for t in items]
        for i, t in enumerate(items):
            if not isinstance(t, (datetime.datetime, np.datetime64)) and t is not pd.NaT:
                raise TypeError(f"times must be all datetimes, all integer nanoseconds or all ISO-8601 strings, "
                                f"got {excerpt(t)} at position {i}")
        try:
            times = pd.DatetimeIndex(items)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"times must be datetimes of one kind (all naive or all tz-aware), "
                            f"got {excerpt(items)}: {exc}") from exc
    t, _ = _times(times, n, None)
    return t.as_unit("ns").asi8.tolist()


def _error_text(response: httpx.Response) -> str:
    """The ``error`` of a JSON error body, else an excerpt of the body."""
    try:
        body = orjson.loads(response.content)
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return body["error"]
    except orjson.JSONDecodeError:
        pass
    return excerpt(response.text) if response.content else response.reason_phrase


def _halflife(value: Any) -> Any:
    """A time-span halflife as the string pandas and the server read ("3600000000000ns"); numbers as given."""
    if isinstance(value, (pd.Timedelta, np.timedelta64, datetime.timedelta)):
        return f"{pd.Timedelta(value).value}ns"
    return value


class Client:
    r"""A connection to a statistics service (``streamopt serve``).

    Parameters
    ----------
    url : str
        The service's base URL, as ``streamopt serve`` prints it
        ("http://127.0.0.1:8000").
    token : str, optional
        Sent as ``Authorization: Bearer <token>`` (needed when the server has one).
    timeout : float
        Seconds to wait for a connection and for an answer, per attempt.
    retries : int
        How many times a request is tried again after a connection error, a
        timeout or a 5xx answer (so ``retries + 1`` attempts at most), waiting
        ``min(max_backoff, backoff·2^i)·u`` before retry i, u uniform in
        [0.5, 1] (exponential backoff with jitter, so producers that lost the
        server together do not come back in lockstep).
    producer : str, optional
        This client's producer id.  Default: a random UUID, new for every
        Client.  A stable id with the default numbering makes a program
        resumable: rerun on the same data, it sends the same batches with the
        same ``seq`` and the server skips the ones it applied before.
    backoff, max_backoff : float
        The first wait and the longest wait between attempts, in seconds.

    Notes
    -----
    **Exactly once.**  The n-th successful :meth:`send` of this Client to a
    stream has ``seq = n`` (unless ``seq`` is given): a retry resends the same
    producer and seq, so a batch whose answer was lost is applied once.  A
    batch the server refuses (4xx: bad input, a time older than its key's
    last) raises :class:`ServiceError` and does not use up its seq: the
    corrected batch gets it.  When the retries run out,
    :class:`ServiceUnavailable` says which seq the batch had: its fate is
    unknown until it is sent again with that seq.  Sends of one Client to one
    stream take turns (a lock), so the server sees them in seq order; for
    parallel sending use one Client (one producer) per thread or process.

    Examples
    --------
    A server on a free port (``streamopt serve`` prints its URL), a stream
    with a one-hour halflife, a batch, a key's state:

    >>> import re, subprocess, sys
    >>> from streamopt.client import Client
    >>> server = subprocess.Popen([sys.executable, "-m", "streamopt", "serve", "--db", ":memory:",
    ...                            "--port", "0", "--token", "s3cret"], stdout=subprocess.PIPE, text=True)
    >>> url = re.search(r"http://\S+", server.stdout.readline()).group(0)
    >>> c = Client(url, token="s3cret")
    >>> c.create_stream("temps", halflife="1h", stats=["mean", "std"], times=True)["created"]
    True
    >>> ack = c.send("temps", ["berlin", "paris", "berlin"], [21.5, 18.0, 23.0],
    ...              times=["2024-05-01T12:00Z", "2024-05-01T12:00Z", "2024-05-01T13:00Z"])
    >>> ack.applied, ack.duplicate, ack.batch, ack.seq
    (3, False, 1, 1)
    >>> ack.results["mean"]  # berlin at 13:00: weights 0.5 (an hour old) and 1
    array([21.5, 18. , 22.5])
    >>> c.get("temps", "berlin")["count"], sorted(c.keys("temps"))
    (2, ['berlin', 'paris'])

    The same batch sent again with the same producer and seq (a retry
    whose answer was lost, a rerun) is a duplicate, applied once:

    >>> again = c.send("temps", ["berlin", "paris", "berlin"], [21.5, 18.0, 23.0],
    ...                times=["2024-05-01T12:00Z", "2024-05-01T12:00Z", "2024-05-01T13:00Z"], seq=1)
    >>> again.duplicate, again.applied, again.batch, c.info("temps")["observations"]
    (True, 0, 1, 3)
    >>> c.close(); server.terminate(); server.wait()
    0
    """

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 30.0, retries: int = 10,
                 producer: str | None = None, backoff: float = 0.05, max_backoff: float = 2.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"url must be an http:// or https:// URL, got {excerpt(url)}")
        if token is not None and (not isinstance(token, str) or not token):
            raise ValueError(f"token must be a non-empty str or None, got {excerpt(token)}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an int >= 0, got {retries!r}")
        for name, value in (("timeout", timeout), ("backoff", backoff), ("max_backoff", max_backoff)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if producer is not None and (not isinstance(producer, str) or not producer):
            raise ValueError(f"producer must be a non-empty str or None, got {excerpt(producer)}")
        self.url = url.rstrip("/")
        self.producer = producer if producer is not None else str(uuid.uuid4())
        self.retries, self.backoff, self.max_backoff = retries, float(backoff), float(max_backoff)
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)
        self._seq: dict[str, int] = {}  # stream -> last seq acknowledged (or lost to the retries)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._rng = random.Random()

    # ------------------------------------------------------------ plumbing
    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r}, producer={self.producer!r})"

    def _request(self, method: str, path: str, *, content: bytes | None = None,
                 params: dict[str, Any] | None = None, seq: int | None = None) -> httpx.Response:
        """One request, tried again after connection errors, timeouts and 5xx; raises on 4xx."""
        headers = {"Content-Type": "application/json"} if content is not None else None
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                wait = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                time.sleep(wait * (0.5 + 0.5 * self._rng.random()))
            try:
                response = self._http.request(method, path, content=content, params=params, headers=headers)
            except httpx.TransportError as exc:  # refused, reset, timed out, broken answer
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in RETRY_STATUSES:
                last = f"{response.status_code}: {_error_text(response)}"
                continue
            if response.status_code == 404 and method == "DELETE" and attempt:
                return response  # an earlier attempt deleted it, and its answer was lost
            if response.status_code >= 400:
                raise ServiceError(response.status_code, _error_text(response), method, path)
            return response
        batch = f" (batch seq {seq}: applied or not, unknown until sent again with seq={seq})" if seq else ""
        raise ServiceUnavailable(f"{method} {self.url}{path}: no answer after {self.retries + 1} attempts, "
                                 f"last: {last}{batch}", seq)

    @staticmethod
    def _path(stream: str, *rest: str) -> str:
        if not isinstance(stream, str) or not stream:
            raise ValueError(f"stream must be a non-empty str, got {excerpt(stream)}")
        return "/v1/streams/" + "/".join(quote(part, safe="") for part in (stream, *rest))

    def _lock(self, stream: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(stream, threading.Lock())

    # ------------------------------------------------------------ streams
    def create_stream(self, name: str, **config: Any) -> dict[str, Any]:
        """Create the stream ``name`` (idempotent: an existing one with the same configuration is fine).

        Parameters
        ----------
        name : str
            The stream's name.
        **config
            The stream's configuration: exactly one decay (``halflife`` a
            number or a time span such as "1h" or a ``pd.Timedelta``,
            ``com``, ``span`` or ``alpha``), and ``adjust``, ``ignore_na``,
            ``min_periods``, ``stats`` (of "mean", "var", "std"), ``times``
            (True: every observation carries a time) as in
            :class:`streamopt.EWMStream`.

        Returns
        -------
        dict
            The server's answer, with ``"created"``: True when this call
            created the stream, False when it existed already.

        Raises
        ------
        ServiceError
            409 when the stream exists with another configuration; 400 for a
            bad configuration.

        """
        if "halflife" in config:
            config["halflife"] = _halflife(config["halflife"])
        if "stats" in config and not isinstance(config["stats"], str):
            config["stats"] = list(config["stats"])
        response = self._request("PUT", self._path(name), content=orjson.dumps(config))
        body = orjson.loads(response.content) if response.content else {}
        return {"created": response.status_code == 201, **(body if isinstance(body, dict) else {})}

    def info(self, stream: str) -> dict[str, Any]:
        """The stream's configuration, number of keys and of observations (the server's JSON).

        """
        return orjson.loads(self._request("GET", self._path(stream)).content)

    def delete_stream(self, name: str) -> None:
        """Delete the stream ``name`` and every key's state; :class:`ServiceError` 404 if there is none.

        """
        self._request("DELETE", self._path(name))

    # ------------------------------------------------------------ observations
    def send(self, stream: str, keys: Any, values: Any, times: Any = None, *, results: bool = True,
             seq: int | None = None) -> SendResult:
        r"""Send one batch of observations, applied whole and exactly once; returns the acknowledgement.

        Parameters
        ----------
        stream : str
            The stream (see :meth:`create_stream`).
        keys : str, int, or 1-D array of them
            The key of each observation.
        values : float or 1-D array-like
            The observations: NaN, ±inf, None and pandas' NA are missing
            (sent as JSON null).
        times : 1-D array, optional
            One per observation, for a stream created with ``times=True``:
            datetime64 / ``DatetimeIndex`` / datetimes (sent as integer
            nanoseconds since the epoch, tz-aware ones as UTC), integer
            nanoseconds, or ISO-8601 strings (sent as they are).
        results : bool
            False: the server does not send back the statistics (less work
            for both when only the state matters).
        seq : int, optional
            The batch's sequence number; default: this Client's next one
            for ``stream`` (1, 2, ...).  Give it to resend a batch after
            :class:`ServiceUnavailable` (``seq=exc.seq``).

        Returns
        -------
        SendResult
            ``applied``, ``duplicate``, ``batch``, ``seq`` and, unless
            ``results=False`` or the batch is a duplicate, ``results``: each
            statistic after each observation (float64, NaN for null).

        Raises
        ------
        ServiceError
            A 4xx: the server's message names the field and index (a time
            older than its key's last: 422).  Nothing was applied and the seq
            is not used up.
        ServiceUnavailable
            No answer after every retry.

        """
        path = self._path(stream, "observations")
        x = _values(values)
        body: dict[str, Any] = {"keys": _keys(keys, len(x)), "values": x}
        if times is not None:
            body["times"] = _time_list(times, len(x))
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, (int, np.integer)) or seq < 1):
            raise ValueError(f"seq must be an int >= 1, got {seq!r}")
        with self._lock(stream):
            n = int(seq) if seq is not None else self._seq.get(stream, 0) + 1
            body["producer"], body["seq"] = self.producer, n
            content = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)  # NaN, ±inf -> null
            try:
                response = self._request("POST", path, content=content,
                                         params=None if results else {"results": "false"}, seq=n)
            except ServiceUnavailable:
                self._seq[stream] = max(n, self._seq.get(stream, 0))  # never reuse a seq of unknown fate
                raise
            self._seq[stream] = max(n, self._seq.get(stream, 0))
        answer = orjson.loads(response.content)
        out = answer.get("results")
        stats = None if out is None else {k: np.array(v, dtype=np.float64) for k, v in out.items()}
        return SendResult(int(answer.get("applied", 0)), bool(answer.get("duplicate", False)),
                          int(answer.get("batch", 0)), n, stats)

    # ------------------------------------------------------------ reading
    def get(self, stream: str, key: str | int) -> dict[str, Any]:
        """The state of ``key``: ``{"key", "count", "time", "mean", "var", "std"}`` (the stats the stream keeps).

        ``count``: non-missing observations so far; ``time``: the key's last
        time as the server gives it; a statistic the server answers with null
        (before ``min_periods``) is NaN.  :class:`ServiceError` 404 for an
        unknown stream or key.

        """
        if isinstance(key, bool) or not isinstance(key, (str, int, np.integer)):
            raise TypeError(f"key must be a str or an int, got {excerpt(key)}")
        state = orjson.loads(self._request("GET", self._path(stream, "keys", str(key))).content)
        for name in STATS:
            if name in state and state[name] is None:
                state[name] = float("nan")
        return state

    def keys(self, stream: str, *, page: int = 1000) -> Iterator[Any]:
        """Every key of ``stream``, in the server's order, a page of ``page`` keys per request.

        """
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise ValueError(f"page must be an int >= 1, got {page!r}")
        path = self._path(stream, "keys")
        params: dict[str, Any] = {"limit": page}
        while True:
            body = orjson.loads(self._request("GET", path, params=params).content)
            yield from body["keys"]
            if body.get("next") is None or not body["keys"]:
                return
            params = {"limit": page, "after": body["next"]}

    # ------------------------------------------------------------ models
    @staticmethod
    def _model_path(name: str, *rest: str) -> str:
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty str, got {excerpt(name)}")
        return "/v1/models/" + "/".join(quote(part, safe="") for part in (name, *rest))

    def create_model(self, name: str, layers: Any, optimizer: dict[str, Any], *, seed: int = 3,
                     schedule: dict[str, Any] | None = None) -> dict[str, Any]:
        """Create the model ``name`` (idempotent: an existing one with the same configuration is fine).

        Parameters
        ----------
        name : str
            The model's name.
        layers : sequence of int
            [n_0, n_1, ..., n_L] as :class:`streamopt.MLP` takes them.
        optimizer : dict
            ``{"name": "sgd" | "momentum" | "rmsprop" | "adam", "lr": ..., **options}``,
            the options of the optimizer's class.
        seed : int
            He initialisation's seed (as ``MLP(layers, seed=seed)``).
        schedule : dict, optional
            ``{"name": "inverse_time" | "exponential" | "inverse_sqrt" | "piecewise", **options}``
            as :mod:`streamopt.schedules`: step t + 1 uses lr = schedule(t).

        Returns
        -------
        dict
            The server's answer (configuration with every default, ``step``),
            with ``"created"``: True when this call created the model.

        Raises
        ------
        ServiceError
            409 when the model exists with another configuration; 400 for a bad one.
        """
        config = {"layers": [int(n) for n in layers], "seed": seed, "optimizer": dict(optimizer),
                  "schedule": schedule}
        response = self._request("PUT", self._model_path(name), content=orjson.dumps(config))
        return {"created": response.status_code == 201, **orjson.loads(response.content)}

    def learn(self, name: str, X: Any, y: Any, *, seq: int | None = None) -> LearnResult:
        """One optimizer step of model ``name`` on the mini-batch (X, y), applied exactly once.

        Parameters
        ----------
        name : str
            The model (see :meth:`create_model`).
        X : array-like of shape (m, n_0)
            The inputs, **one row per example** (the transpose of the
            library's ``MLP`` layout).
        y : array-like of shape (m,) or (m, n_L)
            Labels 0 or 1.
        seq : int, optional
            The batch's sequence number; default: this Client's next one for
            this model (1, 2, ...).  As for :meth:`send`, a retry resends the
            same seq, so a step whose answer was lost is taken once.

        Returns
        -------
        LearnResult
            ``step`` (the model's step this batch made, or made before for a
            duplicate), ``loss`` and ``accuracy_before`` (the batch's mean
            loss and accuracy before the step; None for a duplicate).

        Raises
        ------
        ServiceError
            400 for a bad batch (NaN, wrong width, a label not 0 or 1), 422
            when the step would diverge; nothing applied, the seq not used up.
        ServiceUnavailable
            No answer after every retry.
        """
        x = np.ascontiguousarray(X, dtype=np.float64)
        labels = np.ascontiguousarray(y, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"X must be 2-D (one row per example), got shape {x.shape}")
        if labels.ndim not in (1, 2) or labels.shape[0] != x.shape[0]:
            raise ValueError(f"y must hold one label (or one row of labels) per row of X ({x.shape[0]}), "
                             f"got shape {labels.shape}")
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, (int, np.integer)) or seq < 1):
            raise ValueError(f"seq must be an int >= 1, got {seq!r}")
        key = "model:" + name  # sequence numbers are counted per model, apart from the streams'
        with self._lock(key):
            n = int(seq) if seq is not None else self._seq.get(key, 0) + 1
            body = {"producer": self.producer, "seq": n, "X": x, "y": labels}
            try:
                response = self._request("POST", self._model_path(name, "learn"),
                                         content=orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), seq=n)
            except ServiceUnavailable:
                self._seq[key] = max(n, self._seq.get(key, 0))  # never reuse a seq of unknown fate
                raise
            self._seq[key] = max(n, self._seq.get(key, 0))
        answer = orjson.loads(response.content)
        return LearnResult(int(answer["step"]), bool(answer["duplicate"]), n, answer.get("loss"),
                           answer.get("accuracy_before"))

    def predict(self, name: str, X: Any) -> dict[str, np.ndarray]:
        """``{"probability", "label"}`` of model ``name`` for the rows of ``X`` (shape (m, n_0)):
        one value per row, or a row per row for a network of several outputs."""
        x = np.ascontiguousarray(X, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"X must be 2-D (one row per example), got shape {x.shape}")
        content = orjson.dumps({"X": x}, option=orjson.OPT_SERIALIZE_NUMPY)
        answer = orjson.loads(self._request("POST", self._model_path(name, "predict"), content=content).content)
        return {"probability": np.array(answer["probability"], dtype=np.float64),
                "label": np.array(answer["label"], dtype=np.int64)}

    def model(self, name: str) -> dict[str, Any]:
        """The model's configuration, ``step``, smoothed ``loss`` and ``accuracy`` and its last points."""
        return orjson.loads(self._request("GET", self._model_path(name)).content)

    def model_state(self, name: str) -> dict[str, Any]:
        """The model's exact state: ``{"step", "model", "optimizer", "ewa"}``, for
        ``MLP.from_state(state["model"])`` and the optimizer's ``load_state_dict(state["optimizer"])``."""
        return orjson.loads(self._request("GET", self._model_path(name, "state")).content)

    def healthy(self) -> bool:
        """True when ``GET /healthz`` answers 200 (one attempt, no retries)."""
        try:
            return self._http.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False
