"""Routes of the models API, of a stream's recent window, and of the dashboard (static files).

:func:`routes` gives them to :func:`streamopt.service.create_app`, which adds
them beside the streams' routes (same auth, errors, metrics), and
:func:`openapi` gives their part of the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .models import parse_learn, parse_model_config, parse_predict
from .parse import ApiError, check_name, key_from_text
from .recent import WINDOW

__all__ = ["routes", "ModelCollector", "openapi", "STATIC"]

#: Bodies larger than this are parsed on a worker thread (as the streams' batches).
_PARSE_IN_THREAD_BYTES = 1 << 20

#: The dashboard's files (package data, ``streamopt/service/static``) and their media types.
STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8"}
#: The page only loads its own files and talks to its own server.
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
                 "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def _static(name: str) -> bytes:
    return resources.files("streamopt.service").joinpath("static", name).read_bytes()


def routes(engine: Any, read_body: Callable[[Request], Awaitable[bytes]], loads: Callable[[bytes], Any],
           respond: Callable[[int, Any], Response]) -> list[Route]:
    """The routes, on ``engine``; ``read_body``, ``loads`` and ``respond`` are the app's (body limit, JSON)."""

    async def parse_large(request: Request, parse: Callable[[Any], Any]) -> Any:
        body = await read_body(request)
        if len(body) > _PARSE_IN_THREAD_BYTES:
            return await run_in_threadpool(lambda: parse(loads(body)))
        return parse(loads(body))

    async def list_models(request: Request) -> Response:
        await engine.committed()
        return respond(200, {"models": sorted(engine.models.models)})

    async def put_model(request: Request) -> Response:
        name = check_name(request.path_params["name"])
        config = parse_model_config(loads(await read_body(request)))
        status, body = await engine.create_model(name, config)
        return respond(status, body)

    async def get_model(request: Request) -> Response:
        model = engine.models.get(request.path_params["name"])
        await engine.committed()
        points = request.query_params.get("points", "true").lower() not in ("false", "0", "no")
        return respond(200, engine.models.get(model.name).info(points))

    async def delete_model(request: Request) -> Response:
        await engine.delete_model(request.path_params["name"])
        return Response(status_code=204)

    async def model_state(request: Request) -> Response:
        model = engine.models.get(request.path_params["name"])
        await engine.committed()
        model = engine.models.get(model.name)
        return respond(200, {"name": model.name, "step": model.step, **model.saved})

    async def learn(request: Request) -> Response:
        name = request.path_params["name"]
        layers = engine.models.get(name).config["layers"]  # 404 before reading the body
        batch = await parse_large(request, lambda body: parse_learn(body, layers))
        status, answer = await engine.learn(name, batch)
        return respond(status, answer)

    async def predict(request: Request) -> Response:
        name = request.path_params["name"]
        layers = engine.models.get(name).config["layers"]
        X = await parse_large(request, lambda body: parse_predict(body, layers))
        await engine.committed()
        return respond(200, engine.models.get(name).predict(X))

    async def recent(request: Request) -> Response:
        name = request.path_params["name"]
        entry = engine.entry(name)
        text = request.query_params.get("key")
        if text is None:
            raise ApiError(400, "key: required (?key=K)")
        limit = request.query_params.get("limit", str(WINDOW))
        if not limit.isdigit() or not 1 <= int(limit) <= WINDOW:
            raise ApiError(400, f"limit: must be an integer in [1, {WINDOW}], got {limit[:40]!r}")
        await engine.committed()
        entry = engine.entry(name)
        key = key_from_text(text, bool(entry.order) and type(entry.order[0]) is int)
        if key is None or key not in entry.pos:
            raise ApiError(404, f"no key {text!r} in stream {name!r}")
        return respond(200, {"key": key, **entry.recent.get(key, int(limit))})

    async def page(request: Request) -> Response:
        return Response(_static("index.html"), media_type=STATIC["index.html"], headers=_PAGE_HEADERS)

    async def asset(request: Request) -> Response:
        name = request.path_params["file"]
        if name not in STATIC:
            raise ApiError(404, f"no file {name!r} in the dashboard")
        return Response(_static(name), media_type=STATIC[name], headers=_PAGE_HEADERS)

    return [
        Route("/", page, methods=["GET"]),
        Route("/dashboard/{file}", asset, methods=["GET"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{name}", put_model, methods=["PUT"]),
        Route("/v1/models/{name}", get_model, methods=["GET"]),
        Route("/v1/models/{name}", delete_model, methods=["DELETE"]),
        Route("/v1/models/{name}/state", model_state, methods=["GET"]),
        Route("/v1/models/{name}/learn", learn, methods=["POST"]),
        Route("/v1/models/{name}/predict", predict, methods=["POST"]),
        Route("/v1/streams/{name}/recent", recent, methods=["GET"]),
    ]


class ModelCollector:
    """The models' counters, read at scrape time."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def collect(self) -> Any:
        models = self._engine.models
        steps = CounterMetricFamily("streamopt_learn_steps", "Optimizer steps applied (acknowledged, committed).")
        steps.add_metric([], models.steps)
        yield steps
        dups = CounterMetricFamily("streamopt_learn_duplicates",
                                   "Learn batches answered as duplicates (producer and seq seen before).")
        dups.add_metric([], models.duplicates)
        yield dups
        yield GaugeMetricFamily("streamopt_models", "Models.", value=len(models.models))


# ------------------------------------------------------------------ OpenAPI
_ROWS = {"type": "array", "items": {"type": "array", "items": {"type": "number"}},
         "description": "one row per example"}
_OPTIONS = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}},
            "additionalProperties": {"type": ["number", "boolean", "string", "array"]}}


def openapi(ref: Callable[[str], dict[str, str]], answer: Callable[..., dict[str, Any]],
            name: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths, schemas) of these routes for the OpenAPI document, built with the app's helpers
    (``ref(schema)``, ``answer(description, schema)``, the ``name`` path parameter)."""
    errors = {"400": answer("malformed body, wrong type, bad value (the message names the field and index)", "Error"),
              "401": answer("missing or wrong bearer token", "Error"), "404": answer("no such model", "Error")}
    schemas = {
        "ModelConfig": {"type": "object", "required": ["layers", "optimizer"], "additionalProperties": False,
                        "properties": {
                            "layers": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2},
                            "seed": {"type": "integer", "minimum": 0, "default": 3},
                            "optimizer": {**_OPTIONS, "description": "sgd, momentum, rmsprop or adam with the "
                                                                     "options of its class (lr required)"},
                            "schedule": {"oneOf": [{"type": "null"}, {**_OPTIONS, "description":
                                         "inverse_time, exponential, inverse_sqrt or piecewise with the options "
                                         "of streamopt.schedules; step t + 1 uses lr = schedule(t)"}]}}},
        "Model": {"type": "object", "properties": {
            "name": {"type": "string"}, "config": ref("ModelConfig"), "step": {"type": "integer"},
            "producers": {"type": "integer"},
            "loss": {"type": ["number", "null"], "description": "EWA (beta 0.98, bias-corrected) of the batch loss"},
            "accuracy": {"type": ["number", "null"], "description": "EWA of the prequential accuracy"},
            "points": {"type": "object", "description": "the last 1,000 steps: step, loss, accuracy, loss_ewa, "
                                                        "accuracy_ewa (columns)"}}},
        "LearnBatch": {"type": "object", "required": ["X", "y"], "additionalProperties": False, "properties": {
            "producer": {"type": "string"}, "seq": {"type": "integer", "minimum": 0}, "X": _ROWS,
            "y": {"type": "array", "items": {"type": ["integer", "number", "array"]},
                  "description": "labels 0 or 1, one per row of X (a row of labels for several outputs)"}}},
        "Learned": {"type": "object", "properties": {
            "step": {"type": "integer", "description": "the step this batch made (1, 2, ...), or the original one"},
            "loss": {"type": "number", "description": "the batch's mean loss before the step"},
            "accuracy_before": {"type": "number", "description": "the batch's accuracy before the step"},
            "duplicate": {"type": "boolean"}}},
        "Predicted": {"type": "object", "properties": {"probability": {"type": "array"}, "label": {"type": "array"}}},
    }
    paths = {
        "/": {"get": {"summary": "the dashboard (no token needed; it asks for one)", "security": [],
                      "responses": {"200": {"description": "HTML"}}}},
        "/dashboard/{file}": {"get": {"summary": "the dashboard's script and style sheet", "security": [],
                                      "parameters": [{"name": "file", "in": "path", "required": True,
                                                      "schema": {"enum": sorted(STATIC)}}],
                                      "responses": {"200": {"description": "the file"}}}},
        "/v1/models": {"get": {"summary": "model names", "responses": {
            "200": {"description": "{\"models\": [...]}"}, "401": errors["401"]}}},
        "/v1/models/{name}": {
            "parameters": [name],
            "put": {"summary": "create a model (idempotent)",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": ref("ModelConfig")}}},
                    "responses": {"201": answer("created", "Model"),
                                  "200": answer("exists with this configuration", "Model"),
                                  "409": answer("exists with another configuration", "Error"), **errors}},
            "get": {"summary": "configuration, step, smoothed loss and accuracy, the last 1,000 points",
                    "parameters": [{"name": "points", "in": "query", "schema": {"type": "boolean", "default": True}}],
                    "responses": {"200": answer("the model", "Model"), **errors}},
            "delete": {"summary": "delete a model and its state",
                       "responses": {"204": {"description": "deleted"}, **errors}},
        },
        "/v1/models/{name}/state": {"parameters": [name], "get": {
            "summary": "the exact state: step, model (MLP.state_dict), optimizer (state_dict), ewa",
            "responses": {"200": {"description": "JSON, loadable with MLP.from_state and load_state_dict"},
                          **errors}}},
        "/v1/models/{name}/learn": {"parameters": [name], "post": {
            "summary": "one optimizer step on the mini-batch, exactly once, durably",
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("LearnBatch")}}},
            "responses": {"200": answer("applied and committed, or a duplicate (the original step)", "Learned"),
                          **errors, "413": answer("body over --max-body-bytes, or more rows than the model takes",
                                                  "Error"),
                          "422": answer("the gradient is not finite (or the schedule gives no rate); nothing "
                                        "applied", "Error"),
                          "503": answer("the commit failed; nothing applied, retry", "Error")}}},
        "/v1/models/{name}/predict": {"parameters": [name], "post": {
            "summary": "probabilities and labels of the rows of X",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["X"], "additionalProperties": False, "properties": {"X": _ROWS}}}}},
            "responses": {"200": answer("one probability and label per row", "Predicted"), **errors,
                          "413": answer("body over --max-body-bytes, or more rows than the model takes", "Error")}}},
        "/v1/streams/{name}/recent": {"parameters": [name], "get": {
            "summary": f"a key's observations in the stream's in-memory window (the stream's last {WINDOW:,} "
                       "observations, empty after a restart) with their statistics",
            "parameters": [{"name": "key", "in": "query", "required": True, "schema": {"type": "string"}},
                           {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                      "maximum": WINDOW, "default": WINDOW}}],
            "responses": {"200": {"description": "{\"key\", \"time\": [ns] | null, \"index\", \"value\", \"mean\", "
                                                 "\"std\"} (NaN as null; mean or std null when the stream keeps none)"},
                          **errors}}},
    }
    return paths, schemas
