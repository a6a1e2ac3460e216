"""``streamopt serve``: run the statistics service (HTTP on uvicorn, state in SQLite).

``DESCRIPTION`` and ``EPILOG`` below are the ``--help`` text: the contract
(durability, exactly once), the security model and the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import signal
import socket
from collections.abc import Iterator
from typing import Any

from . import CLIError, emit, positive_int

DESCRIPTION = """\
Run the statistics service: producers POST batches of keyed observations,
the service keeps exponentially weighted statistics per key (streamopt.EWMStream)
and answers queries, over HTTP with JSON (API: GET /openapi.json).

Prints the URL it listens on, then serves until SIGTERM or SIGINT (Ctrl-C):
it stops taking connections, finishes the requests in flight, commits the
queued batches and closes the database.
"""

EPILOG = """\
contract:
  A 2xx answer to a batch means it is committed in the database (fsynced
  with --durability full).  A batch is applied whole or not at all.  A batch
  with a producer and a seq at or below that producer's last applied seq is
  a duplicate: 200 with "duplicate": true, nothing applied; so a producer
  that retries after a timeout or a crash never counts a batch twice.  A
  rejected batch (4xx) does not use up its seq.

durability:
  full    every commit is fsynced before the answer: survives power loss
  normal  survives a killed server, may lose the last commits on power loss
  (--db :memory: keeps nothing: for measurements only)

security:
  With a token (--token, or the environment variable STREAMOPT_TOKEN, which
  keeps it out of the process list) every /v1 request and /metrics need
  'Authorization: Bearer <token>'.  Without a token the server listens only
  on a loopback address (127.0.0.1, ::1, localhost).  There is no TLS: put
  a TLS-terminating proxy in front of a server reached over a network.

exit status:
  0 stopped by SIGTERM or SIGINT; 2 bad arguments, an address that cannot be
  used, or a database that cannot be used (corrupt, written by a newer
  streamopt, or in use by another server).

examples:
  streamopt serve --db stats.db
  STREAMOPT_TOKEN=s3cret streamopt serve --host 0.0.0.0 --port 8080
"""


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 65535], got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 65535], got {text!r}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``serve``."""
    p = sub.add_parser("serve", help="run the statistics service (HTTP, SQLite, exactly once)",
                       description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", default="streamopt.db", metavar="PATH",
                   help="the SQLite database, created if missing (default: %(default)s; :memory: keeps nothing)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=_port, default=8000, help="port (default: %(default)s; 0: a free one)")
    p.add_argument("--token", default=None,
                   help="bearer token that /v1 and /metrics require (default: $STREAMOPT_TOKEN)")
    p.add_argument("--durability", choices=("full", "normal"), default="full",
                   help="fsync every commit (full, default) or not (normal)")
    p.add_argument("--max-body-bytes", type=positive_int, default=64 * 2**20, metavar="N",
                   help="largest request body; larger ones get 413 (default: %(default)s = 64 MiB)")
    p.set_defaults(func=run)


def _is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (SO_REUSEADDR, so a restart takes its port back at once)."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise CLIError(f"--host {host}: cannot resolve it: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise CLIError(f"--host {host} --port {port}: cannot listen there: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.contextmanager
def _no_reraise(server: Any) -> Iterator[None]:
    """uvicorn's signal capture, without raising the signal again after the graceful stop (exit status 0)."""
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, server.handle_exit) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; returns 0."""
    token = args.token if args.token is not None else os.environ.get("STREAMOPT_TOKEN") or None
    if token is not None and not token.strip():
        raise CLIError("--token: must not be empty or blank")
    if token is None and not _is_loopback(args.host):
        raise CLIError(f"--host {args.host}: refusing to listen on a non-loopback address without a token "
                       "(set STREAMOPT_TOKEN or --token, or use --host 127.0.0.1)")
    import uvicorn

    from ..service import create_app
    from ..service.store import StoreError

    app = create_app(args.db, token, durability=args.durability, max_body_bytes=args.max_body_bytes)
    engine = app.state.engine
    sock = _listen(args.host, args.port)
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False,
                            timeout_graceful_shutdown=30, server_header=False)
    server = uvicorn.Server(config)
    server.capture_signals = lambda: _no_reraise(server)  # type: ignore[method-assign]

    async def main() -> None:
        try:
            await engine.start()
        except StoreError as exc:
            raise CLIError(f"--db {args.db}: {exc}") from None
        try:
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started and not serving.done():
                await asyncio.sleep(0.01)
            if server.started:
                emit(f"streamopt serve: listening on {_url(sock)} (db {args.db}, durability {args.durability})\n")
            await serving
        finally:
            await engine.stop()

    try:
        asyncio.run(main())
    finally:
        sock.close()
    return 0
