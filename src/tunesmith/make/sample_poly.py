"""Chorales from the chorale model: sampling frames, harmonising a melody, writing files.

Sampling spells one
frame at a time, token by token, with the model's own mask (keys high to low); a run with
``voices`` = 4 also fixes four notes a frame, each in its SATB range. Harmonising fixes each
frame's first (highest) token to the given melody's pitch and samples the voices below it,
as Magenta's Polyphony RNN does by injecting the primer. One frame is one quarter note
(as in JSB) unless the run was trained on a finer grid (``steps_per_quarter`` in config.json).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from tunesmith.corpus.encodings.poly import LOWEST_PITCH, key_of
from tunesmith.errors import ConfigError, SourceError
from tunesmith.learn.models.poly import PolyModel
from tunesmith.learn.poly_run import PolyRun, load_poly_run
from tunesmith.make.choose import check_sampling, draw, probabilities
from tunesmith.melody import Melody, Note, steps_per_bar

#: Soprano, alto, tenor and bass ranges (MIDI pitches) for four-voice output.
SATB = ((60, 81), (53, 74), (48, 69), (36, 62))
VOICE_NAMES = ("soprano", "alto", "tenor", "bass")


# ---------------------------------------------------------------------------- sampling


@torch.no_grad()
def sample_frames(
    run: PolyRun,
    steps: int,
    *,
    seed: int | None = None,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    melody: Sequence[int] | None = None,
) -> list[list[int]]:
    """Frames of MIDI pitches (high to low): an opening chord, then ``steps`` sampled frames.

    :param top_k: each key chosen among the K likeliest left (0: all).
    :param top_p: ... and among the smallest set of them whose probability reaches this.
    :param melody: pitches of the top voice, one per frame (the opening's included); the
        frames' length then follows the melody and ``steps`` is ignored.
    """
    check_sampling(temperature, top_k, top_p)
    rng = random.Random(seed)
    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    opening = _opening(run, rng, melody[0] if melody else None)
    frames = [opening]
    model, keys = run.model, run.model.config.keys
    previous = _roll(opening, keys)
    context, state = model.context(previous.view(1, 1, keys))
    count = len(melody) - 1 if melody else steps
    for t in range(count):
        top = key_of(melody[t + 1]) if melody else None
        choice = (temperature, top_k, top_p)
        frame = _spell(model, context[0, -1], previous, generator, choice, run.voices, top)
        frames.append([k + LOWEST_PITCH for k in frame])
        previous = _roll(frames[-1], keys)
        context, state = model.context(previous.view(1, 1, keys), state)
    return frames


def _opening(run: PolyRun, rng: random.Random, top: int | None) -> list[int]:
    """A training piece's first chord (one with all the run's voices, where there is one);
    moved so that its top note is ``top`` if given."""
    full = [o for o in run.openings if run.voices and len(set(o)) == run.voices]
    chord = sorted(rng.choice(full or run.openings), reverse=True)
    if top is None or not chord:
        return chord if top is None else [top]
    shift = top - chord[0]
    return [p + shift for p in chord if LOWEST_PITCH <= p + shift < LOWEST_PITCH + 88]


def _roll(pitches: Sequence[int], keys: int) -> torch.Tensor:
    roll = torch.zeros(keys)
    roll[[p - LOWEST_PITCH for p in pitches]] = 1.0
    return roll


def _spell(
    model: PolyModel,
    context: torch.Tensor,
    previous: torch.Tensor,
    generator: torch.Generator,
    choice: tuple[float, int, float],
    voices: int,
    top: int | None,
) -> list[int]:
    """One frame's keys, token by token, under the model's order mask and the constraints
    (``choice``: temperature, top-k and top-p among the keys they leave)."""
    keys = model.config.keys
    step_end = keys
    prefix = torch.zeros(1, 1, keys)
    chosen: list[int] = []
    while True:
        j = len(chosen)
        last = chosen[-1] if chosen else keys
        log_p = model.token_log_probs(
            context.view(1, -1),
            previous.view(1, -1),
            prefix,
            torch.tensor([[last]]),
            torch.tensor([[j]]),
        )[0, 0]
        allowed = torch.isfinite(log_p)
        if j == 0 and top is not None:
            allowed = torch.zeros_like(allowed)
            allowed[top] = True
        elif voices and j < voices:
            allowed[step_end] = False
            if voices == len(SATB):
                low, high = (p - LOWEST_PITCH for p in SATB[j])
                in_range = allowed.clone()
                in_range[:low] = False
                in_range[high + 1 :] = False
                if in_range.any():  # a voice pushed below its range keeps what the order allows
                    allowed = in_range
            if not allowed.any():  # the lowest key is taken: the frame ends early
                allowed[step_end] = True
        elif voices:
            allowed[:keys] = False
        temperature, top_k, top_p = choice
        weights = probabilities(log_p.view(1, -1), temperature, top_k, top_p, allowed.view(1, -1))
        token = draw(weights, generator)[0]
        if token == step_end:
            return chosen
        chosen.append(token)
        prefix[0, 0, token] = 1.0


# ---------------------------------------------------------------------------- output


def voices_from_frames(
    frames: Sequence[Sequence[int]],
    voices: int = 0,
    tempo: float = 100.0,
    steps_per_quarter: int = 1,
) -> list[Melody]:
    """One melody per voice: voice v is each frame's v-th highest pitch; a pitch repeated in
    the next frame is held (the frames carry no onsets)."""
    count = voices or max((len(f) for f in frames), default=0)
    lines: list[Melody] = []
    for v in range(count):
        notes: list[Note] = []
        for t, frame in enumerate(frames):
            pitch = sorted(frame, reverse=True)[v] if v < len(frame) else None
            if pitch is None:
                continue
            if notes and notes[-1].pitch == pitch and notes[-1].end == t:
                notes[-1] = Note(pitch, notes[-1].start, notes[-1].duration + 1)
            else:
                notes.append(Note(pitch, t, 1))
        name = VOICE_NAMES[v] if count == 4 else f"voice {v + 1}"
        lines.append(Melody(notes, steps_per_quarter, length=len(frames), tempo=tempo, name=name))
    return lines


def melody_pitches(path: str | Path, steps_per_quarter: int = 1) -> list[int]:
    """The melody of a file (its highest part), as one pitch per frame (``steps_per_quarter``
    frames a quarter note); a rest keeps the pitch before it (a frame's top voice cannot be
    silent while voices below sing)."""
    from tunesmith.config import DataConfig
    from tunesmith.make.prompt import read_primer

    path = Path(path)
    if not path.is_file():
        raise SourceError(f"--harmonize {path}: no such file")
    grid = 4 if 4 % steps_per_quarter == 0 else steps_per_quarter * 4
    melody = read_primer(path, DataConfig(steps_per_quarter=grid))
    spq = melody.steps_per_quarter
    every = spq // steps_per_quarter  # melody steps per frame
    pitches: list[int] = []
    current = melody.notes[0].pitch if melody.notes else None
    notes = iter(melody.notes)
    note = next(notes, None)
    for q in range(-(-melody.length // every)):
        while note is not None and note.start <= q * every:
            if note.end > q * every:
                current = note.pitch
            note = next(notes, None)
        if current is not None:
            pitches.append(current)
    if len(pitches) < 2:
        raise SourceError(f"--harmonize {path}: the melody is shorter than two frames")
    return pitches


#: The chorale model knows no metre: what it writes is in 4/4.
CHORALE_METRE = (4, 4)


def chorale_frames(run: PolyRun, bars: int = 0, sixteenths: int = 0) -> int:
    """Frames to sample for ``bars`` bars of 4/4, else for ``sixteenths``: where the CLI,
    the API and the web turn a length into frames."""
    if bars:
        return bars * steps_per_bar(CHORALE_METRE, run.steps_per_quarter)
    return max(1, sixteenths * run.steps_per_quarter // 4)


def sample_chorales(
    run: PolyRun,
    num: int,
    frames: int,
    *,
    seed: int | None = None,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    tempo: float | None = None,
    harmonize: str | Path | None = None,
) -> list[list[Melody]]:
    """``num`` pieces of ``frames`` frames after the opening chord, each as its voices
    (highest first); every piece's ``meta["seed"]`` (on each voice) re-creates it alone.

    :param seed: the first piece's seed, the next ones follow (None: one drawn).
    :param harmonize: a melody file; its top voice is kept and the voices below sampled
        (``frames`` is then the melody's).
    """
    if num < 1 or frames < 1:
        raise ConfigError(f"--num and the length must be at least 1 (got {num}, {frames})")
    spq = run.steps_per_quarter
    melody = melody_pitches(harmonize, spq) if harmonize else None
    base = seed if seed is not None else random.randrange(2**31)
    pieces = []
    for i in range(num):
        sampled = sample_frames(
            run, frames, seed=base + i, temperature=temperature, top_k=top_k, top_p=top_p,
            melody=melody,
        )  # fmt: skip
        voices = voices_from_frames(sampled, run.voices, tempo or 100.0, spq)
        for voice in voices:
            voice.meta["seed"] = base + i
        pieces.append(voices)
    return pieces


def write_chorales(
    run_path: str | Path,
    out: str | Path,
    *,
    num: int = 4,
    bars: int = 0,
    length: int = 64,
    prefix: str = "chorale",
    **sampling: Any,
) -> list[Path]:
    """Sample ``num`` pieces from a poly run and write each as a MIDI file, one track a voice.

    :param bars: bars of 4/4 after the opening chord, else ``length`` sixteenths (both
        ignored with ``harmonize``).
    :param sampling: :func:`sample_chorales`'s options (seed, temperature, harmonize...).
    :return: the files written.
    """
    from tunesmith.export.midi import write_midi

    run = load_poly_run(run_path)
    pieces = sample_chorales(run, num, chorale_frames(run, bars, length), **sampling)
    return [
        write_midi(voices, Path(out) / f"{prefix}-{i:02d}.mid")
        for i, voices in enumerate(pieces, 1)
    ]
