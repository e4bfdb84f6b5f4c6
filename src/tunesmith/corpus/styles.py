"""Style labels: ``prepare --style irish=oneills --style chinese=han1.abc,han2.abc`` makes
one corpus of several sources, each piece labelled; a model trained on it reads its piece's
style as an input, and ``generate --style`` asks for one.

A small style must not be drowned by a large one: :func:`balanced` repeats a style's
training pieces (at most :data:`MAX_REPEAT` times) until it holds at least half as many
tokens as the largest, an epoch mix that leaves validation as it is.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from tunesmith.errors import ConfigError, SourceError
from tunesmith.read.sources import Item, find_items

_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
#: Most times a small style's pieces are repeated in an epoch.
MAX_REPEAT = 8


def parse_styles(specs: list[str]) -> dict[str, list[str]]:
    """``["irish=oneills", "german=erk*.abc,boehme*"]`` as label -> sources, in order; a
    label given twice gathers its sources. ``LABEL=DIR/*/`` (a folder of sub-folders) gives
    each sub-folder its own label, its name."""
    styles: dict[str, list[str]] = {}
    for spec in specs:
        label, sep, sources = spec.partition("=")
        if label == "*" and sep:  # "*=DIR": one style a sub-folder of DIR
            for sub in _sub_folders(sources):
                styles.setdefault(sub.name, []).append(str(sub))
            continue
        if not sep or not sources.strip():
            raise ConfigError(
                f"--style {spec!r}: write LABEL=SOURCE[,SOURCE...], e.g. irish=oneills"
            )
        if not _LABEL.match(label):
            raise ConfigError(
                f"--style {spec!r}: a label is a letter then letters, digits, '-' or '_'"
            )
        styles.setdefault(label, []).extend(s for s in sources.split(",") if s)
    return styles


def _sub_folders(folder: str) -> list[Path]:
    path = Path(folder)
    subs = sorted(p for p in path.iterdir() if p.is_dir()) if path.is_dir() else []
    if not subs:
        raise ConfigError(f"--style '*={folder}': not a folder of sub-folders (one a style)")
    return subs


def style_items(styles: dict[str, list[str]], limit: int = 0) -> tuple[list[Item], dict[str, str]]:
    """The items of every style (the first ``limit`` of each, 0 = all), and each item's
    label; an item in two styles is refused (it would teach the model both)."""
    items: list[Item] = []
    style_of: dict[str, str] = {}
    for label, sources in styles.items():
        found = find_items(sources)
        if limit:
            found = found[:limit]
        for item in found:
            if style_of.setdefault(item.label, label) != label:
                msg = f"{item.label}: in two styles ({style_of[item.label]} and {label})"
                raise SourceError(msg)
        items.extend(found)
    return items, style_of


def balanced(pieces: list[dict[str, Any]], indices: list[int]) -> list[int]:
    """``indices`` with the pieces of small styles repeated (see the module docstring)."""
    tokens: dict[str, int] = defaultdict(int)
    for i in indices:
        if pieces[i].get("style"):
            tokens[pieces[i]["style"]] += pieces[i]["length"]
    if len(tokens) < 2:
        return indices
    largest = max(tokens.values())
    repeat = {s: min(MAX_REPEAT, max(1, -(-largest // (2 * n)))) for s, n in tokens.items()}
    out = []
    for i in indices:
        out.extend([i] * repeat.get(pieces[i].get("style") or "", 1))
    return out
