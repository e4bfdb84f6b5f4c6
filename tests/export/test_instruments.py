"""Tests for General MIDI instrument names and parsing."""

from __future__ import annotations

import pytest

from tunesmith.errors import ConfigError
from tunesmith.export import GM_PROGRAMS, instrument_name, parse_instrument


def test_table() -> None:
    assert len(GM_PROGRAMS) == 128
    assert len(set(GM_PROGRAMS)) == 128
    assert GM_PROGRAMS[0] == "Acoustic Grand Piano"
    assert GM_PROGRAMS[127] == "Gunshot"
    assert instrument_name(73) == "Flute"


@pytest.mark.parametrize(
    ("text", "program"),
    [
        (0, 0),
        (127, 127),
        ("73", 73),
        (" 40 ", 40),
        ("flute", 73),
        ("FLUTE", 73),
        ("violin", 40),
        ("piano", 0),
        ("trumpet", 56),
        ("muted trumpet", 59),
        ("acoustic guitar", 24),
        ("Acoustic Guitar (steel)", 25),
        ("acoustic guitar steel", 25),
        ("harp", 46),
        ("honky tonk", 3),
        ("sax", 64),
        ("Pan", 75),
    ],
)
def test_parse(text: str | int, program: int) -> None:
    assert parse_instrument(text) == program


def test_every_name_parses_to_itself() -> None:
    for program, name in enumerate(GM_PROGRAMS):
        assert parse_instrument(name) == program
        assert parse_instrument(name.lower()) == program


@pytest.mark.parametrize("text", [128, -1, "128", "-1", "kazoo", "", "   ", "!!"])
def test_parse_errors(text: str | int) -> None:
    with pytest.raises(ConfigError) as info:
        parse_instrument(text)
    message = str(info.value)
    assert "\n" not in message
    assert repr(text) in message or str(text) in message
    assert "0-127" in message


def test_instrument_name_out_of_range() -> None:
    with pytest.raises(ConfigError):
        instrument_name(128)
