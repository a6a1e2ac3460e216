"""The HTTP face of the statistics service: a Starlette app over :class:`~streamopt.service.engine.Engine`.

Routes, bodies and statuses are listed in :data:`OPENAPI` (served at
``/openapi.json``).  Every error is ``{"error": "..."}`` naming the field
(and, in an array, the index).  JSON is read and written by orjson: floats
are written in the shortest form that reads back to the same float64, NaN
as null.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .engine import Engine, canonical_config
from .parse import ApiError, check_name, parse_config, parse_csv_batch, parse_json_batch
from .web import ModelCollector, openapi as _web_openapi, routes as _web_routes

__all__ = ["create_app", "DEFAULT_MAX_BODY_BYTES"]

log = logging.getLogger("streamopt.service")

#: The largest request body by default (``--max-body-bytes``).
DEFAULT_MAX_BODY_BYTES = 64 * 2**20
#: Bodies larger than this are parsed on a worker thread, so the event loop keeps serving.
_PARSE_IN_THREAD_BYTES = 1 << 20
#: The most keys one page of ``GET /v1/streams/{name}/keys`` lists.
MAX_PAGE = 10_000


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status,
                    media_type="application/json")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    response = _json(status, {"error": message})
    if headers:
        response.headers.update(headers)
    return response


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes (whatever Content-Length says)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body is {declared} bytes, over the limit of {limit} bytes (--max-body-bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the body is over the limit of {limit} bytes (--max-body-bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def _loads(body: bytes) -> Any:
    if not body:
        raise ApiError(400, "the body is empty (a JSON object is expected)")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None


def _flag(request: Request, name: str, default: bool) -> bool:
    text = request.query_params.get(name)
    if text is None:
        return default
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise ApiError(400, f"{name}: must be true or false, got {text[:40]!r}")


# ------------------------------------------------------------------ metrics
class _EngineCollector:
    """Counters the engine keeps, read at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Any:
        e = self._engine
        for name, doc, value in (
                ("streamopt_observations_applied", "Observations applied (acknowledged, committed).",
                 e.applied_observations),
                ("streamopt_batches_applied", "Batches applied.", e.applied_batches),
                ("streamopt_duplicates", "Batches answered as duplicates (producer and seq seen before).",
                 e.duplicates),
                ("streamopt_commits", "Database transactions of applied batches (group commits).", e.commits)):
            family = CounterMetricFamily(name, doc)
            family.add_metric([], value)
            yield family
        yield GaugeMetricFamily("streamopt_database_bytes", "Database file and write-ahead log size.",
                                value=e.database_size())
        yield GaugeMetricFamily("streamopt_streams", "Streams.", value=len(e.streams))


class _Gate:
    """Pure ASGI middleware: bearer-token check on /v1 and /metrics, request counts and latencies by route."""

    def __init__(self, app: Any, token: str | None, requests: Counter, latency: Histogram,
                 routes: dict[Any, str]) -> None:
        self.app = app
        self._expected = None if token is None else token.encode()
        self._requests = requests
        self._latency = latency
        self._routes = routes

    def _authorized(self, scope: dict[str, Any]) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credentials = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(credentials, self._expected)
        return False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        path = scope["path"]
        try:
            if self._expected is not None and (path.startswith("/v1/") or path in ("/v1", "/metrics")) \
                    and not self._authorized(scope):
                response = _error(401, "missing or wrong token: send the header 'Authorization: Bearer <token>'",
                                  {"WWW-Authenticate": 'Bearer realm="streamopt"'})
                await response(scope, receive, sending)
                return
            await self.app(scope, receive, sending)
        finally:
            route = self._routes.get(scope.get("endpoint"), "other")
            self._requests.labels(scope["method"], route, str(status)).inc()
            self._latency.labels(route).observe(time.perf_counter() - start)


