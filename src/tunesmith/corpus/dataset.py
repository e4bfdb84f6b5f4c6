"""A prepared corpus as training data: memory-mapped tokens, a split by piece, batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunesmith.config import DataConfig, read_json
from tunesmith.corpus.encodings import Vocab, get_encoding
from tunesmith.errors import CorpusError
from tunesmith.melody import steps_per_bar


@dataclass
class Corpus:
    """A prepared corpus folder, opened (see :mod:`tunesmith.corpus.prepare` for its layout)."""

    path: Path
    tokens: np.ndarray  # memory-mapped
    vocab: Vocab
    manifest: dict[str, Any]
    _context: np.ndarray | None = field(default=None, repr=False)

    @property
    def data_config(self) -> DataConfig:
        return DataConfig.from_dict(self.manifest["data"])

    @property
    def pieces(self) -> list[dict[str, Any]]:
        return self.manifest["pieces"]

    @property
    def styles(self) -> list[str]:
        """The style labels of a corpus prepared with ``--style`` (ids 1, 2...), else []."""
        return list(self.manifest.get("styles", []))

    @classmethod
    def open(cls, path: str | Path) -> Corpus:
        path = Path(path)
        if not (path / "manifest.json").is_file():
            msg = f"{path}: not a prepared corpus (no manifest.json); run 'tunesmith prepare' first"
            raise CorpusError(msg)
        try:
            manifest = read_json(path / "manifest.json")
            tokens = np.load(path / "tokens.npy", mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise CorpusError(f"{path}: prepared corpus is damaged ({exc}); prepare again") from exc
        vocab = Vocab.load(path / "vocab.json")
        if not manifest.get("pieces"):
            raise CorpusError(f"{path}: prepared corpus holds no pieces")
        return cls(path, tokens, vocab, manifest)

    def split(self, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
        """Piece indices for training and validation: a seeded split by piece, not by window,
        so no validation window shares music with a training one."""
        group_of = [p.get("group", i) for i, p in enumerate(self.pieces)]
        groups = sorted(set(group_of))
        if len(groups) < len(group_of):
            # Copies in other keys (--augment-keys) and parts of one piece split at a long
            # silence share a group: the split is by group, so none straddles the two sets.
            order = np.random.default_rng(seed).permutation(len(groups))
            n_val = max(1, round(len(groups) * val_fraction)) if len(groups) > 1 else 0
            held_out = {groups[i] for i in order[:n_val]}
            val = [i for i, g in enumerate(group_of) if g in held_out]
            return [i for i, g in enumerate(group_of) if g not in held_out], val
        n = len(self.pieces)
        order = np.random.default_rng(seed).permutation(n)
        n_val = max(1, round(n * val_fraction)) if n > 1 else 0
        return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())

    def stream(self, indices: list[int]) -> torch.Tensor:
        """The chosen pieces as one id stream in memory (see :meth:`split_stream`)."""
        return self.split_stream(indices)[:]

    @property
    def context(self) -> np.ndarray:
        """(tokens, WIDTH) form context of every position (:mod:`tunesmith.corpus.context`):
        memory-mapped from the corpus folder, or, for a corpus prepared before contexts
        were kept there, computed on first use (18 bytes a token, in memory)."""
        from tunesmith.corpus.context import CONTEXT_FILE, WIDTH, corpus_context

        if self._context is None:
            try:
                kept = np.load(self.path / CONTEXT_FILE, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError):
                kept = None
            if kept is not None and kept.shape == (len(self.tokens), WIDTH):
                self._context = kept
            else:
                config = self.data_config
                self._context = corpus_context(self.tokens, self.pieces, self.vocab, config)
        return self._context

    def split_stream(self, indices: list[int], context: bool = False) -> SplitStream:
        """The chosen pieces as one id stream, each preceded by the end token, one more
        last, read from the memory-mapped ``tokens.npy`` as it is indexed: nothing is
        copied, so a corpus larger than memory trains, and processes share one copy.
        With ``context``, the stream also gives each position's form context."""
        pieces = [self.pieces[i] for i in indices]
        ctx = self.context if context else None
        return SplitStream(self.tokens, pieces, self.vocab.end_id, ctx)

    def openings(self, indices: list[int], count: int = 256) -> list[dict[str, Any]]:
        """Openings to start generation from: the tokens of the first bar (in the piece's
        own metre, at most four quarters: a 3/1 bar of Essen's is twelve), the key and the
        time signature of up to ``count`` pieces, spread over the given ones."""
        encoding = get_encoding(self.data_config)
        spq = self.data_config.steps_per_quarter
        out = []
        for i in indices[:: max(1, len(indices) // count)][:count]:
            p = self.pieces[i]
            num, den = p.get("time_signature") or (4, 4)
            steps = min(steps_per_bar((num, den), spq), 4 * spq)
            ids = self.tokens[p["start"] : p["start"] + min(steps, p["length"])]
            tokens = self.vocab.decode(int(x) for x in ids)
            while len(tokens) > 1 and encoding.steps(tokens) > steps:  # a note spans steps
                tokens.pop()
            opening = {"tokens": tokens, "key": p["key"], "time_signature": [num, den]}
            if p.get("style"):
                opening["style"] = p["style"]
            out.append(opening)
        return out


class SplitStream:
    """Some pieces of a prepared corpus as one token stream, gathered on demand.

    Position ``v`` of the stream falls in piece ``k`` (the first position of each piece is
    the end token before it) and maps to ``tokens[start_k - 1 + offset]``: a prepared
    corpus stores an end token before every piece. Indexing with an int tensor (any shape)
    or a slice gives an int64 tensor, as indexing a tensor of the whole stream would.
    """

    def __init__(
        self,
        tokens: np.ndarray,
        pieces: list[dict[str, Any]],
        end_id: int,
        context: np.ndarray | None = None,
    ) -> None:
        self._tokens = tokens
        self._end = end_id
        self._context = context
        lengths = np.array([p["length"] + 1 for p in pieces], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(lengths)])  # where each piece begins
        self._base = np.array([p["start"] - 1 for p in pieces], dtype=np.int64)
        # where each piece's closing end token lies in the corpus (its context is there)
        self._after = np.array([p["start"] + p["length"] for p in pieces], dtype=np.int64)
        self._len = int(self._offsets[-1]) + 1  # the end token after the last piece
        if len(self._base) and (self._base < 0).any():
            raise CorpusError("prepared corpus: a piece starts at 0, with no end token before it")

    def __len__(self) -> int:
        return self._len

    @property
    def has_context(self) -> bool:
        return self._context is not None

    def _where(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For stream positions: which lie inside a piece (the rest is the end token after
        the last piece), and their corpus positions."""
        flat = np.asarray(positions, dtype=np.int64).ravel()
        if flat.size and (flat.min() < 0 or flat.max() >= self._len):
            raise IndexError(f"stream positions outside 0..{self._len - 1}")
        piece = np.searchsorted(self._offsets, flat, side="right") - 1
        inside = piece < len(self._base)
        piece = piece[inside]
        return inside, self._base[piece] + flat[inside] - self._offsets[piece]

    def gather(self, positions: np.ndarray) -> np.ndarray:
        """Token ids at stream positions (an int array of any shape)."""
        inside, at = self._where(positions)
        ids = np.full(inside.shape, self._end, dtype=np.int64)
        ids[inside] = self._tokens[at]
        return ids.reshape(np.shape(positions))

    def gather_context(self, positions: np.ndarray) -> np.ndarray:
        """Form context rows at stream positions: (*positions.shape, WIDTH). The end token
        after a piece has that piece's closing row (read where the corpus keeps it, after
        the same piece), the stream's first end token the row before any piece."""
        if self._context is None:
            raise ValueError("this stream was opened without context")
        flat = np.asarray(positions, dtype=np.int64).ravel()
        if flat.size and (flat.min() < 0 or flat.max() >= self._len):
            raise IndexError(f"stream positions outside 0..{self._len - 1}")
        piece = np.searchsorted(self._offsets, flat, side="right") - 1
        closing = (flat == self._offsets[piece]) & (piece >= 1)  # the end token after piece-1
        inside = (flat != self._offsets[piece]) & (piece < len(self._base))
        at = np.zeros(flat.shape, dtype=np.int64)  # corpus position 0: before any piece
        at[inside] = self._base[piece[inside]] + flat[inside] - self._offsets[piece[inside]]
        at[closing] = self._after[piece[closing] - 1]
        return np.asarray(self._context[at], dtype=np.int64).reshape(*np.shape(positions), -1)

    def __getitem__(self, index: slice | torch.Tensor | np.ndarray) -> torch.Tensor:
        if isinstance(index, slice):
            index = np.arange(self._len)[index]
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        return torch.from_numpy(self.gather(index))


def count_windows(stream: torch.Tensor | SplitStream, seq_len: int) -> int:
    return max(0, (len(stream) - 1) // seq_len)


def train_batches(
    stream: torch.Tensor | SplitStream, seq_len: int, batch_size: int, seed: int, epoch: int
) -> list[torch.Tensor]:
    """An epoch's batches of window starts, fixed by (seed, epoch) so a resume sees the same.

    The windows tile the stream from a random offset and are shuffled; every position of a
    window is a training target, not only its last.
    """
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    offset = int(torch.randint(seq_len, (1,), generator=g)) if len(stream) > 2 * seq_len else 0
    n = (len(stream) - 1 - offset) // seq_len
    if n <= 0:
        raise CorpusError(
            f"training data has {len(stream)} tokens, fewer than one window of {seq_len}; "
            "use a smaller --sequence-length or more music"
        )
    starts = offset + torch.randperm(n, generator=g) * seq_len
    return list(starts.split(batch_size))


def windows(stream: torch.Tensor | SplitStream, starts: torch.Tensor, seq_len: int):
    """Inputs and targets for windows starting at ``starts``: (B, T) each, int64, on the
    stream's device (a :class:`SplitStream`'s are on the CPU)."""
    idx = starts[:, None].cpu() + torch.arange(seq_len + 1)
    if isinstance(stream, torch.Tensor):
        idx = idx.to(stream.device)
    chunk = stream[idx].long()
    return chunk[:, :-1], chunk[:, 1:]


def stream_context(stream: torch.Tensor | SplitStream, inputs: torch.Tensor) -> torch.Tensor | None:
    """The form context for inputs at stream positions ``inputs``: the rows of their
    targets, one position on (None for a stream without context)."""
    if not isinstance(stream, SplitStream) or not stream.has_context:
        return None
    return torch.from_numpy(stream.gather_context(inputs.cpu().numpy() + 1))


def window_context(stream: torch.Tensor | SplitStream, starts: torch.Tensor, seq_len: int):
    """(B, T, WIDTH) form context of the windows :func:`windows` reads, or None."""
    return stream_context(stream, starts[:, None].cpu() + torch.arange(seq_len))


@dataclass(frozen=True)
class Lanes:
    """``rows`` contiguous lanes of ``width`` tokens, the first starting at stream position
    ``first``: inputs are read from them and targets one position later."""

    first: int
    rows: int
    width: int

    def chunk(
        self, stream: torch.Tensor | SplitStream, t: int, seq_len: int, rows: slice = slice(None)
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of columns ``t .. t + seq_len`` of the chosen rows."""
        pos = self.positions(t, seq_len, rows)
        if isinstance(stream, torch.Tensor):
            pos = pos.to(stream.device)
        return stream[pos].long(), stream[pos + 1].long()

    def positions(self, t: int, seq_len: int, rows: slice = slice(None)) -> torch.Tensor:
        """Stream positions of the inputs of columns ``t .. t + seq_len``."""
        lane = torch.arange(self.rows)[rows]
        cols = torch.arange(t, min(t + seq_len, self.width))
        return self.first + lane[:, None] * self.width + cols


def eval_lanes(stream: torch.Tensor | SplitStream, lanes: int) -> list[Lanes]:
    """The stream as ``lanes`` contiguous rows, plus one row for the remainder, so that
    every token but the first is a target exactly once. Read each with :meth:`Lanes.chunk`:
    a chunk at a time, never the whole stream at once."""
    n = len(stream) - 1
    lanes = max(1, min(lanes, n // 64 or 1))
    width = n // lanes
    out = [Lanes(0, lanes, width)]
    if lanes * width < n:
        out.append(Lanes(lanes * width, 1, n - lanes * width))
    return out
