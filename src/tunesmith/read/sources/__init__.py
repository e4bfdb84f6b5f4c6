"""Find music in a source (a folder, a file, a bundled corpus) and read it into Pieces."""

from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import SourceError
from tunesmith.read.sources.base import Part, Piece

MIDI_SUFFIXES = (".mid", ".midi")
SCORE_SUFFIXES = (".xml", ".mxl", ".musicxml", ".krn")
ABC_SUFFIXES = (".abc",)
SUFFIXES = MIDI_SUFFIXES + SCORE_SUFFIXES + ABC_SUFFIXES

#: Larger files are skipped unread. The largest score in music21's corpus is under 2 MB and
#: a long MIDI file well under 1 MB: a 64 MB "music" file is a mistake or an attack.
MAX_FILE_BYTES = 64 << 20

#: Corpora that ship inside the music21 package: name -> (folder in music21's corpus,
#: file suffixes, file-name prefix, what it is).
BUNDLED: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "essen": ("essenFolksong", (".abc",), "", "Essen folk songs (ABC, ~8,500 tunes)"),
    "chorales": ("bach", (".mxl", ".xml"), "bwv", "Bach chorales (MusicXML, soprano line)"),
    "oneills": ("oneills1850", (".abc",), "", "O'Neill's Music of Ireland (ABC, ~2,000 tunes)"),
}

__all__ = ["BUNDLED", "SUFFIXES", "Item", "Part", "Piece", "find_items", "read_item"]


@dataclass(frozen=True, slots=True)
class Item:
    """One unit of reading work: a file, or one tune of an ABC tune book."""

    path: str
    tune: int | None = None
    text: str | None = None

    @property
    def label(self) -> str:
        return self.path if self.tune is None else f"{self.path}#{self.tune + 1}"


def bundled_files(name: str) -> list[Path]:
    """Files of a corpus bundled with music21, sorted."""
    import music21

    folder, suffixes, prefix, _ = BUNDLED[name]
    root = Path(music21.__file__).parent / "corpus" / folder
    return sorted(
        p for p in root.iterdir() if p.suffix.lower() in suffixes and p.name.startswith(prefix)
    )


def _bundled_matches(pattern: str) -> list[Path]:
    """Files of music21's Essen collection named by ``pattern`` (``han1.abc``, ``erk*.abc``,
    ``irl``): how its collections are chosen, e.g. for one style each."""
    if "/" in pattern or os.sep in pattern:
        return []
    pattern = pattern if Path(pattern).suffix else f"{pattern}.abc"
    return [p for p in bundled_files("essen") if fnmatch.fnmatch(p.name, pattern)]


def find_files(source: str) -> list[Path]:
    """Expand one source into music files, sorted: a folder, a file, a glob pattern
    (``tunes/*.mid``), a bundled corpus name, or files of music21's Essen collection by
    name (``han1.abc``, ``erk*.abc``) when nothing here has that name.

    :raise SourceError: when the source does not exist or holds no music file.
    """
    if source in BUNDLED and not Path(source).exists():
        return bundled_files(source)
    if not Path(source).exists():
        here = sorted(Path(p) for p in glob.glob(source) if Path(p).suffix.lower() in SUFFIXES)
        if here or (found := _bundled_matches(source)):
            return here or found
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            msg = f"{path}: not a music file tunesmith reads ({', '.join(SUFFIXES)})"
            raise SourceError(msg)
        return [path]
    if path.is_dir():
        files = sorted(
            Path(root) / f
            for root, _, names in os.walk(path)
            for f in names
            if Path(f).suffix.lower() in SUFFIXES
        )
        if not files:
            msg = f"{path}: folder holds no music files ({', '.join(SUFFIXES)})"
            raise SourceError(msg)
        return files
    names = ", ".join(BUNDLED)
    msg = f"{source}: no such file or folder, and not a bundled corpus ({names})"
    raise SourceError(msg)


def find_items(sources: list[str]) -> list[Item]:
    """All reading work for the sources: one item per file, one per tune in ABC files."""
    from tunesmith.read.sources.scores import split_abc

    items: list[Item] = []
    for source in sources:
        for path in find_files(source):
            if path.suffix.lower() in ABC_SUFFIXES and not _too_large(path):
                try:
                    text = path.read_text(encoding="utf-8")
                except UnicodeDecodeError:
                    text = path.read_text(encoding="latin-1")
                except OSError:
                    text = ""  # read_item reports why, so the file is counted as skipped
                tunes = split_abc(text.removeprefix("\ufeff"))
                if not tunes:  # still one item, so the file is counted and its skip reported
                    items.append(Item(str(path)))
                items.extend(Item(str(path), i, t) for i, t in enumerate(tunes))
            else:
                items.append(Item(str(path)))
    return items


def _too_large(path: str | Path) -> bool:
    try:
        return os.stat(path).st_size > MAX_FILE_BYTES
    except OSError:
        return False  # read_item reports why it cannot be read


def read_item(item: Item) -> Piece:
    """Read one item into a Piece.

    :raise SourceError: when it cannot be read; the message names the file.
    """
    from tunesmith.read.sources.midi import read_midi
    from tunesmith.read.sources.scores import read_abc_tune, read_score_file

    if _too_large(item.path):
        size = os.stat(item.path).st_size >> 20
        msg = f"{item.path}: {size} MB is larger than a music file can sensibly be (limit "
        raise SourceError(msg + f"{MAX_FILE_BYTES >> 20} MB); skipped unread")
    suffix = os.path.splitext(item.path)[1].lower()
    if suffix in MIDI_SUFFIXES:
        return read_midi(item.path)
    if suffix in ABC_SUFFIXES:
        if item.tune is None or not item.text:
            try:
                Path(item.path).read_bytes()
            except OSError as exc:
                raise SourceError(f"{item.path}: cannot be read ({exc})") from exc
            raise SourceError(f"{item.path}: no ABC tune (no 'X:' line) found")
        return read_abc_tune(item.text, item.path, item.tune)
    try:
        return read_score_file(item.path)
    except OSError as exc:
        raise SourceError(f"{item.path}: cannot be read ({exc})") from exc
