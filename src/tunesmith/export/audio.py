"""Audio: MIDI rendered to WAV by FluidSynth with a General MIDI SoundFont."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tunesmith.errors import ConfigError, TunesmithError

#: Where Debian/Ubuntu (fluid-soundfont-gm), Fedora, Arch and Homebrew put a GM SoundFont.
SOUNDFONT_PLACES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/opt/homebrew/share/soundfonts/default.sf2",
    "/usr/local/share/soundfonts/default.sf2",
)
INSTALL_HINT = (
    "install FluidSynth and a General MIDI SoundFont: 'sudo apt-get install fluidsynth "
    "fluid-soundfont-gm' (macOS: 'brew install fluid-synth' and pass --soundfont)"
)


class AudioUnavailable(TunesmithError):
    """No synthesizer or no SoundFont on this machine."""


def find_soundfont(explicit: str | Path | None = None) -> Path:
    """The SoundFont to use: ``explicit``, else ``$TUNESMITH_SOUNDFONT``, else a system one.

    :raise ConfigError: when ``explicit`` does not exist.
    :raise AudioUnavailable: when none is found.
    """
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"--soundfont {path}: no such file")
        return path
    env = os.environ.get("TUNESMITH_SOUNDFONT")
    for candidate in ([env] if env else []) + list(SOUNDFONT_PLACES):
        if Path(candidate).is_file():
            return Path(candidate)
    raise AudioUnavailable(f"no General MIDI SoundFont found; {INSTALL_HINT}")


def render_wav(
    midi: str | Path,
    wav: str | Path | None = None,
    *,
    soundfont: str | Path | None = None,
    sample_rate: int = 44100,
) -> Path:
    """Synthesize ``midi`` to a WAV file (default: beside it, same name).

    :raise AudioUnavailable: when FluidSynth or a SoundFont is missing (the message says
        how to install them).
    """
    midi = Path(midi)
    if not midi.is_file():
        raise ConfigError(f"{midi}: no such MIDI file")
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise AudioUnavailable(f"FluidSynth is not installed; {INSTALL_HINT}")
    font = find_soundfont(soundfont)
    wav = Path(wav) if wav else midi.with_suffix(".wav")
    wav.parent.mkdir(parents=True, exist_ok=True)
    tmp = wav.with_name(f".{wav.name}.{os.getpid()}.tmp.wav")
    # -n: no MIDI input, -i: no shell, -F: render to file, -g: gain that does not clip
    cmd = [
        exe,
        "-n",
        "-i",
        "-q",
        "-g",
        "0.7",
        "-r",
        str(sample_rate),
        "-F",
        str(tmp),
        str(font),
        str(midi),
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0 or not tmp.is_file() or tmp.stat().st_size <= 44:
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise TunesmithError(f"{midi}: FluidSynth could not render it ({detail[0]})")
        os.replace(tmp, wav)
    finally:
        tmp.unlink(missing_ok=True)
    return wav
