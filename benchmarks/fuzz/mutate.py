"""Bad inputs made from real files: bit flips, truncation, splicing, huge counts, deep
nesting, odd encodings, and for .mxl broken and bombed zip archives.

Every function takes the original bytes and a ``random.Random`` and returns new bytes, so
a campaign is reproduced exactly from its seed.
"""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile
import zlib
from collections.abc import Callable

Mutation = Callable[[bytes, random.Random], bytes]

HUGE = ["0", "-1", "-99999", "4294967295", "2147483648", "99999999999999999999", "1e308", "NaN"]


def bit_flips(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randrange(1, 40)):
        if b:
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    return bytes(b)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(max(1, len(data)))]


def splice(data: bytes, rng: random.Random) -> bytes:
    """Random bytes inserted, a region deleted, or a region repeated many times."""
    cut = rng.randrange(max(1, len(data)))
    kind = rng.randrange(3)
    if kind == 0:
        return data[:cut] + rng.randbytes(rng.randrange(1, 200)) + data[cut:]
    if kind == 1:
        return data[:cut] + data[cut + rng.randrange(1, 2000) :]
    chunk = data[cut : cut + rng.randrange(1, 400)]
    return data[:cut] + chunk * rng.randrange(2, 2000) + data[cut:]


def huge_counts(data: bytes, rng: random.Random) -> bytes:
    """Numbers in a text format replaced by huge, zero, negative or non-numbers."""
    numbers = list(re.finditer(rb"\d+", data))
    if not numbers:
        return splice(data, rng)
    b = data
    for m in sorted(rng.sample(numbers, min(len(numbers), rng.randrange(1, 12))), key=_start)[::-1]:
        b = b[: m.start()] + rng.choice(HUGE).encode() + b[m.end() :]
    return b


def _start(m: re.Match) -> int:
    return m.start()


def midi_huge_counts(data: bytes, rng: random.Random) -> bytes:
    """A MIDI file's track count, division, chunk lengths or delta times made absurd."""
    b = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0 and len(b) >= 14:
        b[10:12] = struct.pack(">H", rng.choice([0, 1, 0x7FFF, 0xFFFF]))  # tracks
    elif kind == 1 and len(b) >= 14:
        b[12:14] = struct.pack(">H", rng.choice([0, 1, 0x7FFF, 0x8000, 0xE728, 0xFFFF]))
    elif kind == 2:
        chunks = [m.start() for m in re.finditer(rb"MTrk|MThd", bytes(b))]
        if chunks:
            at = rng.choice(chunks) + 4
            b[at : at + 4] = struct.pack(">I", rng.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF]))
    elif len(b) > 30:  # a delta time of the largest four-byte length
        at = rng.randrange(22, len(b))
        b[at:at] = b"\xff\xff\xff\x7f"
    return bytes(b)


