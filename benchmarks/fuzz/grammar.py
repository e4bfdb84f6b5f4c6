"""Grammar-aware bad inputs, drawn with hypothesis strategies: ABC headers and bodies, MIDI
chunks with wild lengths and events, MusicXML with absurd durations, Kern spines.

Each strategy makes files that get past a reader's first check (a header, a root element)
so that the reader's deeper code is what meets the absurd values. :func:`draw` collects
examples outside a test, reproducibly from a seed.
"""

from __future__ import annotations

import struct
import warnings

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

SANE_INT = st.integers(1, 16)
WILD_INT = st.one_of(
    SANE_INT,
    SANE_INT,
    st.integers(-3, 20),
    st.sampled_from([0, -1, 255, 65535, 2**31 - 1, 2**31, 2**32, 10**12, 10**30]),
)
#: Mostly plausible, so that a file gets past its first check, else absurd.
WILD_NUMBER = st.one_of(
    SANE_INT.map(str),
    SANE_INT.map(str),
    WILD_INT.map(str),
    st.sampled_from(["NaN", "inf", "-inf", "1e308", "0.0000001", "", "x", "1/0", "3/0", "-0"]),
)


def draw(strategy: st.SearchStrategy, count: int, seed: int) -> list:
    """``count`` examples of ``strategy``, the same ones for the same seed."""
    out: list = []
    while len(out) < count:

        @hypothesis_seed(seed + len(out))
        @settings(
            max_examples=count - len(out),
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def collect(example: object) -> None:
            out.append(example)

        before = len(out)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            collect()
        if len(out) == before:
            break
    return out[:count]


# ------------------------------------------------------------------------------- ABC

NOTE = st.builds(
    lambda acc, name, octave, length: acc + name + octave + length,
    st.sampled_from(["", "^", "_", "=", "^^", "__", "^^^^"]),
    st.sampled_from(list("CDEFGABcdefgabzxZ")),
    st.sampled_from(["", "'", ",", "''''''''", ",,,,,,,,"]),
    st.one_of(st.just(""), WILD_NUMBER, st.sampled_from(["/", "//", "/0", "3/2", "/99999"])),
)
BODY_TOKEN = st.one_of(
    NOTE,
    NOTE,
    st.sampled_from(["|", "||", "|]", "|:", ":|", "::", "[1", "[2", ">", "<", "-", " ", "\n"]),
    st.builds(lambda n: f"({n}", WILD_NUMBER),  # tuplets
    st.builds(lambda ns: "[" + "".join(ns) + "]", st.lists(NOTE, max_size=6)),  # chords
    st.builds(lambda ns: "{" + "".join(ns) + "}", st.lists(NOTE, max_size=4)),  # grace notes
    st.sampled_from(["!trill!", "!fermata!", '"Am"', '"^text"', "~", ".", "T", "!!!", "!"]),
    st.builds(lambda f, v: f"[{f}:{v}]", st.sampled_from("KMLQV"), WILD_NUMBER),
    st.text(max_size=5),
)
HEADER = st.one_of(
    st.builds(lambda v: f"M:{v}", st.sampled_from(["C", "C|", "none", "6/8", "0/0", "3/0"])),
    st.builds(lambda a, b: f"M:{a}/{b}", WILD_NUMBER, WILD_NUMBER),
    st.builds(lambda a, b: f"L:{a}/{b}", WILD_NUMBER, WILD_NUMBER),
    st.builds(lambda a, b: f"Q:{a}={b}", st.sampled_from(["1/4", "1/0", "3/8", ""]), WILD_NUMBER),
    st.builds(lambda v: f"Q:{v}", WILD_NUMBER),
    st.builds(
        lambda t, m: f"K:{t}{m}",
        st.sampled_from(["C", "G", "F#", "Bb", "H", "", "none", "Hp", "^^", "C#########"]),
        st.sampled_from(["", "m", "dor", "mixolydian", " exp ^f _b", " clef=bass", "xyz"]),
    ),
    st.builds(lambda v: f"T:{v}", st.text(max_size=30)),
    st.builds(lambda v: f"V:{v}", WILD_NUMBER),
    st.builds(lambda v: f"%%MIDI program {v}", WILD_NUMBER),
    st.builds(lambda k, v: f"{k}:{v}", st.sampled_from("PRCOWwIUsN"), st.text(max_size=20)),
)


@st.composite
def abc_tunes(draw_: st.DrawFn) -> bytes:
    x = draw_(st.one_of(st.just("1"), WILD_NUMBER))
    headers = draw_(st.lists(HEADER, max_size=8))
    key = draw_(HEADER.filter(lambda h: h.startswith("K:")) | st.just("K:C"))
    body = "".join(draw_(st.lists(BODY_TOKEN, min_size=1, max_size=120)))
    repeat = draw_(st.sampled_from([1, 1, 1, 1, 50, 500]))  # long tunes too
    return f"X:{x}\n{chr(10).join(headers)}\n{key}\n{body * repeat}\n".encode(errors="replace")


# ------------------------------------------------------------------------------ MIDI


def vlq(value: int) -> bytes:
    value &= 0x0FFFFFFF
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


BYTE = st.integers(0, 255)
DATA = st.integers(0, 127) | BYTE
EVENT = st.one_of(
    st.builds(lambda c, p, v: bytes([0x90 | c, p, v]), st.integers(0, 15), DATA, DATA),
    st.builds(lambda c, p, v: bytes([0x80 | c, p, v]), st.integers(0, 15), DATA, DATA),
    st.builds(lambda p, v: bytes([p & 0x7F, v & 0x7F]), BYTE, BYTE),  # running status
    st.builds(lambda c, p: bytes([0xC0 | c, p]), st.integers(0, 15), DATA),
    st.builds(lambda c, a, b: bytes([0xE0 | c, a, b]), st.integers(0, 15), DATA, DATA),
    st.builds(lambda t: b"\xff\x51\x03" + t.to_bytes(3, "big"), st.integers(0, 2**24 - 1)),
    st.builds(lambda n, d: bytes([0xFF, 0x58, 4, n, d, 24, 8]), BYTE, BYTE),  # time signature
    st.builds(lambda sf, mi: bytes([0xFF, 0x59, 2, sf, mi]), BYTE, BYTE),  # key signature
    st.builds(
        lambda kind, n, body: bytes([0xFF, kind]) + vlq(n) + body,
        BYTE,
        st.integers(0, 2**28 - 1) | st.integers(0, 8),
        st.binary(max_size=8),
    ),  # a meta event whose length lies
    st.builds(
        lambda n, body: b"\xf0" + vlq(n) + body, st.integers(0, 2**28 - 1), st.binary(max_size=8)
    ),
    st.just(b"\xff\x2f\x00"),  # end of track, perhaps in the middle
    st.binary(min_size=1, max_size=6),
)


@st.composite
def midi_files(draw_: st.DrawFn) -> bytes:
    tracks = []
    for _ in range(draw_(st.integers(0, 4))):
        events = draw_(st.lists(st.tuples(WILD_INT | st.integers(0, 500), EVENT), max_size=150))
        body = b"".join(vlq(max(0, d)) + e for d, e in events)
        if draw_(st.booleans()):
            body += b"\x00\xff\x2f\x00"
        length = draw_(
            st.one_of(
                st.just(len(body)),
                st.just(len(body)),
                st.integers(0, 2**32 - 1),
                st.integers(-5, 5).map(lambda k, n=len(body): max(0, n + k)),
            )
        )
        tracks.append(b"MTrk" + struct.pack(">I", length) + body)
    header_len = draw_(st.sampled_from([6, 6, 6, 0, 5, 7, 2**32 - 1]))
    fmt = draw_(st.sampled_from([0, 1, 1, 2, 3, 0xFFFF]))
    count = draw_(st.one_of(st.just(len(tracks)), st.integers(0, 0xFFFF)))
    division = draw_(
        st.one_of(st.sampled_from([0, 1, 96, 480, 0x7FFF, 0xE728, 0xFFFF]), st.integers(0, 0xFFFF))
    )
    head = b"MThd" + struct.pack(">IHHH", header_len, fmt, count, division)
    junk = draw_(st.sampled_from([b"", b"", b"XFIH\x00\x00\x00\x02ab", b"MTrk"]))
    return head + b"".join(tracks) + junk


# -------------------------------------------------------------------------- MusicXML

PITCH = st.builds(
    lambda step, alter, octave: (
        f"<pitch><step>{step}</step><alter>{alter}</alter><octave>{octave}</octave></pitch>"
    ),
    st.sampled_from([*"CDEFGAB", "H", "", "c"]),
    WILD_NUMBER,
    WILD_NUMBER,
)
XML_NOTE = st.builds(
    lambda pitch, duration, kind, extra: (
        f"<note>{pitch}<duration>{duration}</duration><type>{kind}</type>{extra}</note>"
    ),
    PITCH | st.just("<rest/>") | st.just(""),
    WILD_NUMBER,
    st.sampled_from(["quarter", "eighth", "1024th", "maxima", "breve", "", "zzz"]),
    st.sampled_from(
        [
            "",
            "<chord/>",
            "<dot/><dot/><dot/><dot/>",
            "<tie type='start'/>",
            "<grace/>",
            "<time-modification><actual-notes>0</actual-notes><normal-notes>0</normal-notes>"
            "</time-modification>",
            "<voice>99999</voice>",
            "<staff>0</staff>",
        ]
    ),
)
MEASURE_EXTRA = st.sampled_from(
    [
        "",
        "<backup><duration>99999999</duration></backup>",
        "<forward><duration>-4</duration></forward>",
        "<barline><repeat direction='backward' times='999999'/></barline>",
        "<direction><sound tempo='0'/></direction>",
        "<direction><sound tempo='1e9'/></direction>",
    ]
)


@st.composite
def musicxml_files(draw_: st.DrawFn) -> bytes:
    divisions = draw_(WILD_NUMBER)
    beats, beat_type = draw_(WILD_NUMBER), draw_(WILD_NUMBER)
    fifths = draw_(WILD_NUMBER)
    parts = draw_(st.integers(1, 3))
    measures = draw_(st.integers(1, 6))
    repeat = draw_(st.sampled_from([1, 1, 1, 1, 20, 200]))
    head = (
        f"<attributes><divisions>{divisions}</divisions><key><fifths>{fifths}</fifths></key>"
        f"<time><beats>{beats}</beats><beat-type>{beat_type}</beat-type></time></attributes>"
    )
    body = []
    for p in range(parts):
        ms = []
        for m in range(measures * repeat):
            notes = "".join(draw_(st.lists(XML_NOTE, max_size=8))) if m < measures else ""
            extra = draw_(MEASURE_EXTRA) if m < measures else ""
            ms.append(f"<measure number='{m + 1}'>{head if m == 0 else ''}{notes}{extra}</measure>")
        body.append(f"<part id='P{p + 1}'>{''.join(ms)}</part>")
    part_list = "".join(
        f"<score-part id='P{p + 1}'><part-name>p</part-name></score-part>" for p in range(parts)
    )
    declared = draw_(st.sampled_from(["UTF-8", "UTF-8", "UTF-8", "UTF-16", "latin-1", "bogus"]))
    text = (
        f'<?xml version="1.0" encoding="{declared}"?>\n<score-partwise version="4.0">'
        f"<part-list>{part_list}</part-list>{''.join(body)}</score-partwise>\n"
    )
    return text.encode()


# ------------------------------------------------------------------------------ Kern

KERN_TOKEN = st.one_of(
    st.builds(
        lambda d, n, a: f"{d}{n}{a}",
        WILD_NUMBER | st.sampled_from(["4", "8", "4.", "16", "0", "00", "3%2"]),
        st.sampled_from(["c", "cc", "C", "CCCCCCCC", "cccccccccc", "r", "d", "x"]),
        st.sampled_from(["", "#", "-", "##", "n", "#######"]),
    ),
    st.sampled_from(["*^", "*v", "*-", "*M3/4", "*M0/0", "*MM0", "*k[f#c#]", "=", "==", "."]),
    st.builds(lambda a, b: f"*M{a}/{b}", WILD_NUMBER, WILD_NUMBER),
    st.builds(lambda v: f"*MM{v}", WILD_NUMBER),
    st.text(max_size=4),
)


@st.composite
def kern_files(draw_: st.DrawFn) -> bytes:
    spines = draw_(st.integers(1, 4))
    lines = ["\t".join(["**kern"] * spines)]
    for _ in range(draw_(st.integers(1, 60))):
        width = draw_(st.sampled_from([spines, spines, spines, spines + 1, max(1, spines - 1)]))
        lines.append("\t".join(draw_(st.lists(KERN_TOKEN, min_size=width, max_size=width))))
    if draw_(st.booleans()):
        lines.append("\t".join(["*-"] * spines))
    return ("\n".join(lines) + "\n").encode(errors="replace")


STRATEGIES = {
    ".abc": abc_tunes(),
    ".mid": midi_files(),
    ".xml": musicxml_files(),
    ".musicxml": musicxml_files(),
    ".krn": kern_files(),
}
