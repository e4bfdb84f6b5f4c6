"""On-disk cache of extracted melodies, one entry per file or ABC tune.

One SQLite database (``melodies.sqlite`` in the cache folder) rather than a file per entry:
writing a JSON file per MIDI file took a quarter of a cold prepare's time. Entries are
committed at least every second, and at the end of every read, so an interrupted prepare
loses at most the last second of work.

Nothing in it is trusted: a database SQLite finds damaged when it is opened is moved
aside and a new one started, and every entry carries a checksum of its text, so an entry
changed on disk is read as missing (the file is read again) and never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from tunesmith.read.sources import Item

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
            path = self.root / "melodies.sqlite"
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                try:
                    db = _open(path)
                except sqlite3.DatabaseError as exc:  # damaged: start again, never trust it
                    if isinstance(exc, sqlite3.OperationalError) and not _damaged(exc):
                        raise
                    _set_aside(path, exc)
                    db = _open(path)
            except (sqlite3.Error, OSError) as exc:
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
        except sqlite3.Error:
            return None
        return _unseal(row[0]) if row else None  # a damaged entry: read the file again

    def put(self, key: str | None, entry: dict[str, Any]) -> None:
        db = self._connection()
        if db is None or key is None:
            return
        try:
            db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?)", (key, _seal(entry)))
            self._pending += 1
            if self._pending >= 256 or time.monotonic() - self._committed > 1.0:
                self.flush()
        except sqlite3.Error as exc:
            self._give_up(exc)

    def close(self) -> None:
        """Commit and close the database (it opens again if used again)."""
        self.flush()
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

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


def _open(path: Path) -> sqlite3.Connection:
    """Open the cache database, checking that SQLite finds it whole."""
    db = sqlite3.connect(path, timeout=30)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, entry TEXT)")
        db.commit()
        verdict = db.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"database disk image is malformed ({verdict})")
    except BaseException:
        db.close()
        raise
    return db


def _damaged(exc: sqlite3.OperationalError) -> bool:
    """Whether an OperationalError says the file is damaged (not busy, not locked)."""
    text = str(exc).lower()
    return any(w in text for w in ("malformed", "not a database", "corrupt", "disk i/o error"))


def _set_aside(path: Path, exc: Exception) -> None:
    """Move a damaged database (and its journal) aside, so a new one starts in its place."""
    log.warning("melody cache %s is damaged (%s): starting a new one", path, exc)
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            os.replace(part, path.with_name(path.name + suffix + ".damaged"))


def _seal(entry: dict[str, Any]) -> str:
    """An entry's JSON text with a checksum before it."""
    text = json.dumps(entry)
    return hashlib.sha1(text.encode()).hexdigest()[:16] + text


def _unseal(stored: object) -> dict[str, Any] | None:
    """The entry ``_seal`` stored, or None for one changed or damaged since."""
    if not isinstance(stored, str) or len(stored) < 17:
        return None
    digest, text = stored[:16], stored[16:]
    if hashlib.sha1(text.encode()).hexdigest()[:16] != digest:
        log.debug("a damaged melody cache entry was ignored")
        return None
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None
