"""Generation end to end: prompt, sample, decode, put in key and tempo, write MIDI and pictures."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from tunesmith.config import read_json
from tunesmith.corpus.context import trackers
from tunesmith.corpus.encodings import END, get_encoding
from tunesmith.corpus.encodings.base import max_tokens, shift_token, token_pitches
from tunesmith.errors import ConfigError, EncodingError
from tunesmith.export.audio import AudioUnavailable, find_soundfont, render_wav
from tunesmith.export.instruments import parse_instrument
from tunesmith.export.midi import write_midi
from tunesmith.export.pianoroll import write_pianoroll
from tunesmith.export.score import write_musicxml, write_svg
from tunesmith.keys import Key, find_key, pitch_name
from tunesmith.learn.checkpoint import Run, load_run
from tunesmith.learn.device import pick_device
from tunesmith.make.choose import check_sampling
from tunesmith.make.copying import check_copy_guard, copy_guard
from tunesmith.make.harmony import lay_out, midi_tracks, read_progression
from tunesmith.make.prompt import Seed, parse_seed, read_primer
from tunesmith.make.sample import MAX_ENDINGS, check_endings, sample_ids
from tunesmith.make.styles import check_style, style_ids
from tunesmith.melody import Melody, pickup_steps, steps_per_bar

MAX_LENGTH = 100_000
# Output names stay inside --out: no separators, no "..", no hidden files.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")


@dataclass
class GenerateOptions:
    """What to generate; defaults match the CLI's."""

    length: int = 256  # new sixteenths after the prime
    bars: int = 0  # if set, overrides length: this many bars of the melody's metre
    temperature: float = 0.9  # real tunes' repetition (README: Form)
    top_k: int = 0
    top_p: float = 1.0
    endings: int | None = None  # the best of this many endings: form models 8, others 1
    num: int = 4
    seed_notes: str | None = None
    primer: str | None = None
    tempo: float | None = None  # default: the primer's tempo, else 120
    key: str | None = None  # default: the primer's key, else the model's (C major / A minor)
    instrument: str = "piano"
    seed: int | None = None  # random seed; None draws one (and reports it)
    prefix: str = "melody"
    device: str = "cpu"
    audio: bool = False  # also a WAV (FluidSynth) beside each MIDI
    score: bool = False  # also MusicXML and an engraved SVG of the first page
    soundfont: str | None = None
    # Never sample a run of this many bars found verbatim in the training pieces (0: off)
    copy_guard: float = 2.0
    # A chord-conditioned model's chords: "C G Am F" (one a bar) or "C:2 G:2" (in beats),
    # repeated for the whole melody, which is in their key unless --key says otherwise
    chords: str | None = None
    chords_from: str | None = None  # instead, the chords under this file's melody
    style: str | None = None  # a style-conditioned model's style (default: the opening's)


@dataclass
class Generated:
    midi: Path
    pianoroll: Path
    melody: Melody
    wav: Path | None = None
    musicxml: Path | None = None
    svg: Path | None = None
    warning: str | None = None  # why a WAV asked for could not be made
    guard_bars: float = 0.0  # the copy guard it was sampled under, in bars (0: none)

    @property
    def summary(self) -> str:
        m = self.melody
        if not m.notes:
            return "no notes (all rests)"
        lo, hi = min(m.pitches), max(m.pitches)
        seconds = m.length / m.steps_per_quarter * 60.0 / m.tempo
        key = m.key.name if m.key else "?"
        return (
            f"{len(m.notes)} notes, {pitch_name(lo)}-{pitch_name(hi)}, {key}, "
            f"{seconds:.1f} s at {m.tempo:g} bpm"
        )


