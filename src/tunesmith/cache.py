"""On-disk cache of extracted melodies, one entry per file or ABC tune.

One SQLite database (``melodies.sqlite`` in the cache folder) rather than a file per entry:
writing a JSON file per MIDI file took a quarter of a cold prepare's time. Entries are
committed at least every second, and at the end of every read, so an interrupted prepare
loses at most the last second of work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from tunesmith.sources import Item

log = logging.getLogger(__name__)

#: Bump when reading or extraction changes what a cached entry would hold.
CACHE_VERSION = 6


def default_cache_dir() -> Path:
    """``$TUNESMITH_CACHE``, else ``$XDG_CACHE_HOME/tunesmith``, else ``~/.cache/tunesmith``."""
    if os.environ.get("TUNESMITH_CACHE"):
        return Path(os.environ["TUNESMITH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tunesmith"


class MelodyCache:
    """Maps (file identity, tune, extraction options) to a melody or a skip reason.

    A file's identity is its resolved path, size and modification time, so an edited file
    is read again; ABC tunes are keyed by their own text as well. Only the process that
    reads (never its workers) uses the cache.
    """

    def __init__(self, root: Path | None, options: dict[str, Any]) -> None:
        self.root = root
        self._options = json.dumps(options, sort_keys=True)
        self._db: sqlite3.Connection | None = None
        self._broken = False
        self._pending = 0
        self._committed = time.monotonic()

    def key(self, item: Item) -> str | None:
        try:  # os.path on strings: pathlib's objects cost more than the stat, per file
            st = os.stat(item.path)
        except OSError:
            return None
        text_hash = hashlib.sha1((item.text or "").encode()).hexdigest()
        raw = f"{CACHE_VERSION}|{os.path.realpath(item.path)}|{st.st_size}|{st.st_mtime_ns}|"
        raw += f"{item.tune}|{text_hash}|{self._options}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def _connection(self) -> sqlite3.Connection | None:
        if self.root is None or self._broken:
            return None
        if self._db is None:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.root / "melodies.sqlite", timeout=30)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, entry TEXT)")
                db.commit()
            except sqlite3.Error as exc:
                self._give_up(exc)
                return None
            self._db = db
        return self._db

    def _give_up(self, exc: Exception) -> None:
        """A cache that cannot be used only costs time: read everything, say so once."""
        log.warning("melody cache %s unusable (%s): reading without it", self.root, exc)
        self._broken = True
        self._db = None

    def get(self, key: str | None) -> dict[str, Any] | None:
        db = self._connection()
        if db is None or key is None:
            return None
        try:
            row = db.execute("SELECT entry FROM entries WHERE key = ?", (key,)).fetchone()
            return json.loads(row[0]) if row else None
        except (sqlite3.Error, ValueError):
            return None  # a damaged entry: read the file again

    def put(self, key: str | None, entry: dict[str, Any]) -> None:
        db = self._connection()
        if db is None or key is None:
            return
        try:
            db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?)", (key, json.dumps(entry)))
            self._pending += 1
            if self._pending >= 256 or time.monotonic() - self._committed > 1.0:
                self.flush()
        except sqlite3.Error as exc:
            self._give_up(exc)

    def flush(self) -> None:
        """Commit what was put: an interrupted prepare then finds it next time."""
        if self._db is None or not self._pending:
            return
        try:
            self._db.commit()
        except sqlite3.Error as exc:
            self._give_up(exc)
        self._pending = 0
        self._committed = time.monotonic()