def deep_nesting(data: bytes, rng: random.Random, suffix: str) -> bytes:
    depth = rng.choice([100, 2_000, 20_000])
    cut = rng.randrange(max(1, len(data)))
    if suffix in (".xml", ".musicxml"):
        at = data.find(b"<note", cut)
        at = at if at >= 0 else cut
        tag = rng.choice([b"note", b"measure", b"part", b"x"])
        return data[:at] + b"<" + tag + b">" * 1 + (b"<" + tag + b">") * depth + data[at:]
    if suffix == ".abc":
        opener = rng.choice([b"(", b"[", b"{", b"((3", b"[K:", b"!"])
        return data[:cut] + opener * depth + data[cut:]
    if suffix == ".krn":  # spine splits, one line after another
        return data[:cut] + b"\n" + b"\n".join(b"\t".join([b"*^"] * 2) for _ in range(depth // 100))
    return splice(data, rng)


def odd_encoding(data: bytes, rng: random.Random) -> bytes:
    """Text re-encoded (UTF-16/32, Latin-1), BOMs, NULs, invalid UTF-8, bare CR lines."""
    text = data.decode("utf-8", errors="replace")
    kind = rng.randrange(7)
    if kind == 0:
        return text.encode(rng.choice(["utf-16", "utf-16-le", "utf-16-be"]))
    if kind == 1:
        return text.encode("utf-32")
    if kind == 2:
        return text.encode("latin-1", errors="replace").replace(b"e", b"\xe9")
    if kind == 3:
        return b"\xef\xbb\xbf" * rng.randrange(1, 4) + data
    if kind == 4:
        b = bytearray(data)
        for _ in range(rng.randrange(1, 20)):
            b.insert(rng.randrange(len(b) + 1), 0)
        return bytes(b)
    if kind == 5:
        b = bytearray(data)
        for _ in range(rng.randrange(1, 20)):
            b.insert(rng.randrange(len(b) + 1), rng.choice([0x80, 0xC0, 0xFF, 0xED]))
        return bytes(b)
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r")


def crossover(a: bytes, b: bytes, rng: random.Random) -> bytes:
    """The head of one real file and the tail of another of the same format."""
    return a[: rng.randrange(max(1, len(a)))] + b[rng.randrange(max(1, len(b))) :]


# ----------------------------------------------------------------------------- .mxl


def zip_of(members: dict[str, bytes], *, compress: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compress) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def container(rootfile: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><container><rootfiles>'
        f'<rootfile full-path="{rootfile}" media-type="application/vnd.recordare.musicxml+xml"/>'
        "</rootfiles></container>"
    ).encode()


def mxl_members(data: bytes) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return {n: z.read(n) for n in z.namelist()}
    except (zipfile.BadZipFile, OSError, EOFError):
        return {}


def bomb_member(size: int) -> bytes:
    """A deflate stream that inflates to ``size`` bytes of spaces (made once, reused)."""
    return _BOMBS.get(size) or _BOMBS.setdefault(size, _deflate_spaces(size))


_BOMBS: dict[int, bytes] = {}


def _deflate_spaces(size: int) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = b" " * (1 << 20)
    parts = [z.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + z.flush()


def zip_with_raw_member(name: str, raw: bytes, size: int, prefix: bytes = b"") -> bytes:
    """A zip whose single member is the raw deflate stream ``raw`` that inflates to
    ``size`` bytes (CRC left wrong: a bomb need not be honest)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("META-INF/container.xml", container(name))
    head = out.getvalue()
    # Rebuild by hand: local header + data, then the central directory.
    body = io.BytesIO()
    entries = []
    with zipfile.ZipFile(io.BytesIO(head)) as z:
        for info in z.infolist():
            entries.append((info.filename.encode(), z.read(info), zipfile.ZIP_DEFLATED, None))
    entries.append((name.encode(), prefix, zipfile.ZIP_DEFLATED, (raw, size)))
    central = []
    for fname, plain, method, bomb in entries:
        offset = body.tell()
        if bomb:
            comp, usize, crc = bomb[0], bomb[1], 0
        else:
            zc = zlib.compressobj(9, zlib.DEFLATED, -15)
            comp, usize, crc = zc.compress(plain) + zc.flush(), len(plain), zlib.crc32(plain)
        local = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(comp), usize, len(fname), 0
        )
        body.write(local + fname + comp)
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                method,
                0,
                0,
                crc,
                len(comp),
                usize,
                len(fname),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + fname
        )
    cd_start = body.tell()
    cd = b"".join(central)
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(cd), cd_start, 0
    )
    return body.getvalue() + cd + end


def mxl_mutation(data: bytes, rng: random.Random, inner: Mutation, bomb_size: int) -> bytes:
    """A broken .mxl: a mutated score inside a good zip, a bomb, traversal, or bad zip."""
    members = mxl_members(data)
    xml_names = [n for n in members if not n.startswith("META-INF")]
    kind = rng.randrange(8)
    if kind in (0, 1) and xml_names:  # the score inside mutated, the archive intact
        name = rng.choice(xml_names)
        return zip_of({**members, name: inner(members[name], rng)})
    if kind == 2:  # a zip bomb: a member that inflates to far more than the file's size
        return zip_with_raw_member("score.xml", bomb_member(bomb_size), bomb_size)
    if kind == 3:  # the rootfile points outside the archive, or nowhere
        where = rng.choice(["../../../../etc/passwd", "/etc/passwd", "missing.xml", "", "a/" * 300])
        return zip_of({**members, "META-INF/container.xml": container(where)})
    if kind == 4:  # many members
        many = {f"m{i}.xml": b"<x/>" for i in range(rng.choice([1000, 20_000]))}
        return zip_of({**members, **many}, compress=zipfile.ZIP_STORED)
    if kind == 5:  # a zip inside the zip, or no score at all
        return zip_of({"META-INF/container.xml": container("in.mxl"), "in.mxl": data})
    if kind == 6:  # stored, not deflated, with the score truncated
        name = rng.choice(xml_names) if xml_names else "score.xml"
        short = truncate(members.get(name, data), rng)
        return zip_of({**members, name: short}, compress=zipfile.ZIP_STORED)
    return rng.choice([bit_flips, truncate, splice])(data, rng)  # the archive itself broken
