"""Music in a notebook: a piano roll and an audio player as one HTML fragment.

The audio is FluidSynth's rendering with a General MIDI SoundFont where both are
installed, else a preview synthesised here with numpy (a plucked-string-like tone per note),
so that a notebook plays something on any machine. Both are embedded as data: URLs, mono
and at 16 kHz to keep a notebook small (about 32 kB a second of music).
"""

from __future__ import annotations

import base64
import html
import io
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tunesmith.melody import Melody

#: Sample rate of the embedded audio.
RATE = 16_000


def combined(voices: Sequence[Melody], name: str = "") -> Melody:
    """Several voices as one melody (their notes together), for one piano roll."""
    first = voices[0]
    notes = sorted((n for v in voices for n in v.notes), key=lambda n: (n.start, -n.pitch))
    length = max(v.length for v in voices)
    return Melody(
        notes, first.steps_per_quarter, length, first.tempo, first.time_signature, first.key,
        name or first.name,
    )  # fmt: skip


def synth_wav(voices: Sequence[Melody], rate: int = RATE) -> bytes:
    """A WAV preview made with numpy: each note a few decaying harmonics, voices mixed."""
    first = voices[0]
    step = 60.0 / first.tempo / first.steps_per_quarter  # seconds a grid step
    total = max(v.length for v in voices) * step + 0.5
    out = np.zeros(int(total * rate) + 1, dtype=np.float64)
    for voice in voices:
        for note in voice.notes:
            start = int(note.start * step * rate)
            n = max(1, int(note.duration * step * rate))
            t = np.arange(n + int(0.05 * rate)) / rate  # a short release past the note's end
            freq = 440.0 * 2.0 ** ((note.pitch - 69) / 12)
            tone = sum(np.sin(2 * np.pi * freq * k * t) / k**1.5 for k in (1, 2, 3, 4))
            envelope = np.exp(-2.5 * t) * np.minimum(1.0, t / 0.008)
            envelope[n:] *= np.linspace(1.0, 0.0, len(t) - n)
            chunk = tone * envelope
            out[start : start + len(chunk)] += chunk[: len(out) - start]
    peak = np.abs(out).max()
    if peak > 0:
        out *= 0.8 / peak
    return _wav_bytes((out * 32767).astype("<i2"), rate)


def _wav_bytes(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return buffer.getvalue()


def fluidsynth_wav(voices: Sequence[Melody], program: int = 0, rate: int = RATE) -> bytes:
    """FluidSynth's rendering, mixed to mono.

    :raise AudioUnavailable: when FluidSynth or a SoundFont is missing.
    """
    from tunesmith.export.audio import render_wav
    from tunesmith.export.midi import write_midi

    with tempfile.TemporaryDirectory(prefix="tunesmith-audio-") as tmp:
        midi = write_midi(list(voices), Path(tmp) / "preview.mid", program=program)
        with wave.open(str(render_wav(midi, sample_rate=rate)), "rb") as w:
            channels = w.getnchannels()
            frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    mono = frames.reshape(-1, channels).mean(axis=1).astype("<i2")
    return _wav_bytes(mono, rate)


def preview_wav(voices: Sequence[Melody], program: int = 0) -> tuple[bytes, str]:
    """The audio for a notebook and what made it: ``FluidSynth`` or ``numpy preview``."""
    from tunesmith.export.audio import AudioUnavailable

    try:
        return fluidsynth_wav(voices, program), "FluidSynth"
    except AudioUnavailable:
        return synth_wav(voices), "numpy preview (install FluidSynth for real instruments)"


def melody_html(voices: Sequence[Melody], title: str = "", program: int = 0) -> str:
    """A piano roll (inline PNG) and an ``<audio>`` player for one melody or several voices."""
    from tunesmith.export.pianoroll import pianoroll_png

    roll = combined(voices, title)
    png = base64.b64encode(pianoroll_png(roll)).decode("ascii")
    wav, made_by = preview_wav(voices, program)
    audio = base64.b64encode(wav).decode("ascii")
    seconds = roll.length / roll.steps_per_quarter * 60.0 / roll.tempo
    caption = f"{len(roll.notes)} notes, {seconds:.1f} s; audio: {made_by}"
    return (
        '<div class="tunesmith-music">'
        f'<img alt="piano roll of {html.escape(roll.name)}" style="max-width:100%" '
        f'src="data:image/png;base64,{png}"/><br/>'
        f'<audio controls src="data:audio/wav;base64,{audio}"></audio>'
        f"<div><small>{html.escape(caption)}</small></div></div>"
    )
