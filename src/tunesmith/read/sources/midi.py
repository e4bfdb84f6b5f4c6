"""Read MIDI files with symusic."""

from __future__ import annotations

import os
from pathlib import Path

from tunesmith.errors import SourceError
from tunesmith.read.sources.base import Part, Piece


def read_midi(path: str | Path) -> Piece:
    """Read a type 0 or 1 MIDI file; times are converted to quarter notes, so tempo changes
    do not move notes off their beats. symusic splits a type 0 file's track by channel and
    program, pairs overlapping notes of one pitch, and reads running status.

    Key signatures in MIDI files are often absent or wrong, so the key is left to analysis.
    """
    from symusic import Score

    try:
        score = Score(str(path), ttype="quarter")
    except Exception as exc:  # symusic raises plain RuntimeError/ValueError on bad bytes
        raise SourceError(f"{path}: not a readable MIDI file ({exc})") from exc
    parts = []
    for i, track in enumerate(score.tracks):
        arr = track.notes.numpy()
        # A zero-length note (on and off at one tick) is a ghost: it sounds nothing.
        sounding = arr["duration"] > 0
        times, lengths, pitches = (arr[k][sounding].tolist() for k in ("time", "duration", "pitch"))
        notes = list(zip(times, lengths, pitches, strict=True))
        parts.append(Part(track.name or f"track {i}", notes, track.is_drum, int(track.program)))
    tempo = float(score.tempos[0].qpm) if len(score.tempos) else 120.0
    ts = score.time_signatures
    time_signature = (int(ts[0].numerator), int(ts[0].denominator)) if len(ts) else (4, 4)
    stem = os.path.splitext(os.path.basename(path))[0]
    return Piece(stem, str(path), parts, tempo, time_signature)
