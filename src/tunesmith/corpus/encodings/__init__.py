"""Encodings: melodies as token strings, and the vocabulary that numbers them."""

from tunesmith.corpus.encodings.base import Encoding, get_encoding
from tunesmith.corpus.encodings.vocab import END, Vocab

__all__ = ["END", "Encoding", "Vocab", "get_encoding"]