def _check(options: GenerateOptions) -> None:
    check_sampling(options.temperature, options.top_k, options.top_p)
    if options.endings is not None and not 1 <= options.endings <= MAX_ENDINGS:
        raise ConfigError(f"--endings must be between 1 and {MAX_ENDINGS} (got {options.endings})")
    if not 1 <= options.num <= 256:
        raise ConfigError(f"--num must be between 1 and 256 (got {options.num})")
    if not 1 <= options.length <= MAX_LENGTH:
        raise ConfigError(
            f"--length must be between 1 and {MAX_LENGTH} steps (got {options.length})"
        )
    if options.bars < 0 or options.bars * 64 > MAX_LENGTH:
        raise ConfigError(f"--bars must be between 1 and {MAX_LENGTH // 64} (got {options.bars})")
    if options.tempo is not None and not 10 <= options.tempo <= 400:
        raise ConfigError(f"--tempo must be between 10 and 400 bpm (got {options.tempo:g})")
    if not _SAFE_NAME.fullmatch(options.prefix):
        msg = (
            f"--prefix {options.prefix!r} must be a plain file name (letters, digits, "
            "'.', '_', '-'), not a path"
        )
        raise ConfigError(msg)
    if options.seed_notes is not None and options.primer:
        raise ConfigError("give --seed-notes or --primer, not both")
    check_copy_guard(options.copy_guard)


def generate(
    run_dir: str | Path | Run, out_dir: str | Path, options: GenerateOptions
) -> list[Generated]:
    """Sample ``options.num`` melodies from the run and write each as MIDI plus a piano roll.

    ``run_dir`` may be a run already loaded (the web server keeps its models loaded).

    Keys: a model trained on music transposed to C major / A minor writes in those keys.
    ``--key`` moves the result's tonic there (the melody keeps its own mode; without seed
    notes, a minor ``--key`` starts from minor openings). Seed notes are the result's own
    pitches: they are moved into the model's key (by ``--key``'s tonic, else by the key
    found in the seed) and back again, and the result reports the key it was written in.
    """
    _check(options)
    program = parse_instrument(options.instrument)
    if isinstance(run_dir, Run):
        run = run_dir
    else:
        run = load_run(run_dir, device=str(pick_device(options.device)))
    melodies, guard_bars = sample_melodies(run, options)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[Generated] = []
    audio_missing: str | None = None
    if options.audio and options.soundfont:
        find_soundfont(options.soundfont)  # a wrong --soundfont is a mistake, not a gap
    for melody in melodies:
        tracks, programs = midi_tracks(melody, program)
        midi = write_midi(tracks, out_dir / f"{melody.name}.mid", programs=programs)
        png = write_pianoroll(melody, out_dir / f"{melody.name}.png")
        result = Generated(midi, png, melody, guard_bars=guard_bars)
        if options.score:
            result.musicxml = write_musicxml(melody, out_dir / f"{melody.name}.musicxml")
            result.svg = write_svg(result.musicxml, out_dir / f"{melody.name}.svg")
        if options.audio and not audio_missing:
            try:
                result.wav = render_wav(midi, soundfont=options.soundfont)
            except AudioUnavailable as exc:  # the MIDI is written; say once what to install
                audio_missing = str(exc)
        result.warning = audio_missing
        results.append(result)
    return results


