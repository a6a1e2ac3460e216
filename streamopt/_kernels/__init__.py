"""Numba kernels: plain loops over contiguous arrays, no validation (the public API checks everything).

Numba's on-disk cache (``cache=True``) checks only the timestamp of the file
that defines a kernel, but kernels here call kernels of other files (the
training loop compiles in the optimizer steps and the shuffle).  After an
edit of one file (or a ``git pull`` into an editable install), the cached
machine code of a kernel in another file would still hold the old code.  So on
import, a digest of every kernel source is compared with the one recorded
beside the cache; when they differ, this folder's cache files are removed and
rebuilt on first use.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: The digest of the kernel sources that the cache files in ``__pycache__`` were built from.
STAMP_NAME = "streamopt-kernels.sha256"


def sources_digest(folder: Path) -> str:
    """SHA-256 over the names and contents of the ``*.py`` files of ``folder``, in name order."""
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def drop_stale_cache(folder: Path) -> bool:
    """Remove ``folder/__pycache__``'s Numba cache files unless they were built from the current sources.

    Returns True when files were removed or the stamp was (re)written.  A
    folder that cannot be written (a read-only install, where Numba caches in
    its user-wide folder instead) is left alone.
    """
    cache = folder / "__pycache__"
    stamp = cache / STAMP_NAME
    digest = sources_digest(folder)
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    try:
        cache.mkdir(exist_ok=True)
        for path in cache.glob("*.nb[ci]"):
            path.unlink(missing_ok=True)
        tmp = cache / f"{STAMP_NAME}.{os.getpid()}.tmp"
        tmp.write_text(digest)
        os.replace(tmp, stamp)
    except OSError:
        return False
    return True


drop_stale_cache(Path(__file__).resolve().parent)
