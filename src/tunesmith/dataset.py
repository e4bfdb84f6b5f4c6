"""A prepared corpus as training data: memory-mapped tokens, a split by piece, batches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunesmith.config import DataConfig, read_json
from tunesmith.encodings import Vocab, get_encoding
from tunesmith.errors import CorpusError


@dataclass
class Corpus:
    """A prepared corpus folder, opened (see :mod:`tunesmith.prepare` for its layout)."""

    path: Path
    tokens: np.ndarray  # memory-mapped
    vocab: Vocab
    manifest: dict[str, Any]

    @property
    def data_config(self) -> DataConfig:
        return DataConfig.from_dict(self.manifest["data"])

    @property
    def pieces(self) -> list[dict[str, Any]]:
        return self.manifest["pieces"]

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

    def stream(self, indices: list[int], dtype: type = np.int64) -> torch.Tensor:
        """The chosen pieces as one id stream, each preceded by the end token, one more last.

        :param dtype: numpy dtype of the copy (training keeps int32, half of int64's memory).
        """
        end = self.vocab.end_id
        parts = []
        for i in indices:
            p = self.pieces[i]
            parts.append(np.asarray([end], dtype=dtype))
            parts.append(np.asarray(self.tokens[p["start"] : p["start"] + p["length"]], dtype))
        parts.append(np.asarray([end], dtype=dtype))
        return torch.from_numpy(np.concatenate(parts))

    def openings(self, indices: list[int], steps: int, count: int = 256) -> list[dict[str, Any]]:
        """Openings to start generation from: the tokens of the first ``steps`` grid steps
        and the key of up to ``count`` pieces, spread over the given ones."""
        encoding = get_encoding(self.data_config)
        out = []
        for i in indices[:: max(1, len(indices) // count)][:count]:
            p = self.pieces[i]
            ids = self.tokens[p["start"] : p["start"] + min(steps, p["length"])]
            tokens = self.vocab.decode(int(x) for x in ids)
            while len(tokens) > 1 and encoding.steps(tokens) > steps:  # a note spans steps
                tokens.pop()
            out.append({"tokens": tokens, "key": p["key"]})
        return out


def count_windows(stream: torch.Tensor, seq_len: int) -> int:
    return max(0, (len(stream) - 1) // seq_len)


def train_batches(
    stream: torch.Tensor, seq_len: int, batch_size: int, seed: int, epoch: int
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


def windows(stream: torch.Tensor, starts: torch.Tensor, seq_len: int):
    """Inputs and targets for windows starting at ``starts``: (B, T) each."""
    idx = (starts[:, None] + torch.arange(seq_len + 1)).to(stream.device)
    chunk = stream[idx].long()
    return chunk[:, :-1], chunk[:, 1:]


def eval_lanes(stream: torch.Tensor, lanes: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The stream as inputs and targets in ``lanes`` contiguous rows, plus one row for the
    remainder, so that every token but the first is a target exactly once."""
    n = len(stream) - 1
    lanes = max(1, min(lanes, n // 64 or 1))
    width = n // lanes
    x = stream[: lanes * width].view(lanes, width)
    y = stream[1 : lanes * width + 1].view(lanes, width)
    out = [(x, y)]
    if lanes * width < n:
        out.append((stream[lanes * width : n][None], stream[lanes * width + 1 :][None]))
    return out
