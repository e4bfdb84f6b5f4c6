"""The campaign's inputs, per format: real files mutated, and files drawn from grammars.

Real files: the Nottingham MIDI files and ABC tune books (``../shared/data/nottingham``),
music21's bundled Essen ABC tunes, Kern files and compressed MusicXML chorales, and the
MusicXML inside those. Every input is made from ``random.Random(seed)`` and hypothesis
seeds derived from it, so a campaign is made again exactly from its seed.
"""

from __future__ import annotations

import random
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import grammar
import mutate

FORMATS = (".mid", ".abc", ".krn", ".xml", ".musicxml", ".mxl")
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


@dataclass(frozen=True)
class Input:
    """One fuzz input: its format, how it was made, its bytes."""

    suffix: str
    kind: str
    data: bytes


def _corpus() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def _smallest(paths: list[Path], count: int) -> list[Path]:
    return sorted(paths, key=lambda p: (p.stat().st_size, p.name))[:count]


@cache
def seeds(suffix: str) -> tuple[bytes, ...]:
    """Real files of one format (small ones: a campaign reads thousands of them)."""
    from tunesmith.read.sources.scores import split_abc

    corpus = _corpus()
    if suffix == ".mid":
        return tuple(p.read_bytes() for p in sorted((SHARED / "nottingham" / "midi").glob("*.mid")))
    if suffix == ".abc":
        books = sorted((SHARED / "nottingham" / "abc").glob("*.abc"))
        books += sorted((corpus / "essenFolksong").glob("*.abc"))[:6]
        tunes = [t for b in books for t in split_abc(b.read_text(encoding="latin-1"))[:40]]
        return tuple(t.encode() for t in tunes)
    if suffix == ".krn":
        return tuple(p.read_bytes() for p in _smallest(list(corpus.rglob("*.krn")), 80))
    mxls = _smallest(list((corpus / "bach").glob("*.mxl")), 60)
    if suffix == ".mxl":
        return tuple(p.read_bytes() for p in mxls)
    inner = []
    for p in mxls:
        with zipfile.ZipFile(p) as z:
            inner += [z.read(n) for n in z.namelist() if not n.startswith("META-INF")]
    return tuple(inner)


def _text_mutation(suffix: str, rng: random.Random) -> tuple[str, mutate.Mutation]:
    choices: list[tuple[str, mutate.Mutation]] = [
        ("bit-flips", mutate.bit_flips),
        ("truncation", mutate.truncate),
        ("splice", mutate.splice),
        ("huge-counts", mutate.huge_counts),
        ("odd-encoding", mutate.odd_encoding),
        ("deep-nesting", lambda d, r: mutate.deep_nesting(d, r, suffix)),
    ]
    return rng.choice(choices)


def mutated(suffix: str, rng: random.Random, bomb_size: int) -> Input:
    pool = seeds(suffix)
    data = rng.choice(pool)
    if suffix == ".mxl":

        def inner(d: bytes, r: random.Random) -> bytes:
            return _text_mutation(".xml", r)[1](d, r)

        return Input(suffix, "mxl-archive", mutate.mxl_mutation(data, rng, inner, bomb_size))
    if rng.random() < 0.1:
        return Input(suffix, "crossover", mutate.crossover(data, rng.choice(pool), rng))
    if suffix == ".mid":
        kind, fn = rng.choice(
            [
                ("bit-flips", mutate.bit_flips),
                ("truncation", mutate.truncate),
                ("splice", mutate.splice),
                ("huge-counts", mutate.midi_huge_counts),
            ]
        )
    else:
        kind, fn = _text_mutation(suffix, rng)
    return Input(suffix, kind, fn(data, rng))


def generated(suffix: str, count: int, seed: int) -> list[Input]:
    """``count`` files drawn from the format's grammar (for .mxl: MusicXML drawn, zipped)."""
    strategy = grammar.STRATEGIES[".xml" if suffix == ".mxl" else suffix]
    out = []
    for data in grammar.draw(strategy, count, seed):
        if suffix == ".mxl":
            data = mutate.zip_of(
                {"META-INF/container.xml": mutate.container("score.xml"), "score.xml": data}
            )
        out.append(Input(suffix, "grammar", data))
    return out


def make_inputs(suffix: str, count: int, seed: int, bomb_size: int = 1 << 30) -> list[Input]:
    """``count`` inputs of one format: about half mutated real files, half grammar-drawn
    (a quarter for .krn and .mxl, whose mutations are the richer)."""
    rng = random.Random(f"{seed}{suffix}")
    share = 0.25 if suffix in (".krn", ".mxl") else 0.5
    drawn = generated(suffix, int(count * share) if seeds(suffix) else count, seed)
    made = [mutated(suffix, rng, bomb_size) for _ in range(count - len(drawn))]
    mixed = drawn + made
    rng.shuffle(mixed)
    return mixed