def sample_melodies(run: Run, options: GenerateOptions) -> tuple[list[Melody], float]:
    """The melodies ``generate`` writes, named ``PREFIX-01``... and in key and tempo, with
    the copy guard they were sampled under, in bars (0: none); each melody's
    ``meta["seed"]`` is the random seed used. Writes nothing.
    """
    _check(options)
    progression, chord_metre, chord_key = read_progression(run, options.chords, options.chords_from)
    target = Key.parse(options.key) if options.key else chord_key
    if progression and target and chord_key:  # --key moves the chords with the melody
        move = chord_key.shift_to(Key(target.tonic, chord_key.mode))
        progression = [(c.transpose(move) if c else None, beats) for c, beats in progression]
    encoding = get_encoding(run.data)
    vocab = run.vocab
    rng = random.Random(options.seed)
    seed = options.seed if options.seed is not None else rng.randrange(2**31)
    rng = random.Random(seed)

    check_style(run, options.style)
    prompt = _prompts(run, options, target, rng, chord_metre if progression else None)
    labels, style_of_row = style_ids(
        run, prompt.styles or [options.style] * len(prompt.primes), rng
    )
    primes, keys, shifts, meters = prompt.primes, prompt.keys, prompt.shifts, prompt.meters
    tempo = options.tempo or prompt.tempo

    # ---- sample: --length counts sixteenths; a note token of the notes and events encodings
    # spans several steps, so enough tokens are sampled and each melody is cut to length below
    spq = run.data.steps_per_quarter
    lengths = [options.length * spq // 4] * len(primes)
    if options.bars:
        bars = [steps_per_bar(meter, spq) for meter in meters]
        lengths = [options.bars * bar for bar in bars]
        if prompt.opened:  # a tune opened by a pickup ends its last bar short by it, as written
            lengths = [
                n - pickup_steps(encoding.decode(p), bar)
                for n, p, bar in zip(lengths, primes, bars, strict=True)
            ]
    generator = torch.Generator().manual_seed(seed)
    guard = copy_guard(run, options.copy_guard, meters)
    totals = [encoding.steps(p) + n for p, n in zip(primes, lengths, strict=True)]
    form = None
    laid = (
        [
            lay_out(progression, n, m, spq, -s)
            for n, m, s in zip(totals, meters, shifts, strict=True)
        ]
        if progression
        else None
    )
    if run.model_config.form:
        modes = [k.name if k else _prime_key(run, p) for k, p in zip(keys, primes, strict=True)]
        chords = [ids for ids, _ in laid] if laid else None
        form = trackers(vocab, run.data, meters, totals, modes, chords, style_of_row)
    ids = sample_ids(
        run.model,
        [[vocab.end_id, *vocab.encode(p)] for p in primes],
        max_tokens(encoding, max(lengths)),
        temperature=options.temperature,
        top_k=options.top_k,
        top_p=options.top_p,
        banned=[vocab.end_id],
        guard=guard,
        form=form,
        ending=vocab.end_id,  # a model with form inputs ends exactly at its length
        endings=check_endings(options.endings, run.model_config.form),
        generator=generator,
    )

    # ---- decode, put in key and tempo
    melodies = []
    rows = zip(ids, keys, shifts, primes, meters, lengths, strict=True)
    for i, (row, key, shift, prime, meter, steps) in enumerate(rows, 1):
        melody = encoding.decode(vocab.decode(row[1:]))
        melody = melody.cut(encoding.steps(prime) + steps)
        melody = _placed(run, melody, key, shift, meter, tempo or 120.0)
        melody.name = f"{options.prefix}-{i:02d}"
        melody.meta["seed"] = seed
        melody.meta |= {"chords": laid[i - 1][1]} if laid else {}
        melody.meta |= {"style": labels[i - 1]} if labels[i - 1] else {}
        melodies.append(melody)
    return melodies, options.copy_guard if guard else 0.0


def _placed(
    run: Run, melody: Melody, key: Key | None, shift: int, meter: tuple[int, int], tempo: float
) -> Melody:
    """A sampled melody in its key, tempo and metre, moved out of the model's key."""
    # A model of transposed music writes in C major / A minor: the key is one of those
    # two (analysis picks the mode), never one found in the sampled notes alone.
    frame = 0 if run.data.transpose else None
    key = key or find_key(melody.pitches, [n.duration for n in melody.notes], sharps=frame)
    melody = replace(melody, key=key, tempo=tempo, time_signature=meter)
    return _transpose_in_range(melody, shift)


@dataclass
class _Prompts:
    """What each melody starts from: its prime's tokens, the key that puts the model in,
    the shift back out of it, and its metre; one of each per melody."""

    primes: list[list[str]]
    keys: list[Key | None]
    shifts: list[int]
    meters: list[tuple[int, int]]
    opened: bool = False  # primes are training pieces' openings
    tempo: float | None = None  # the primer's
    styles: list[str | None] | None = None  # the openings' styles (a labelled corpus)

    def times(self, num: int) -> _Prompts:
        """One prompt given for ``num`` melodies."""
        if len(self.primes) != 1:
            return self
        return replace(
            self,
            primes=self.primes * num,
            keys=self.keys * num,
            shifts=self.shifts * num,
            meters=self.meters * num,
            styles=(self.styles or [None]) * num,
        )


def _prompts(
    run: Run,
    options: GenerateOptions,
    target: Key | None,
    rng: random.Random,
    chord_metre: tuple[int, int] | None = None,
) -> _Prompts:
    """The primes: seed notes and primers are moved into the model's key and back by the
    same amount; a training piece's opening has a known key, moved to ``--key``'s tonic if
    one is asked. The metre is the primer's or the opening's (seed notes: 4/4): a tune that
    opens in 3/4 goes on in 3/4, and is written so."""
    encoding = get_encoding(run.data)
    if options.primer:
        primer = read_primer(options.primer, run.data)
        into = primer.key.shift_to_c() if run.data.transpose and primer.key else 0
        key = primer.key.transpose(into) if primer.key else None
        back = key.shift_to(Key(target.tonic, key.mode)) if target and key else -into
        prompts = _Prompts(
            [encoding.encode(primer.transpose(into))], [key], [back], [primer.time_signature]
        )
        prompts.tempo = primer.tempo
    elif options.seed_notes is not None:
        toks, into = _seed_tokens(run, options.seed_notes, target)
        prompts = _Prompts([toks], [target.transpose(into) if target else None], [-into], [(4, 4)])
    elif chord_metre and target:  # over chords: from silence, not a training opening
        into = target.shift_to_c() if run.data.transpose else 0
        prompts = _Prompts([[]], [target.transpose(into)], [-into], [chord_metre])
    else:
        openings = read_json(run.path / "openings.json")
        if options.style:
            openings = [o for o in openings if o.get("style") == options.style] or openings
        if target:
            same_mode = [o for o in openings if o["key"] and o["key"].endswith(target.mode)]
            openings = same_mode or openings
        chosen = [rng.choice(openings) for _ in range(options.num)]
        keys = [Key.parse(o["key"]) if o["key"] else None for o in chosen]
        prompts = _Prompts(
            [o["tokens"] for o in chosen],
            keys,
            [k.shift_to(Key(target.tonic, k.mode)) if target and k else 0 for k in keys],
            [tuple(o.get("time_signature") or (4, 4)) for o in chosen],
            opened=True,
            styles=[options.style or o.get("style") for o in chosen],
        )
    return prompts.times(options.num)


def _seed_tokens(run: Run, seed_notes: str, target: Key | None) -> tuple[list[str], int]:
    """Seed notes as tokens in the model's key, and the shift that put them there;
    EncodingError names a note the training data never had."""
    encoding, vocab = get_encoding(run.data), run.vocab
    parsed = parse_seed(seed_notes, set(encoding.base_tokens()))
    into = _seed_shift(parsed, target) if run.data.transpose else 0
    if parsed.tokens:
        toks = [_shift_token(t, into) for t in parsed.tokens]
    else:
        toks = encoding.seed_tokens([p + into for p in parsed.pitches])
    unknown = [t for t in toks if t not in vocab]
    if unknown:
        note = _shift_token(unknown[0], -into)
        name = f"{pitch_name(int(note))} (MIDI {note})" if note.isdigit() else repr(note)
        if ":" in note and token_pitches(note):  # a note with its length: 60:1
            name = f"{pitch_name(token_pitches(note)[0])} ({note})"
        msg = (
            f"seed note {name} never occurs in the training data "
            f"({_pitch_span(vocab.tokens, -into)}); choose another"
        )
        raise EncodingError(msg)
    return toks, into


def _prime_key(run: Run, prime: list[str]) -> str | None:
    """The key a prime's own notes are in (for the model's mode input when none is known)."""
    notes = get_encoding(run.data).decode(prime).notes
    if not notes or not (run.model_config.cadence and run.data.transpose):
        return None
    found = find_key([n.pitch for n in notes], [n.duration for n in notes], sharps=0)
    return found.name if found else None


def _seed_shift(seed: Seed, target: Key | None) -> int:
    """The shift that puts seed notes into the model's C major / A minor: by ``--key``'s
    tonic when one is asked (the seed is in that key), else by the key of the seed itself."""
    if target:
        return target.shift_to_c()
    pitches = list(seed.pitches) or [p for t in seed.tokens for p in token_pitches(t)]
    found = find_key(pitches, [1.0] * len(pitches))
    return found.shift_to_c() if found else 0


def _transpose_in_range(melody: Melody, shift: int) -> Melody:
    """Transpose, moving by an octave the other way if the shift would leave 0-127."""
    for s in (shift, shift - 12, shift + 12):
        try:
            return melody.transpose(s)
        except EncodingError:
            continue
    return melody


def _shift_token(token: str, semitones: int) -> str:
    return shift_token(token, semitones)


def _pitch_span(tokens: list[str], semitones: int) -> str:
    pitches = [p + semitones for t in tokens for p in token_pitches(t)]
    if not pitches:
        return "no pitches"
    return f"pitches {pitch_name(min(pitches))} to {pitch_name(max(pitches))}"


__all__ = ["END", "GenerateOptions", "Generated", "generate", "sample_melodies"]
