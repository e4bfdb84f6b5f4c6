"""One chorale for the web studio, answered as a melody is: MIDI, piano roll, WAV, notes."""

from __future__ import annotations

import random
from pathlib import Path

from tunesmith.errors import ConfigError
from tunesmith.export.audio import AudioUnavailable, render_wav
from tunesmith.export.instruments import parse_instrument
from tunesmith.export.midi import write_midi
from tunesmith.export.notebook import combined
from tunesmith.export.pianoroll import write_pianoroll
from tunesmith.learn.poly_run import PolyRun
from tunesmith.make.generate import Generated, GenerateOptions
from tunesmith.make.sample import check_endings
from tunesmith.make.sample_poly import chorale_frames, sample_chorales


def generate_chorale(run: PolyRun, folder: Path, options: GenerateOptions) -> Generated:
    """Sample ``options.bars`` bars of 4/4 in all the run's voices into ``folder``.

    ``Generated.melody`` holds every voice's notes (what the page lists and plays); the MIDI
    file has one track a voice. Options the chorale model has no use for are refused.
    """
    if options.seed_notes or options.key:
        what = "seed_notes" if options.seed_notes else "key"
        raise ConfigError(f"{what} is not an option of the chorale model; leave it empty")
    if options.chords or options.style:
        what = "chords" if options.chords else "style"
        raise ConfigError(f"{what} is not an option of the chorale model; leave it empty")
    if options.copy_guard != GenerateOptions.copy_guard:
        raise ConfigError("copy_guard is not an option of the chorale model; leave it at 2")
    check_endings(options.endings, form=False)
    seed = options.seed if options.seed is not None else random.randrange(2**31)
    (voices,) = sample_chorales(
        run, 1, chorale_frames(run, options.bars), seed=seed, temperature=options.temperature,
        top_k=options.top_k, top_p=options.top_p, tempo=options.tempo,
    )  # fmt: skip
    melody = combined(voices, "melody-01")
    melody.meta["seed"] = seed
    midi = write_midi(
        voices, folder / "melody-01.mid", program=parse_instrument(options.instrument)
    )
    result = Generated(midi, write_pianoroll(melody, folder / "melody-01.png"), melody)
    if options.audio:
        try:
            result.wav = render_wav(midi, soundfont=options.soundfont)
        except AudioUnavailable as exc:
            result.warning = str(exc)
    return result
