"""The prepared-corpus store: its report, its cache key, and writing it whole or not at all."""

from __future__ import annotations

import hashlib
import io
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.config import DataConfig, read_json, write_json
from tunesmith.errors import WriteError, write_failed
from tunesmith.read.cache import CACHE_VERSION
from tunesmith.read.sources import Item
from tunesmith.version import __version__


@dataclass
class PrepareReport:
    """What a prepare did: counts, skips with reasons, sizes, time."""

    out: str
    items: int = 0
    kept: int = 0
    from_cache: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    tokens: int = 0
    vocab_size: int = 0
    seconds: float = 0.0
    up_to_date: bool = False
    augmented: int = 0  # copies in other keys among the pieces kept (--augment-keys)
    durations: dict[str, int] = field(default_factory=dict)  # note length (quarters) -> notes
    pitches: dict[str, int] = field(default_factory=dict)  # MIDI pitch -> notes

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``--report FILE.json``)."""
        data = asdict(self)
        data["skipped"] = self.skipped_entries()
        data["skip_reasons"] = dict(self.skip_reasons.most_common())
        return data

    def skipped_entries(self) -> list[dict[str, str]]:
        """The skips as the manifest and ``--report`` list them."""
        return [{"item": label, "reason": reason} for label, reason in self.skipped]

    @property
    def skip_reasons(self) -> Counter[str]:
        """Skips counted by kind of reason (the reason without its details)."""
        return Counter(reason.split(" (")[0] for _, reason in self.skipped)


def corpus_key(sources: list[str], config: DataConfig, keys: list[str | None], items: list[Item]):
    h = hashlib.sha256(f"{CACHE_VERSION}|{__version__}|{config.to_dict()}|{sources}".encode())
    for key, it in zip(keys, items, strict=True):
        h.update((key or it.label).encode())
    return h.hexdigest()


def write_corpus(
    out: Path,
    tokens: np.ndarray,
    documents: dict[str, Any],
    arrays: dict[str, np.ndarray] | None = None,
) -> None:
    """Write ``tokens.npy``, the other ``arrays`` (name: array, such as the form context)
    and the JSON ``documents`` (name: content) into ``out``.

    Everything is written under temporary names first and renamed into place only when all
    of it is written, the last document last (the manifest, which says the corpus is
    built): a full disk leaves the previous corpus whole, never new tokens beside an old
    vocabulary.

    :raise WriteError: when a file cannot be written; the temporary files are removed.
    """
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"tokens.npy": tokens, **(arrays or {})}
    staged = [(out / f".{name}.tmp", out / name) for name in arrays]
    staged += [(out / f".{name}.new", out / name) for name in documents]
    try:
        for (tmp, _), array in zip(staged, arrays.values(), strict=False):
            buffer = io.BytesIO()  # written by Python, so a full disk says ENOSPC (numpy's
            np.save(buffer, array)  # own short write names only the byte counts)
            with open(tmp, "wb") as f:
                f.write(buffer.getbuffer())
        for (tmp, _), content in zip(staged[len(arrays) :], documents.values(), strict=True):
            write_json(tmp, content)
    except (OSError, WriteError) as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, WriteError):
            raise
        raise write_failed(staged[0][1], exc) from exc
    for tmp, target in staged:
        os.replace(tmp, target)


def report_from_manifest(manifest: dict[str, Any], out: Path) -> PrepareReport:
    return PrepareReport(
        out=str(out),
        items=manifest["items"],
        kept=manifest["kept"],
        from_cache=manifest["items"],
        skipped=[(s["item"], s["reason"]) for s in manifest["skipped"]],
        tokens=manifest["tokens"],
        vocab_size=manifest["vocab_size"],
        seconds=manifest["seconds"],
        augmented=manifest.get("augmented", 0),
        durations=manifest.get("durations", {}),
        pitches=manifest.get("pitches", {}),
    )


def is_prepared(path: str | Path) -> bool:
    path = Path(path)
    return (path / "manifest.json").is_file() and (path / "tokens.npy").is_file()


def previous_manifest(out: Path, key: str) -> dict[str, Any] | None:
    """The manifest of the corpus already in ``out`` if it was built from the same input
    (the same :func:`corpus_key`) and is whole, else None: such a corpus is reused."""
    if not ((out / "manifest.json").exists() and (out / "tokens.npy").exists()):
        return None
    try:
        old = read_json(out / "manifest.json")
    except ValueError:
        return None
    return old if old.get("corpus_key") == key else None


def manifest_header(
    report: PrepareReport, key: str, sources: list[str], config: DataConfig
) -> dict[str, Any]:
    """The fields every corpus manifest opens with (melody and poly corpora alike)."""
    return {
        "tunesmith_version": __version__,
        "corpus_key": key,
        "sources": sources,
        "data": config.to_dict(),
        "items": report.items,
        "kept": report.kept,
        "tokens": report.tokens,
        "vocab_size": report.vocab_size,
        "seconds": round(report.seconds, 3),
    }
