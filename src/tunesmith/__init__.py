"""tunesmith: learn melodies from symbolic scores and write new music."""

__version__ = "0.1.0"

__all__ = ["__version__"]
