"""General MIDI instruments: the 128 program names and parsing a user's choice of one."""

from __future__ import annotations

import re

from tunesmith.errors import ConfigError

#: The General MIDI level 1 program names; the index is the program number.
GM_PROGRAMS: tuple[str, ...] = (
    # Piano
    "Acoustic Grand Piano",
    "Bright Acoustic Piano",
    "Electric Grand Piano",
    "Honky-tonk Piano",
    "Electric Piano 1",
    "Electric Piano 2",
    "Harpsichord",
    "Clavinet",
    # Chromatic percussion
    "Celesta",
    "Glockenspiel",
    "Music Box",
    "Vibraphone",
    "Marimba",
    "Xylophone",
    "Tubular Bells",
    "Dulcimer",
    # Organ
    "Drawbar Organ",
    "Percussive Organ",
    "Rock Organ",
    "Church Organ",
    "Reed Organ",
    "Accordion",
    "Harmonica",
    "Tango Accordion",
    # Guitar
    "Acoustic Guitar (nylon)",
    "Acoustic Guitar (steel)",
    "Electric Guitar (jazz)",
    "Electric Guitar (clean)",
    "Electric Guitar (muted)",
    "Overdriven Guitar",
    "Distortion Guitar",
    "Guitar Harmonics",
    # Bass
    "Acoustic Bass",
    "Electric Bass (finger)",
    "Electric Bass (pick)",
    "Fretless Bass",
    "Slap Bass 1",
    "Slap Bass 2",
    "Synth Bass 1",
    "Synth Bass 2",
    # Strings
    "Violin",
    "Viola",
    "Cello",
    "Contrabass",
    "Tremolo Strings",
    "Pizzicato Strings",
    "Orchestral Harp",
    "Timpani",
    # Ensemble
    "String Ensemble 1",
    "String Ensemble 2",
    "Synth Strings 1",
    "Synth Strings 2",
    "Choir Aahs",
    "Voice Oohs",
    "Synth Voice",
    "Orchestra Hit",
    # Brass
    "Trumpet",
    "Trombone",
    "Tuba",
    "Muted Trumpet",
    "French Horn",
    "Brass Section",
    "Synth Brass 1",
    "Synth Brass 2",
    # Reed
    "Soprano Sax",
    "Alto Sax",
    "Tenor Sax",
    "Baritone Sax",
    "Oboe",
    "English Horn",
    "Bassoon",
    "Clarinet",
    # Pipe
    "Piccolo",
    "Flute",
    "Recorder",
    "Pan Flute",
    "Blown Bottle",
    "Shakuhachi",
    "Whistle",
    "Ocarina",
    # Synth lead
    "Lead 1 (square)",
    "Lead 2 (sawtooth)",
    "Lead 3 (calliope)",
    "Lead 4 (chiff)",
    "Lead 5 (charang)",
    "Lead 6 (voice)",
    "Lead 7 (fifths)",
    "Lead 8 (bass + lead)",
    # Synth pad
    "Pad 1 (new age)",
    "Pad 2 (warm)",
    "Pad 3 (polysynth)",
    "Pad 4 (choir)",
    "Pad 5 (bowed)",
    "Pad 6 (metallic)",
    "Pad 7 (halo)",
    "Pad 8 (sweep)",
    # Synth effects
    "FX 1 (rain)",
    "FX 2 (soundtrack)",
    "FX 3 (crystal)",
    "FX 4 (atmosphere)",
    "FX 5 (brightness)",
    "FX 6 (goblins)",
    "FX 7 (echoes)",
    "FX 8 (sci-fi)",
    # Ethnic
    "Sitar",
    "Banjo",
    "Shamisen",
    "Koto",
    "Kalimba",
    "Bagpipe",
    "Fiddle",
    "Shanai",
    # Percussive
    "Tinkle Bell",
    "Agogo",
    "Steel Drums",
    "Woodblock",
    "Taiko Drum",
    "Melodic Tom",
    "Synth Drum",
    "Reverse Cymbal",
    # Sound effects
    "Guitar Fret Noise",
    "Breath Noise",
    "Seashore",
    "Bird Tweet",
    "Telephone Ring",
    "Helicopter",
    "Applause",
    "Gunshot",
)

_HINT = "use a General MIDI name such as 'flute' or a program number 0-127"


def _normalize(text: str) -> str:
    """Lower-case, with every run of punctuation and spaces turned into one space."""
    return " ".join(re.split(r"[^0-9a-z]+", text.lower())).strip()


_NORMALIZED = tuple(_normalize(name) for name in GM_PROGRAMS)


def parse_instrument(text: str | int) -> int:
    """Turn a program number or an instrument name into a General MIDI program number.

    Names match case-insensitively and ignore punctuation. An exact name wins; otherwise
    names that contain every word of ``text`` as whole words ("harp" -> Orchestral Harp),
    then names that contain ``text`` anywhere. Among several matches the lowest program
    number wins, so "piano" is 0 and "acoustic guitar" is 24 (nylon).

    :param text: a program number 0-127 (int or digit string) or an instrument name.
    :return: the program number, 0-127.
    :raises ConfigError: for a number out of range or a name that matches nothing.
    """
    if isinstance(text, bool) or not isinstance(text, int | str):
        msg = f"instrument {text!r} is neither a name nor a program number; {_HINT}"
        raise ConfigError(msg)
    if isinstance(text, int) or re.fullmatch(r"\s*[+-]?\d+\s*", text):
        program = int(text)
        if not 0 <= program <= 127:
            msg = f"instrument program {program} is outside 0-127; {_HINT}"
            raise ConfigError(msg)
        return program
    query = _normalize(text)
    if query:
        if query in _NORMALIZED:
            return _NORMALIZED.index(query)
        words = query.split()
        for program, name in enumerate(_NORMALIZED):
            if all(word in name.split() for word in words):
                return program
        for program, name in enumerate(_NORMALIZED):
            if query in name:
                return program
    msg = f"instrument {text!r} is not a General MIDI instrument; {_HINT}"
    raise ConfigError(msg)


def instrument_name(program: int) -> str:
    """The General MIDI name of a program number, e.g. 73 -> "Flute".

    :param program: a program number 0-127.
    :raises ConfigError: if ``program`` is outside 0-127.
    """
    if not 0 <= program <= 127:
        msg = f"instrument program {program} is outside 0-127; {_HINT}"
        raise ConfigError(msg)
    return GM_PROGRAMS[program]
