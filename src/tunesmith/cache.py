"""On-disk cache of extracted melodies, one entry per file or ABC tune."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from tunesmith.sources import Item

#: Bump when reading or extraction changes what a cached entry would hold.
CACHE_VERSION = 3


def default_cache_dir() -> Path:
    """``$TUNESMITH_CACHE``, else ``$XDG_CACHE_HOME/tunesmith``, else ``~/.cache/tunesmith``."""
    if os.environ.get("TUNESMITH_CACHE"):
        return Path(os.environ["TUNESMITH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tunesmith"


class MelodyCache:
    """Maps (file identity, tune, extraction options) to a melody or a skip reason.

    A file's identity is its resolved path, size and modification time, so an edited file
    is read again; ABC tunes are keyed by their own text as well.
    """

    def __init__(self, root: Path | None, options: dict[str, Any]) -> None:
        self.root = root
        self._options = json.dumps(options, sort_keys=True)

    def key(self, item: Item) -> str | None:
        try:
            st = Path(item.path).stat()
        except OSError:
            return None
        text_hash = hashlib.sha1((item.text or "").encode()).hexdigest()
        raw = f"{CACHE_VERSION}|{Path(item.path).resolve()}|{st.st_size}|{st.st_mtime_ns}|"
        raw += f"{item.tune}|{text_hash}|{self._options}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / "melodies" / key[:2] / f"{key}.json"

    def get(self, key: str | None) -> dict[str, Any] | None:
        if self.root is None or key is None:
            return None
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing or torn entry: read the file again

    def put(self, key: str | None, entry: dict[str, Any]) -> None:
        if self.root is None or key is None:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(entry), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs time
