"""A real full disk for the tests: a size-limited tmpfs, and a filler file to fill it.

No write is mocked: the kernel itself answers ENOSPC, as a full disk does. Mounting needs
root (the development machines and CI run as root); elsewhere the tests are skipped.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


class Disk:
    """A mounted tmpfs at ``root``; :meth:`fill` takes all its space but ``leave`` bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / ".filler"

    @classmethod
    @contextlib.contextmanager
    def mounted(cls, root: Path, size_mb: int) -> Iterator[Disk]:
        root.mkdir(parents=True, exist_ok=True)
        cmd = ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(root)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except OSError as exc:
            pytest.skip(f"cannot mount a tmpfs ({exc})")
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
        try:
            yield cls(root)
        finally:
            subprocess.run(["umount", "-l", str(root)], check=False)

    def free_bytes(self) -> int:
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize

    def fill(self, leave: int = 0) -> None:
        """Write the filler until the disk is full, then give back ``leave`` bytes."""
        chunk = b"\0" * (1 << 16)
        with open(self.filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        if leave:
            size = self.filler.stat().st_size
            os.truncate(self.filler, max(0, size - leave))
        assert self.free_bytes() <= leave + 4096

    def empty(self) -> None:
        self.filler.unlink(missing_ok=True)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (but the filler) and its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".filler"
    }
