"""Key finding from the melody line alone against from every pitched part, on known keys.

Sources whose key is known, each read as ``prepare`` reads it:

- ``chorales``: Bach chorales in music21's corpus whose MusicXML states a full key (tonic
  and mode); found once with no hint (as from a MIDI file of them) and once from the key
  signature alone (as from a MusicXML file without ``<mode>``);
- ``nottingham-midi``: the Nottingham MIDI files (a melody track and a chord track), no
  hint, against the ``K:`` field (tonic and mode) of the same tune in the ABC books;
- ``nottingham-abc``: the ABC tunes, tonic from ``K:`` as ``prepare`` takes it, mode from
  analysis (the tune and its chord symbols);
- ``essen``: Essen tunes (one line: nothing else to hear) — how often the two agree.

Per source: the share of keys found right by the melody line (what ``prepare`` did) and
by the texture (every non-drum part, chord symbols included: what it does now).

Run: ``python benchmarks/keys/run.py [--quick] [--jobs N]``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common

from tunesmith.config import DataConfig
from tunesmith.keys import Key, find_key
from tunesmith.read.extract import extract_melody, texture_key
from tunesmith.read.reading import read_entries
from tunesmith.read.sources import Item, Piece, find_items

NOTTINGHAM_ABC = common.NOTTINGHAM_MIDI.parent / "abc"
_K = re.compile(r"(?m)^K:\s*([A-G][b#]?)(m?)\s*$")


def _keys(piece: Piece, config: DataConfig) -> dict[str, Any]:
    """In a worker: the key found from the melody line and from the texture, under the
    piece's own hints, and with no hint or the stated key's signature alone."""
    stated = piece.key
    # the line prepare chose before --melody auto was the default
    line = extract_melody(piece, DataConfig(melody="highest-mean", transpose=False, min_notes=1))
    pitches = [n.pitch for n in line.notes]
    lengths = [n.duration for n in line.notes]
    out: dict[str, Any] = {"stated": stated.name if stated else None}
    hints = {"own": (piece.tonic, piece.sharps), "none": (None, None)}
    if stated:
        hints["signature"] = (None, stated.sharps)
    for hint, (tonic, sharps) in hints.items():
        melody = find_key(pitches, lengths, tonic=tonic, sharps=sharps)
        bare = Piece(piece.name, piece.source, piece.parts, key=None, tonic=tonic, sharps=sharps)
        texture = texture_key(bare)
        out[hint] = {"melody": melody.name if melody else None, "texture": texture.name}
    return {"keys": out}


def _stated_in_abc(text: str) -> str | None:
    """The key an ABC tune's ``K:`` field names (``K:Em`` -> E minor); None for a mode."""
    m = _K.search(text)
    return Key.parse(m.group(1) + m.group(2)).name if m else None


def _abc_keys() -> dict[str, str]:
    """``ashover1`` -> ``G major``: the K: field of every Nottingham ABC tune, by the MIDI
    file name of the same tune (book name and X: number)."""
    out = {}
    for book in sorted(NOTTINGHAM_ABC.glob("*.abc")):
        for tune in re.split(r"(?m)^(?=X:)", book.read_text(encoding="latin-1")):
            number = re.match(r"X:\s*(\d+)", tune)
            if number and (key := _stated_in_abc(tune)):
                out[f"{book.stem}{number.group(1)}"] = key
    return out


def _score(entries: list[dict], truth: list[str | None], hint: str) -> dict[str, Any]:
    pairs = [(e["keys"][hint], t) for e, t in zip(entries, truth, strict=True) if t]
    row: dict[str, Any] = {"pieces": len(pairs)}
    for way in ("melody", "texture"):
        row[way] = sum(found[way] == t for found, t in pairs) / max(1, len(pairs))
    return row


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    print(common.describe_machine())
    limit = 24 if args.quick else 0

    def read(items: list[Item]) -> tuple[list[Item], list[dict]]:
        items = items[:limit] if limit else items
        entries, skipped, _ = read_entries(
            items, DataConfig(), jobs=args.jobs, extract=_keys, time_limit=120
        )
        labels = {label for label, _ in skipped}
        return [it for it in items if it.label not in labels], entries

    rows: list[dict[str, Any]] = []
    common.progress("chorales")
    items, entries = read(find_items(["chorales"]))
    truth = [e["keys"]["stated"] for e in entries]
    for hint in ("none", "signature"):
        rows.append({"source": "chorales", "hint": hint, **_score(entries, truth, hint)})

    if common.NOTTINGHAM_MIDI.is_dir():
        abc = _abc_keys()
        common.progress("nottingham-midi")
        items, entries = read(find_items([str(common.NOTTINGHAM_MIDI)]))
        truth = [abc.get(Path(it.path).stem) for it in items]
        rows.append({"source": "nottingham-midi", "hint": "none", **_score(entries, truth, "own")})
        common.progress("nottingham-abc")
        items, entries = read(find_items([str(NOTTINGHAM_ABC)]))
        truth = [_stated_in_abc(it.text or "") for it in items]
        rows.append({"source": "nottingham-abc", "hint": "tonic", **_score(entries, truth, "own")})

    common.progress("essen")
    essen = find_items(["essen"])
    items, entries = read(essen[:: max(1, len(essen) // 1000)])
    same = sum(e["keys"]["own"]["melody"] == e["keys"]["own"]["texture"] for e in entries)
    rows.append(
        {"source": "essen (agreement)", "hint": "tonic", "pieces": len(entries),
         "melody": same / len(entries), "texture": same / len(entries)}
    )  # fmt: skip

    common.print_table(
        "keys found right: from the melody line alone, from every pitched part",
        ["source", "hint", "pieces", "melody line", "texture"],
        [[r["source"], r["hint"], r["pieces"], r["melody"], r["texture"]] for r in rows],
    )
    common.write_results(__file__, "keys", args.quick, {"jobs": args.jobs}, rows)


if __name__ == "__main__":
    main()
