"""Shared fixtures: real music from music21's corpus and ../shared/data, a private cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from testdata import ESSEN_SAMPLE, NOTTINGHAM_MIDI


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test session gets its own melody cache, never the user's."""
    monkeypatch.setenv("TUNESMITH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def nottingham_midi() -> Path:
    if not NOTTINGHAM_MIDI.is_dir():
        pytest.skip(f"{NOTTINGHAM_MIDI} not present")
    return NOTTINGHAM_MIDI


@pytest.fixture(scope="session")
def midi_sample(tmp_path_factory: pytest.TempPathFactory, nottingham_midi: Path) -> Path:
    """A folder with 24 Nottingham MIDI files (links to the shared ones)."""
    folder = tmp_path_factory.mktemp("midi_sample")
    for f in sorted(nottingham_midi.glob("*.mid"))[:24]:
        (folder / f.name).symlink_to(f)
    return folder


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory, midi_sample: Path) -> Path:
    """A prepared corpus: 24 Nottingham MIDI files, then the first 40 Essen tunes."""
    import os

    from tunesmith.corpus.prepare import prepare_corpus

    base = tmp_path_factory.getbasetemp()
    os.environ["TUNESMITH_CACHE"] = str(base / "cache")
    out = base / "tiny_corpus"
    prepare_corpus([str(midi_sample), "essen"], out, limit=64, jobs=2)
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    """A tiny LSTM trained for two short epochs on the tiny corpus."""
    from tunesmith.config import ModelConfig, TrainConfig
    from tunesmith.learn.train import train_model

    run = tmp_path_factory.getbasetemp() / "tiny_run"
    train_model(
        tiny_corpus,
        run,
        ModelConfig(embedding_dim=16, hidden_size=32, num_layers=1, dropout=0.0),
        TrainConfig(epochs=2, batch_size=16, sequence_length=32, seed=1),
    )
    return run


@pytest.fixture(scope="session")
def essen_pieces() -> list:
    """(label, Piece) for ESSEN_SAMPLE Essen tunes, read once for every test that needs them."""
    from tunesmith.read.sources import find_items, read_item

    items = find_items(["essen"])
    sample = items[:: len(items) // ESSEN_SAMPLE][:ESSEN_SAMPLE]
    assert len({it.path for it in sample}) > 20
    return [(it.label, read_item(it)) for it in sample]


@pytest.fixture(scope="session")
def tiny_poly_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny chorale model: 12 of music21's Bach chorales, every part (poly encoding), one
    short epoch; prepared and trained through the Python API."""
    import tunesmith as ts

    base = tmp_path_factory.getbasetemp()
    data = base / "tiny_poly_corpus"
    ts.prepare("chorales", data, encoding="poly", limit=12, jobs=2)
    run = base / "tiny_poly_run"
    model = {"frame_embedding": 16, "hidden_size": 16, "decoder_size": 32}
    ts.train(data, run, model=model, epochs=1, time_limit=60, keep=1, shifts=0)
    return run


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 16 MB tmpfs under tmp_path that a test can fill (root only: else skipped)."""
    from fulldisk import Disk

    with Disk.mounted(tmp_path / "disk", size_mb=16) as disk:
        yield disk
