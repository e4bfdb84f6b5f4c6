"""tunesmith: learn melodies from symbolic scores and write new music.

``import tunesmith as ts`` is light: the API (``ts.load``, ``ts.prepare``, ``ts.train``,
``ts.evaluate``, ``ts.models``) and torch are imported when first used.
"""

from __future__ import annotations

from typing import Any

from tunesmith.version import __version__

#: Names the API module (tunesmith.api) provides, imported on first use.
_API = {
    "Chorale",
    "ChoraleModel",
    "Melodies",
    "Melody",
    "MelodyModel",
    "Note",
    "evaluate",
    "load",
    "models",
    "prepare",
    "train",
}
_ERRORS = {"TunesmithError", "ConfigError", "CheckpointError", "SourceError", "EncodingError"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from tunesmith import api

        return getattr(api, name)
    if name in _ERRORS:
        from tunesmith import errors

        return getattr(errors, name)
    if name == "UnknownModel":
        from tunesmith.shipped import UnknownModel

        return UnknownModel
    raise AttributeError(f"module 'tunesmith' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API, *_ERRORS, "UnknownModel"])


__all__ = ["__version__", *sorted(_API), *sorted(_ERRORS), "UnknownModel"]
