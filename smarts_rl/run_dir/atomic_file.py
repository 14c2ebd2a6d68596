"""Files a `kill -9` may interrupt but never leave half-written."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, content: str | bytes) -> None:
    """Readers see the old content or the new, never part of it: written beside under a name of
    this process's own (two processes may write one file, e.g. migrate a run at once), flushed to
    disk, then renamed into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(content.encode() if isinstance(content, str) else content)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
