"""Confining names that come from a request to the folder they belong in."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from tunesmith.errors import ConfigError

#: One path component the server accepts: no separators, no "..", no hidden files.
SAFE_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")


class OutsideFolder(ConfigError):
    """A name that would reach outside its folder (``..``, an absolute path, a symlink out)."""


def confine(
    root: str | Path,
    relative: str,
    *,
    what: str = "name",
    shape: str = "a folder name",
    parts: int = 1,
) -> Path:
    """The path of ``relative`` inside ``root``, refusing anything that could leave ``root``.

    ``relative`` must be ``parts`` plain components (letters, digits, ``.``, ``_``, ``-``)
    joined by ``/``: no ``..``, no absolute path, no backslash, no empty or hidden part.
    The joined path is then resolved, following symlinks, and must still lie inside
    ``root`` resolved, so a symlink pointing out of ``root`` is refused too. The path
    need not exist.

    :param what: how the message names the value (``run``, ``file``).
    :param shape: how the message describes what is allowed.
    :param parts: how many components ``relative`` must have.
    :raise OutsideFolder: naming the value and what is allowed.
    """
    pieces = PurePosixPath(relative).parts if relative else ()
    plain = (
        "\\" not in relative
        and "\0" not in relative
        and not relative.startswith("/")
        and len(pieces) == parts
        and all(SAFE_PART.fullmatch(p) for p in pieces)
        and "/".join(pieces) == relative
    )
    if not plain:
        msg = (
            f"{what} {relative!r} must be {shape} of letters, digits, '.', '_' or '-' "
            "(no '..', no absolute path)"
        )
        raise OutsideFolder(msg)
    base = Path(root).resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base) or path == base:
        raise OutsideFolder(f"{what} {relative!r} points outside its folder; it is not served")
    return path
