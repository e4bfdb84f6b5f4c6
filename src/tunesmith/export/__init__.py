"""Writing music and pictures out: MIDI, piano rolls, training plots."""

from tunesmith.export.instruments import GM_PROGRAMS, instrument_name, parse_instrument
from tunesmith.export.midi import write_midi
from tunesmith.export.pianoroll import write_pianoroll
from tunesmith.export.plots import plot_training

__all__ = [
    "GM_PROGRAMS",
    "instrument_name",
    "parse_instrument",
    "plot_training",
    "write_midi",
    "write_pianoroll",
]