# ------------------------------------------------------------------ the app
def create_app(db: str = "streamopt.db", token: str | None = None, *, durability: str = "full",
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Starlette:
    """The service as an ASGI app (Starlette): mount it, or serve it with uvicorn.

    Parameters
    ----------
    db : str
        The SQLite database (created if missing; ``":memory:"`` keeps nothing).
    token : str, optional
        When given, every ``/v1`` request and ``/metrics`` need
        ``Authorization: Bearer <token>``.
    durability : {"full", "normal"}
        "full": every commit is fsynced before the answer; "normal": a commit
        survives the process being killed, not a power loss.
    max_body_bytes : int
        Larger request bodies get 413.

    Notes
    -----
    The app's lifespan opens the database and loads every stream (so run it
    with lifespan on, as uvicorn and Starlette's TestClient do), and at
    shutdown finishes the queued batches and closes the database.
    ``app.state.engine`` is the :class:`~streamopt.service.engine.Engine`.
    """
    if max_body_bytes < 1:
        raise ValueError(f"max_body_bytes must be >= 1, got {max_body_bytes!r}")
    engine = Engine(db, durability)

    async def healthz(request: Request) -> Response:
        if not engine.started:
            return _error(503, "starting or stopping")
        return _json(200, {"status": "ok"})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def openapi(request: Request) -> Response:
        return _json(200, OPENAPI)

    async def list_streams(request: Request) -> Response:
        await engine.committed()
        return _json(200, {"streams": sorted(engine.streams)})

    async def put_stream(request: Request) -> Response:
        name = check_name(request.path_params["name"])
        params, times = parse_config(_loads(await _read_body(request, max_body_bytes)))
        status, body = await engine.create(name, canonical_config(params, times))
        return _json(status, body)

    async def get_stream(request: Request) -> Response:
        name = request.path_params["name"]
        await engine.committed()
        return _json(200, engine.info(name))

    async def delete_stream(request: Request) -> Response:
        name = request.path_params["name"]
        engine.entry(name)
        await engine.delete(name)
        return Response(status_code=204)

    async def post_observations(request: Request) -> Response:
        name = request.path_params["name"]
        engine.entry(name)  # 404 before reading the body
        results = _flag(request, "results", True)
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if kind not in ("application/json", "text/csv", "", "application/x-www-form-urlencoded"):  # curl -d
            raise ApiError(415, f"Content-Type must be application/json or text/csv, got {kind[:60]!r}")
        body = await _read_body(request, max_body_bytes)
        if kind == "text/csv":
            def parse() -> Any:
                return parse_csv_batch(body, request.query_params.get("producer"), request.query_params.get("seq"))
        else:
            def parse() -> Any:
                return parse_json_batch(_loads(body))
        batch = await run_in_threadpool(parse) if len(body) > _PARSE_IN_THREAD_BYTES else parse()
        status, answer = await engine.post(name, batch, results)
        return _json(status, answer)

    async def list_keys(request: Request) -> Response:
        name = request.path_params["name"]
        text = request.query_params.get("limit", "100")
        if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
            raise ApiError(400, f"limit: must be an integer in [1, {MAX_PAGE}], got {text[:40]!r}")
        await engine.committed()
        return _json(200, engine.keys_page(name, request.query_params.get("after"), int(text)))

    async def get_key(request: Request) -> Response:
        await engine.committed()
        return _json(200, engine.key_state(request.path_params["name"], request.path_params["key"]))

    async def read_body(request: Request) -> bytes:
        return await _read_body(request, max_body_bytes)

    routes = [
        *_web_routes(engine, read_body, _loads, _json),  # models, a stream's recent window, the dashboard
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/v1/streams", list_streams, methods=["GET"]),
        Route("/v1/streams/{name}", put_stream, methods=["PUT"]),
        Route("/v1/streams/{name}", get_stream, methods=["GET"]),
        Route("/v1/streams/{name}", delete_stream, methods=["DELETE"]),
        Route("/v1/streams/{name}/observations", post_observations, methods=["POST"]),
        Route("/v1/streams/{name}/keys", list_keys, methods=["GET"]),
        Route("/v1/streams/{name}/keys/{key:path}", get_key, methods=["GET"]),
    ]
    labels = {route.endpoint: route.path.replace(":path", "") for route in routes}

    registry = CollectorRegistry(auto_describe=True)
    requests = Counter("streamopt_requests", "HTTP requests by method, route and status.",
                       ["method", "route", "status"], registry=registry)
    latency = Histogram("streamopt_request_seconds", "HTTP request latency by route.", ["route"],
                        buckets=(.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10), registry=registry)
    registry.register(_EngineCollector(engine))
    registry.register(ModelCollector(engine))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await engine.start()
        try:
            yield
        finally:
            await engine.stop()

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _error(exc.status, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return _error(404, f"no route {request.url.path!r} (see /openapi.json)")
        if exc.status_code == 405:
            return _error(405, f"method {request.method} is not allowed on {request.url.path!r}",
                          {"Allow": (exc.headers or {}).get("Allow", "")})
        return _error(exc.status_code, str(exc.detail))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal error (logged by the server)")

    handlers: dict[Any, Callable[..., Any]] = {ApiError: api_error, HTTPException: http_error, Exception: server_error}
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers,
                    middleware=[Middleware(_Gate, token=token, requests=requests, latency=latency, routes=labels)])
    app.state.engine = engine
    return app


# ------------------------------------------------------------------ OpenAPI
def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description: str, schema: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {"application/json": {"schema": _ref(schema)}}
    return out


_ERRORS = {code: _answer(text, "Error") for code, text in (
    ("400", "malformed body, wrong type, bad value (the message names the field and index)"),
    ("401", "missing or wrong bearer token"), ("404", "no such stream or key"))}
_NAME = {"name": "name", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$"}}
_NUMBERS = {"type": "array", "items": {"type": ["number", "null"]}}

#: The OpenAPI 3.1 document of the service (``GET /openapi.json``).
OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "streamopt statistics service", "version": "1",
             "description": "Keyed exponentially weighted statistics over HTTP, durable in SQLite, exactly once."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
            "Config": {"type": "object", "additionalProperties": False, "properties": {
                "halflife": {"type": ["number", "string"],
                             "description": "a number of observations, or a time span such as \"1h\""},
                "com": {"type": "number"}, "span": {"type": "number"}, "alpha": {"type": "number"},
                "adjust": {"type": "boolean", "default": True}, "ignore_na": {"type": "boolean", "default": False},
                "min_periods": {"type": "integer", "minimum": 0, "default": 0},
                "stats": {"type": "array", "items": {"enum": ["mean", "var", "std"]}, "default": ["mean"]},
                "times": {"type": "boolean", "description": "observations carry times (a time-span halflife)"}}},
            "Stream": {"type": "object", "properties": {
                "name": {"type": "string"}, "config": _ref("Config"), "keys": {"type": "integer"},
                "observations": {"type": "integer"}, "batches": {"type": "integer"}, "producers": {"type": "integer"}}},
            "Batch": {"type": "object", "required": ["keys", "values"], "additionalProperties": False, "properties": {
                "producer": {"type": "string"}, "seq": {"type": "integer", "minimum": 0},
                "keys": {"type": "array", "items": {"type": ["string", "integer"]}},
                "values": _NUMBERS,
                "times": {"type": "array", "items": {"type": ["string", "integer"]},
                          "description": "ISO-8601 or integer nanoseconds since the epoch"}}},
            "Applied": {"type": "object", "properties": {
                "applied": {"type": "integer"}, "duplicate": {"type": "boolean"},
                "batch": {"type": ["integer", "null"], "description": "the stream's batch number, in applied order"},
                "results": {"type": "object", "additionalProperties": _NUMBERS}}},
            "Key": {"type": "object", "properties": {
                "key": {"type": ["string", "integer"]}, "count": {"type": "integer"},
                "time": {"type": ["string", "null"]}, "time_ns": {"type": ["integer", "null"]},
                "mean": {"type": ["number", "null"]}, "var": {"type": ["number", "null"]},
                "std": {"type": ["number", "null"]}}},
            "Keys": {"type": "object", "properties": {
                "keys": {"type": "array", "items": {"type": ["string", "integer"]}},
                "next": {"type": ["string", "integer", "null"]}}},
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/healthz": {"get": {"summary": "liveness", "security": [],
                             "responses": {"200": {"description": "serving"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text format"}}}},
        "/openapi.json": {"get": {"summary": "this document", "security": [],
                                  "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        "/v1/streams": {"get": {"summary": "stream names", "responses": {
            "200": {"description": "{\"streams\": [...]}"}, "401": _ERRORS["401"]}}},
        "/v1/streams/{name}": {
            "parameters": [_NAME],
            "put": {"summary": "create a stream (idempotent)",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Config")}}},
                    "responses": {"201": _answer("created", "Stream"),
                                  "200": _answer("exists with this configuration", "Stream"),
                                  "409": _answer("exists with another configuration", "Error"), **_ERRORS}},
            "get": {"summary": "configuration and counts",
                    "responses": {"200": _answer("the stream", "Stream"), **_ERRORS}},
            "delete": {"summary": "delete a stream and its state",
                       "responses": {"204": {"description": "deleted"}, **_ERRORS}},
        },
        "/v1/streams/{name}/observations": {
            "parameters": [_NAME],
            "post": {"summary": "apply a batch, exactly once, durably",
                     "parameters": [
                         {"name": "results", "in": "query", "schema": {"type": "boolean", "default": True}},
                         {"name": "producer", "in": "query", "schema": {"type": "string"},
                          "description": "text/csv bodies"},
                         {"name": "seq", "in": "query", "schema": {"type": "integer"},
                          "description": "text/csv bodies"}],
                     "requestBody": {"required": True, "content": {
                         "application/json": {"schema": _ref("Batch")},
                         "text/csv": {"schema": {"type": "string",
                                                 "description": "header key,value or key,time,value"}}}},
                     "responses": {"200": _answer("applied and committed, or a duplicate", "Applied"), **_ERRORS,
                                   "413": _answer("body over --max-body-bytes", "Error"),
                                   "415": _answer("not JSON or CSV", "Error"),
                                   "422": _answer("a time before its key's last time; nothing applied", "Error"),
                                   "503": _answer("the commit failed; nothing applied, retry", "Error")}},
        },
        "/v1/streams/{name}/keys": {
            "parameters": [_NAME],
            "get": {"summary": "keys in order of first appearance, a page at a time",
                    "parameters": [{"name": "after", "in": "query", "schema": {"type": "string"}},
                                   {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                               "maximum": MAX_PAGE, "default": 100}}],
                    "responses": {"200": _answer("a page", "Keys"), **_ERRORS}},
        },
        "/v1/streams/{name}/keys/{key}": {
            "parameters": [_NAME, {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"summary": "a key's statistics", "responses": {"200": _answer("the key", "Key"), **_ERRORS}},
        },
    },
}

_paths, _schemas = _web_openapi(_ref, _answer, _NAME)
OPENAPI["paths"].update(_paths)
OPENAPI["components"]["schemas"].update(_schemas)
OPENAPI["info"]["title"] = "streamopt service"
OPENAPI["info"]["description"] = ("Keyed exponentially weighted statistics and online training over HTTP, durable "
                                  "in SQLite, exactly once.")
