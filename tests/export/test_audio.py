"""Audio rendering with FluidSynth: the WAV is as long as the music and not silent."""

from __future__ import annotations

import array
import shutil
import wave
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunesmith.cli import app
from tunesmith.errors import ConfigError
from tunesmith.export.audio import AudioUnavailable, find_soundfont, render_wav
from tunesmith.export.midi import write_midi
from tunesmith.make.generate import GenerateOptions, generate
from tunesmith.melody import Melody, Note


def _have_synth() -> bool:
    try:
        find_soundfont()
    except AudioUnavailable:
        return False
    return shutil.which("fluidsynth") is not None


needs_synth = pytest.mark.skipif(
    not _have_synth(), reason="FluidSynth + GM SoundFont not installed (.ci/run installs them)"
)


@needs_synth
def test_rendered_audio_has_the_right_length_and_is_not_silent(tmp_path: Path) -> None:
    # Eight quarter notes at 120 bpm: 4 seconds of music.
    melody = Melody([Note(60 + 2 * i, 4 * i, 4) for i in range(8)], tempo=120)
    wav = render_wav(write_midi(melody, tmp_path / "scale.mid"))
    with wave.open(str(wav)) as f:
        seconds = f.getnframes() / f.getframerate()
        frames = array.array("h", f.readframes(f.getnframes()))
    assert 4.0 <= seconds <= 7.0  # the music, then the last note's release
    rms = (sum(x * x for x in frames[::50]) / len(frames[::50])) ** 0.5
    assert rms > 300  # clearly audible, not digital silence


@needs_synth
def test_generate_with_audio_and_render_command(tiny_run: Path, tmp_path: Path) -> None:
    [g] = generate(tiny_run, tmp_path, GenerateOptions(num=1, length=32, audio=True))
    assert g.wav is not None and g.wav.stat().st_size > 10_000 and g.warning is None
    r = CliRunner().invoke(app, ["render", str(g.midi), "--out", str(tmp_path / "x.wav")])
    assert r.exit_code == 0 and (tmp_path / "x.wav").exists()


def test_without_fluidsynth_the_midi_is_still_written(
    tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no fluidsynth on it
    [g] = generate(tiny_run, tmp_path, GenerateOptions(num=1, length=32, audio=True))
    assert g.midi.exists() and g.wav is None
    assert g.warning and "apt-get install fluidsynth" in g.warning
    r = CliRunner().invoke(app, ["render", str(g.midi)])
    assert r.exit_code == 1 and "apt-get install" in r.output


def test_a_missing_soundfont_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--soundfont"):
        find_soundfont(tmp_path / "none.sf2")
