"""Encodings: melodies as token strings, and the vocabulary that numbers them."""

from tunesmith.encodings.base import Encoding, get_encoding
from tunesmith.encodings.vocab import END, Vocab

__all__ = ["END", "Encoding", "Vocab", "get_encoding"]
