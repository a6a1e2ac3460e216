"""A real ``python -m streamopt serve`` process on loopback, for the service and client tests.

``Server(db)`` starts one on a free port (``--port 0``, the URL read from its
first line of output) and waits for ``/healthz`` in a bounded loop;
``stop()`` sends SIGTERM, then SIGKILL after a timeout; ``kill9()`` kills it
at once; ``restart()`` starts it again on the same database and port.  Its
standard error goes to a file, shown by :meth:`Server.log` in assertion
messages.  Use it as a context manager so that it is always stopped::

    with Server(tmp_path / "s.db") as server:
        httpx.get(server.url + "/healthz")
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import httpx

ROOT = Path(__file__).resolve().parents[1]
#: Seconds a start may take (imports, loading the database) before the test fails.
START_TIMEOUT = 60.0


class Server:
    """One server process; ``url``, ``token``, ``headers`` for requests, ``db`` its database."""

    def __init__(self, db: str | Path = ":memory:", *, token: str | None = None, durability: str = "full",
                 args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        self.db = str(db)
        self.token = token
        self.durability = durability
        self.args = tuple(args)
        self.env = env
        self.port = 0
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="streamopt-serve-", suffix=".log", delete=False)
        self.starts = 0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client on the server's URL with its token."""
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=kwargs.pop("timeout", 30), **kwargs)

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "streamopt", "serve", "--db", self.db, "--port", str(self.port),
               "--durability", self.durability, *self.args]
        return cmd + (["--token", self.token] if self.token else [])

    def start(self) -> "Server":
        """Start the process and wait until it answers /healthz (bounded by :data:`START_TIMEOUT`)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.pop("STREAMOPT_TOKEN", None)
        env.update(self.env or {})
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=self._log, env=env, cwd=ROOT)
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT
        line = self._first_line(deadline)
        match = re.search(r"http://(\S+):(\d+)", line)
        assert match, f"the server printed {line!r}, not its URL; log:\n{self.log()}"
        self.url = f"http://{match.group(1)}:{match.group(2)}"
        self.port = int(match.group(2))
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, f"the server exited ({self.proc.returncode}); log:\n{self.log()}"
            assert time.monotonic() < deadline, f"no /healthz within {START_TIMEOUT} s; log:\n{self.log()}"
            time.sleep(0.05)

    def _first_line(self, deadline: float) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        data = b""
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill9()
                raise AssertionError(f"the server printed no URL within {START_TIMEOUT} s; log:\n{self.log()}")
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    self.proc.wait(10)
                    raise AssertionError(f"the server exited ({self.proc.returncode}) before printing its URL; "
                                         f"log:\n{self.log()}")
                data += chunk
        return data.decode(errors="replace")

    def stop(self, timeout: float = 15.0, sig: int = signal.SIGTERM) -> int | None:
        """``sig`` (SIGTERM), then SIGKILL after ``timeout`` s; the exit status (None if it was not running)."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
        return proc.returncode

    def kill9(self) -> None:
        """Kill the process at once (SIGKILL), as a crash would."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()

    def restart(self) -> "Server":
        """Start again on the same database and port (after :meth:`kill9` or :meth:`stop`)."""
        self.kill9()
        return self.start()

    def log(self) -> str:
        """What the server wrote on standard error (the last 4000 characters)."""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-4000:]

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        self._log.close()
        os.unlink(self._log.name)


def post_until_acknowledged(client: Any, path: str, body: Any, deadline: float, who: str,
                            retried: Callable[[], None]) -> tuple[Any, str | None]:
    """POST ``body`` until a 200 (retrying transport errors and 5xx with backoff, as a producer
    does across a server's crash), a 4xx, or ``deadline`` (``time.monotonic()``); ``retried()`` is
    called before each retry. Returns (the 200 response or None, an error message or None)."""
    pause = 0.02
    while True:
        if time.monotonic() > deadline:
            return None, f"{who} not acknowledged before the deadline"
        try:
            r = client.post(path, json=body)
        except httpx.TransportError:
            r = None
        if r is not None and r.status_code == 200:
            return r, None
        if r is not None and r.status_code < 500:
            return None, f"{who} refused: {r.status_code} {r.text}"
        retried()
        time.sleep(pause)
        pause = min(pause * 2, 0.25)
