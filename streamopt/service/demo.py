"""``streamopt demo --serve``: the service live, with its dashboard.

Starts ``streamopt serve`` (a child process on loopback), prints the
dashboard's URL, then replays the Seattle daily temperatures into the stream
``seattle`` (keys ``temp_max`` and ``temp_min``, a month per batch, a 14-day
halflife) while training the notes' moons model (``moons``: [2, 5, 2, 1],
Adam, lr 0.0007, batches of 64 in the notes' shuffled order) through the
service, both with the client (exactly once).  Then it keeps serving until
Ctrl-C or SIGTERM (or stops at once with ``--exit``).
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
from collections.abc import Callable
from typing import Any

__all__ = ["run"]

#: Seconds the server may take to print its URL.
START_TIMEOUT = 60.0


def _start(db: str, port: int, host: str) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen([sys.executable, "-m", "streamopt", "serve", "--db", db, "--host", host,
                             "--port", str(port), "--durability", "normal"], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    line = b""
    deadline = time.monotonic() + START_TIMEOUT
    while b"\n" not in line:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
        if not chunk:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"the server did not start (exit status {proc.returncode}); see its messages above")
        line += chunk
    match = re.search(r"http://\S+", line.decode(errors="replace"))
    if match is None:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the server printed {line!r}, not its URL")
    return proc, match.group(0).rstrip("/")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _exit(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def run(echo: Callable[[str], None], *, db: str | None = None, port: int = 8000, host: str = "127.0.0.1",
        epochs: int = 200, pace: float = 0.02, stay: bool = True) -> int:
    """Run the demo; ``echo`` prints a line.  Returns 0 (the server's exit status when it is stopped)."""
    from .. import epochs as notes_epochs
    from ..client import Client
    from ..datasets import load_weather, moons

    folder = None
    if db is None:
        folder = tempfile.TemporaryDirectory(prefix="streamopt-demo-")
        db = os.path.join(folder.name, "demo.db")
    proc, url = _start(db, port, host)
    try:
        echo(f"dashboard: {url}/  (database {db})")
        weather = load_weather()[["temp_max", "temp_min"]]
        months = [frame for _, frame in weather.groupby(weather.index.to_period("M"))]
        X, Y = moons(300, seed=3)
        batches = [b for epoch in notes_epochs(X, Y, 64, seed=10, n_epochs=epochs, axis=1) for b in epoch]
        per_month = -(-len(batches) // len(months))  # the two replays end together
        with Client(url, producer="streamopt-demo") as client:
            client.create_stream("seattle", halflife="14 days", stats=["mean", "std"], times=True)
            client.create_model("moons", [2, 5, 2, 1], {"name": "adam", "lr": 0.0007})
            sent = 0
            for i, month in enumerate(months):
                long = month.stack()  # (date, column) -> value: one observation per key and day
                client.send("seattle", long.index.get_level_values(1).tolist(), long.to_numpy(),
                            times=long.index.get_level_values(0), results=False)
                sent += len(long)
                for xb, yb in batches[i * per_month:(i + 1) * per_month]:
                    ack = client.learn("moons", xb.T, yb[0])
                    if pace:
                        time.sleep(pace)
            model = client.model("moons")
            state = client.get("seattle", "temp_max")
            echo(f"seattle: {sent} observations replayed; temp_max mean {state['mean']:.2f} ± "
                 f"{state['std']:.2f} °C at {state['time'][:10]}")
            echo(f"moons: {ack.step} steps; loss (EWA) {model['loss']:.4f}, "
                 f"prequential accuracy (EWA) {model['accuracy']:.3f}")
        if stay:
            signal.signal(signal.SIGTERM, _exit)  # so that the server is stopped too
            echo(f"serving {url}/ until Ctrl-C")
            try:
                proc.wait()
            except KeyboardInterrupt:
                pass
    finally:
        _stop(proc)
        if folder is not None:
            folder.cleanup()
    return 0
