"""How often each ``--melody`` rule picks the melody, on arrangements whose melody is known.

Every part is renamed to an empty name (no name says "melody" or "soprano"), and parts are
added as arrangers add them:

- Nottingham MIDI files (the tune's track and a chord track): as they are; with a pedalled
  piano arpeggio of the chords three octaves up; with the chords as a sustained pad three
  octaves up (both above the tune); with the chords broken into eighths an octave up (a
  busy line just under the tune, where the highest mean is right);
- Bach chorales from music21's corpus (soprano, alto, tenor, bass): as they are; with a pad
  of the inner voices two octaves up, held a bar; with a held line an octave above the
  soprano, one note a bar.

For each rule (``highest-mean``, ``auto``) and arrangement, the share of pieces where the
part chosen is the tune or the soprano.

Run: ``python benchmarks/melody/run.py [--quick] [--jobs N]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common

from tunesmith.config import DataConfig
from tunesmith.read.extract import choose_part
from tunesmith.read.reading import read_entries
from tunesmith.read.sources import Piece, find_items
from tunesmith.read.sources.base import Part

RULES = ("highest-mean", "auto")
Notes = list[tuple[float, float, int]]


def _sounding(notes: Notes, t: float, default: int) -> int:
    return next((p for s, d, p in notes if s <= t < s + d), default)


def _arpeggio(chords: Notes, up: int) -> Notes:
    """Each chord note struck in turn every half beat and held a half note (a pedal)."""
    return [
        (t + k * 0.5 + (p % 3) / 6, 2.0, p + up) for t, d, p in chords for k in range(int(d * 2))
    ]


def _broken(chords: Notes, up: int) -> Notes:
    """The chords as a line of eighths: at each eighth the next note of the chord sounding."""
    end = max(t + d for t, d, _ in chords)
    out = []
    for k in range(int(end * 2)):
        t = k / 2
        sounding = sorted(p for s, d, p in chords if s <= t < s + d)
        if sounding:
            out.append((t, 0.5, sounding[k % len(sounding)] + up))
    return out


def _pad(voices: list[Notes], up: int, bar: float = 4.0) -> Notes:
    """The voices' notes at each downbeat, ``up`` semitones up, held a bar."""
    end = max(t + d for v in voices for t, d, _ in v)
    return [
        (b * bar, bar, _sounding(v, b * bar, 60) + up)
        for b in range(int(end // bar) + 1)
        for v in voices
    ]


def _nottingham(piece: Piece) -> dict[str, list[Part]]:
    tune, chords = piece.parts[0].notes, piece.parts[1].notes
    return {
        "as it is": [Part("", tune), Part("", chords)],
        "+ piano arpeggio 3 octaves up": [
            Part("", _arpeggio(chords, 36)), Part("", tune), Part("", chords)
        ],
        "+ pad 3 octaves up": [Part("", _pad([chords], 36)), Part("", tune), Part("", chords)],
        "+ broken chords an octave up": [
            Part("", tune), Part("", _broken(chords, 12)), Part("", chords)
        ],
    }  # fmt: skip


def _chorale(piece: Piece) -> dict[str, list[Part]]:
    voices = {p.name: p.notes for p in piece.parts}
    satb = [voices[name] for name in ("Soprano", "Alto", "Tenor", "Bass")]
    soprano = satb[0]
    held = [(t, 4.0, p + 12) for t, _, p in soprano if t % 4 == 0]
    anonymous = [Part("", v) for v in satb]
    return {
        "as it is": anonymous,
        "+ pad 2 octaves up": [Part("", _pad(satb[1:3], 24)), *anonymous],
        "+ held line an octave up": [*anonymous, Part("", held)],
    }


def _choices(piece: Piece, config: DataConfig) -> dict[str, Any]:
    """In a worker: for each arrangement, whether each rule chose the known melody (the
    tune's or soprano's part, whichever place it has)."""
    voices = {p.name: p.notes for p in piece.parts}
    if {"Soprano", "Alto", "Tenor", "Bass"} <= voices.keys():
        kind, arrange, known = "chorales", _chorale, voices["Soprano"]
    elif len(piece.parts) == 2:
        kind, arrange, known = "nottingham", _nottingham, piece.parts[0].notes
    else:
        return {"skip": "neither a chorale in four voices nor a tune with its chords"}
    out: dict[str, dict[str, bool]] = {}
    for arrangement, parts in arrange(piece).items():
        arranged = replace(piece, parts=parts)
        out[arrangement] = {r: choose_part(arranged, r)[0].notes is known for r in RULES}
    return {"kind": kind, "choices": out}


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    print(common.describe_machine())
    limit = 24 if args.quick else 0

    def read(source: str, pick: Callable[[list], list]) -> list[dict]:
        items = pick(find_items([source]))
        items = items[:limit] if limit else items
        common.progress(f"{source}: {len(items)} files")
        entries, _, _ = read_entries(items, DataConfig(), jobs=args.jobs, extract=_choices)
        return entries

    entries = read("chorales", lambda items: items)
    if common.NOTTINGHAM_MIDI.is_dir():
        entries += read(str(common.NOTTINGHAM_MIDI), lambda items: items)
    rows: list[dict[str, Any]] = []
    for kind in ("nottingham", "chorales"):
        mine = [e["choices"] for e in entries if e["kind"] == kind]
        for arrangement in mine[0] if mine else ():
            row: dict[str, Any] = {"source": kind, "arrangement": arrangement, "pieces": len(mine)}
            for rule in RULES:
                row[rule] = sum(c[arrangement][rule] for c in mine) / len(mine)
            rows.append(row)
    common.print_table(
        "melody part chosen right (names removed), by rule",
        ["source", "arrangement", "pieces", *RULES],
        [[r["source"], r["arrangement"], r["pieces"], *(r[k] for k in RULES)] for r in rows],
    )
    common.write_results(__file__, "melody", args.quick, {"jobs": args.jobs}, rows)


if __name__ == "__main__":
    main()
