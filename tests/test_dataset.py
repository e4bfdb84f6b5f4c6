"""A prepared corpus as training data: streams read from the memory map, windows, lanes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tunesmith.corpus.dataset import Corpus, eval_lanes, train_batches, windows
from tunesmith.corpus.encodings import Vocab


def _concatenated(corpus: Corpus, indices: list[int]) -> np.ndarray:
    """The stream as it is defined: each piece after an end token, one more at the end."""
    end = corpus.vocab.end_id
    parts = [[end]]
    for i in indices:
        p = corpus.pieces[i]
        parts += [corpus.tokens[p["start"] : p["start"] + p["length"]], [end]]
    return np.concatenate(parts).astype(np.int64)


def test_split_stream_reads_the_pieces_in_place(tiny_corpus: Path) -> None:
    corpus = Corpus.open(tiny_corpus)
    train_idx, val_idx = corpus.split(0.25, seed=2)
    for indices in (train_idx, val_idx, [], [len(corpus.pieces) - 1]):
        expected = _concatenated(corpus, indices)
        stream = corpus.split_stream(indices)
        assert len(stream) == len(expected)
        assert stream[:].tolist() == expected.tolist()
        at = torch.randint(len(expected), (5, 7), generator=torch.Generator().manual_seed(1))
        assert stream[at].tolist() == expected[at.numpy()].tolist()
    stream = corpus.split_stream(val_idx)
    with pytest.raises(IndexError):
        stream[torch.tensor([len(stream)])]


def test_windows_and_lanes_match_a_stream_in_memory(tiny_corpus: Path) -> None:
    corpus = Corpus.open(tiny_corpus)
    train_idx, _ = corpus.split(0.1, seed=0)
    lazy, eager = corpus.split_stream(train_idx), corpus.stream(train_idx)
    batches = train_batches(lazy, 32, 16, seed=4, epoch=1)
    assert [b.tolist() for b in batches] == [
        b.tolist() for b in train_batches(eager, 32, 16, seed=4, epoch=1)
    ]
    for a, b in zip(windows(lazy, batches[0], 32), windows(eager, batches[0], 32), strict=True):
        assert torch.equal(a, b)
    # every token but the first is a target exactly once, read chunk by chunk
    targets = []
    for lanes in eval_lanes(lazy, 7):
        rows = [[] for _ in range(lanes.rows)]
        for t in range(0, lanes.width, 10):
            x, y = lanes.chunk(lazy, t, 10)
            assert torch.equal(x[:, 1:], y[:, :-1])
            for row, part in zip(rows, y.tolist(), strict=True):
                row.extend(part)
        targets += [t for row in rows for t in row]
    assert targets == eager[1:].tolist()


def _resident_kib() -> int:
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("needs Linux's /proc to read the process's resident memory")
    line = next(s for s in status.read_text().splitlines() if s.startswith("VmRSS:"))
    return int(line.split()[1])


def test_a_corpus_larger_than_memory_is_never_copied(tmp_path: Path) -> None:
    """A billion tokens (2 GB on disk, a sparse file): opening a split and reading batches
    of windows touches a few pages, where a copy of the split as int32 would take 3.6 GB."""
    pieces, length = 20_000, 50_000
    tokens = np.lib.format.open_memmap(
        tmp_path / "tokens.npy", mode="w+", dtype=np.uint16, shape=(pieces * (length + 1) + 1,)
    )
    del tokens  # all zeros, the end token: only the layout matters here
    manifest = {
        "data": {"encoding": "steps"},
        "pieces": [{"start": 1 + i * (length + 1), "length": length} for i in range(pieces)],
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    Vocab(["<end>", "_", "r"], "steps").save(tmp_path / "vocab.json")
    before = _resident_kib()
    corpus = Corpus.open(tmp_path)
    train_idx, val_idx = corpus.split(0.1, seed=0)
    stream = corpus.split_stream(train_idx)
    assert len(stream) == len(train_idx) * (length + 1) + 1 > 900_000_000
    starts = torch.randint(len(stream) - 300, (64,))
    for _ in range(20):
        x, y = windows(stream, starts, 256)
        assert x.shape == (64, 256) and y.shape == (64, 256)
    lanes = eval_lanes(corpus.split_stream(val_idx), 64)[0]
    assert lanes.chunk(corpus.split_stream(val_idx), 0, 256)[0].shape == (64, 256)
    grown = _resident_kib() - before
    assert grown < 300 * 1024, f"reading batches grew the process by {grown // 1024} MB"
