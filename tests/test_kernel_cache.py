"""The kernels' on-disk cache is dropped when any kernel source changes (Numba alone watches one file)."""

from __future__ import annotations

from pathlib import Path

from streamopt import _kernels


def _fake_cache(folder: Path) -> list[Path]:
    cache = folder / "__pycache__"
    cache.mkdir(exist_ok=True)
    files = [cache / "a.kernel-10.py311.nbi", cache / "a.kernel-10.py311.1.nbc"]
    for f in files:
        f.write_bytes(b"compiled")
    return files


def test_cache_kept_while_sources_unchanged_and_dropped_after_an_edit(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    files = _fake_cache(tmp_path)
    # no stamp yet: the cache's origin is unknown, so it goes
    assert _kernels.drop_stale_cache(tmp_path)
    assert not any(f.exists() for f in files)
    stamp = tmp_path / "__pycache__" / _kernels.STAMP_NAME
    assert stamp.read_text() == _kernels.sources_digest(tmp_path)

    files = _fake_cache(tmp_path)
    assert not _kernels.drop_stale_cache(tmp_path)        # same sources: kept
    assert all(f.exists() for f in files)

    (tmp_path / "b.py").write_text("y = 3\n")             # an edit of *another* file than a.py
    assert _kernels.drop_stale_cache(tmp_path)
    assert not any(f.exists() for f in files)
    assert not _kernels.drop_stale_cache(tmp_path)        # and the new stamp holds


def test_digest_sees_names_and_contents(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    first = _kernels.sources_digest(tmp_path)
    (tmp_path / "a.py").rename(tmp_path / "c.py")
    assert _kernels.sources_digest(tmp_path) != first
    (tmp_path / "c.py").rename(tmp_path / "a.py")
    assert _kernels.sources_digest(tmp_path) == first


def test_the_package_cache_is_stamped_with_its_sources():
    folder = Path(_kernels.__file__).parent
    stamp = folder / "__pycache__" / _kernels.STAMP_NAME
    assert stamp.read_text() == _kernels.sources_digest(folder)


def test_the_digest_covers_every_kernel_file():
    """Every module that defines kernels (the EWA kernels are split over several files) is one of the
    files the digest reads: the kernel folder has no subfolder of sources."""
    import importlib
    import pkgutil

    folder = Path(_kernels.__file__).parent
    read = {p.name for p in folder.glob("*.py")}
    for info in pkgutil.iter_modules([str(folder)]):
        assert not info.ispkg, info.name
        module = importlib.import_module(f"streamopt._kernels.{info.name}")
        assert Path(module.__file__).name in read
    assert {"ewa_correction.py", "ewa_mean.py", "ewa_stream.py", "ewa_var.py"} <= read


def test_every_ewa_kernel_reloads_from_the_cache():
    """Each EWA entry point run first in fresh processes (after the first, every kernel loads from the
    on-disk cache): a kernel whose cached code cannot be reloaded on its own (e.g. one calling a
    parallel kernel) would crash there."""
    import os
    import subprocess
    import sys

    setup = ("import importlib, numpy as np, streamopt\nE = importlib.import_module('streamopt.ewa')\n"
             "x = np.random.default_rng(0).normal(size=(50, 9)); x[3, 1] = np.nan; x[7, 2] = np.inf\n")
    entries = [
        "s = streamopt.EWA(0.9, bias_correction=True); s.update(x[:, 0].copy()); s.update(1.0); s.value",
        "s = streamopt.EWA(0.9); s.update(np.ones(3)); s.update(np.ones(3))",
        "s = streamopt.EWA(0.9, bias_correction=True); s.update(x); s.update(x); s.value",
        "s = streamopt.EWA(0.9); s.update(np.asfortranarray(x)); s.update(np.asfortranarray(x))",
        "E.PARALLEL_MIN_BYTES = 0; s = streamopt.EWA(0.9); s.update(np.asfortranarray(x)); s.update(x.T.T)",
        "E.PARALLEL_MIN_BYTES = 0; streamopt.ewa(np.asfortranarray(x), 0.9, bias_correction=True)",
        "streamopt.ewa(x, 0.9, bias_correction=True); streamopt.ewa(x[:, 0].copy(), 0.9)",
        "streamopt.ewa(x.astype(np.float32), 0.9); streamopt.ewvar(x, 0.9); streamopt.ewvar(x.T, 0.9, axis=1)",
    ]
    namespace: dict = {}
    exec(setup + "E.PARALLEL_MIN_BYTES, saved = 0, E.PARALLEL_MIN_BYTES\n"  # this process first: the
         "streamopt.ewa(np.asfortranarray(x), 0.9)\nE.PARALLEL_MIN_BYTES = saved\n", namespace)  # parallel kernel
    for entry in entries:
        exec(entry, namespace)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for entry in entries:
        res = subprocess.run([sys.executable, "-c", setup + entry + "\nprint('ok')"], capture_output=True,
                             text=True, env=env, timeout=600)
        assert res.returncode == 0 and res.stdout.strip() == "ok", (entry, res.returncode, res.stderr[-2000:])
