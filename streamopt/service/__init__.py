"""The statistics service: keyed exponentially weighted statistics over HTTP, durable in SQLite, exactly once.

``streamopt serve`` runs it; :func:`create_app` gives the ASGI app to mount or
serve yourself.  Layers: :mod:`.app` (routes, auth, metrics, OpenAPI),
:mod:`.parse` (request bodies, checked), :mod:`.engine` (the streams in
memory, the one writer, group commits), :mod:`.store` (SQLite).  Needs the
``service`` extra (``pip install 'streamopt[service]'``).
"""

from .app import DEFAULT_MAX_BODY_BYTES, create_app

__all__ = ["create_app", "DEFAULT_MAX_BODY_BYTES"]
