"""tunesmith: learn melodies from symbolic scores and write new music.

``import tunesmith as ts`` is light: the API (``ts.load``, ``ts.prepare``, ``ts.train``,
``ts.evaluate``, ``ts.models``) and torch are imported when first used.
"""

from __future__ import annotations

import sys
import types
from typing import Any

__version__ = "0.1.0"

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
#: API functions named as modules of the package are too (tunesmith.prepare, .models ...).
_SHADOWED = frozenset({"prepare", "train", "evaluate", "models"})
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


class _Package(types.ModuleType):
    """Importing ``tunesmith.prepare`` (the module) sets the package's attribute ``prepare``
    to it; ``ts.prepare`` must stay the API's function all the same (the modules are still
    imported by their full names: ``from tunesmith.prepare import prepare_corpus``)."""

    def __getattribute__(self, name: str) -> Any:
        if name in _SHADOWED:
            from tunesmith import api

            return getattr(api, name)
        return super().__getattribute__(name)


sys.modules[__name__].__class__ = _Package

__all__ = ["__version__", *sorted(_API), *sorted(_ERRORS), "UnknownModel"]
