"""A full disk while writing, and a damaged cache: the previous state stays whole.

The disk is a real size-limited tmpfs filled with a filler file (tests/fulldisk.py): the
kernel answers ENOSPC, nothing is mocked. Checkpoint save, corpus write and cache commit
here; the web studio's output in tests/web/test_web_full_disk.py.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fulldisk import Disk, snapshot
from testdata import TINY_TRAIN_ARGS, random_context

from tunesmith.corpus.dataset import Corpus
from tunesmith.corpus.prepare import prepare_corpus
from tunesmith.errors import WriteError
from tunesmith.learn.checkpoint import load_last, load_run, save_last, save_weights
from tunesmith.read.cache import MelodyCache


def _one_line_error(done: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "tunesmith", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=False)


# ---------------------------------------------------------------------------- checkpoints


def _optimizer(model: torch.nn.Module):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    ids = torch.zeros(2, 8, dtype=torch.long)
    model(ids, None, random_context(2, 8, model.head.out_features))[0].sum().backward()
    optimizer.step()  # Adam's moments exist, so the state has tensors to write
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def test_a_checkpoint_save_on_a_full_disk_keeps_the_last_one(
    small_disk: Disk, tiny_run: Path
) -> None:
    run_dir = small_disk.root / "run"
    shutil.copytree(tiny_run, run_dir)
    run = load_run(run_dir)
    optimizer, scheduler = _optimizer(run.model)
    save_last(run_dir, run.model, optimizer, scheduler, {"epoch": 1, "step": 10})
    before = snapshot(run_dir)
    small_disk.fill()
    with torch.no_grad():
        for p in run.model.parameters():
            p.add_(1.0)  # new weights that cannot be written
    with pytest.raises(WriteError) as caught:
        save_last(run_dir, run.model, optimizer, scheduler, {"epoch": 2, "step": 20})
    message = str(caught.value)
    assert "\n" not in message and "No space left on device" in message
    assert "cannot save the checkpoint" in message and "the previous one is kept" in message
    with pytest.raises(WriteError, match="No space left on device"):
        save_weights(run.model, run_dir / "model.safetensors")
    assert snapshot(run_dir) == before  # nothing half-written left, nothing changed
    small_disk.empty()
    again = load_run(run_dir)  # the best weights and the last state both load
    optimizer, scheduler = _optimizer(again.model)
    assert load_last(run_dir, again.model, optimizer, scheduler)["step"] == 10


def test_training_on_a_full_disk_stops_with_one_line(
    small_disk: Disk, tiny_run: Path, tiny_corpus: Path
) -> None:
    run_dir = small_disk.root / "run"
    shutil.copytree(tiny_run, run_dir)
    before = snapshot(run_dir)
    small_disk.fill()
    args = ["train", str(tiny_corpus), "--out", str(run_dir), *TINY_TRAIN_ARGS]
    done = _cli(*args, "--resume", "--epochs", "4")
    assert done.returncode == 1
    assert "No space left on device" in _one_line_error(done)
    assert snapshot(run_dir) == before
    small_disk.empty()
    assert load_run(run_dir) and load_run(run_dir, weights="last")


# -------------------------------------------------------------------------------- corpora


def test_a_corpus_write_on_a_full_disk_keeps_the_previous_corpus(
    small_disk: Disk, midi_sample: Path, tmp_path: Path
) -> None:
    """Room for the new tokens but not for the rest: the old corpus must not end up with
    new tokens beside its old vocabulary and manifest."""
    out = small_disk.root / "corpus"
    prepare_corpus([str(midi_sample)], out, jobs=1)
    before = snapshot(out)
    elsewhere = prepare_corpus(["essen"], tmp_path / "essen", limit=30, jobs=1)
    tokens = (tmp_path / "essen" / "tokens.npy").stat().st_size
    small_disk.fill(leave=(tokens // 4096 + 1) * 4096)
    with pytest.raises(WriteError) as caught:
        prepare_corpus(["essen"], out, limit=30, jobs=1)
    assert "\n" not in str(caught.value) and "No space left" in str(caught.value)
    assert snapshot(out) == before
    corpus = Corpus.open(out)
    assert len(corpus.tokens) == np.load(out / "tokens.npy").size
    assert elsewhere.kept == 30

    done = _cli("prepare", "essen", "--limit", "20", "--out", str(out), "--jobs", "1")
    assert done.returncode == 1 and "No space left" in _one_line_error(done)
    assert snapshot(out) == before


# ---------------------------------------------------------------------------------- cache


def _entries(cache_dir: Path) -> int:
    with sqlite3.connect(cache_dir / "melodies.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return db.execute("SELECT count(*) FROM entries").fetchone()[0]


def test_a_cache_commit_on_a_full_disk_keeps_what_was_committed(
    small_disk: Disk, midi_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_dir = small_disk.root / "cache"
    monkeypatch.setenv("TUNESMITH_CACHE", str(cache_dir))
    prepare_corpus([str(midi_sample)], tmp_path / "a", jobs=1)
    held = _entries(cache_dir)
    assert held == 24
    small_disk.fill()
    report = prepare_corpus(["essen"], tmp_path / "b", limit=300, jobs=1)  # still made
    assert report.kept > 250
    assert _entries(cache_dir) == held  # the committed entries are whole
    small_disk.empty()
    assert prepare_corpus([str(midi_sample)], tmp_path / "c", jobs=1).from_cache == 24


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped"])
def test_a_damaged_cache_is_detected_and_rebuilt(
    damage: str, midi_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("TUNESMITH_CACHE", str(cache_dir))
    first = prepare_corpus([str(midi_sample)], tmp_path / "a", jobs=1)
    db = cache_dir / "melodies.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    if damage == "garbage":
        data = bytearray(b"this is not a database" * 100)
    elif damage == "truncated":
        data = data[: len(data) // 2 + 100]
    else:  # a page of the table's b-tree overwritten
        data[len(data) // 2 : len(data) // 2 + 512] = b"\xff" * 512
    db.write_bytes(bytes(data))
    report = prepare_corpus([str(midi_sample)], tmp_path / "b", jobs=1)
    assert report.kept == 24 and report.tokens == first.tokens  # the same corpus
    if damage == "flipped":  # inside the entries: their checksums catch it, those are read again
        assert report.from_cache < 24
    else:  # SQLite finds the file damaged: set aside, a new cache started
        assert report.from_cache == 0 and (cache_dir / "melodies.sqlite.damaged").exists()
    assert _entries(cache_dir) == 24  # a whole cache again
    assert prepare_corpus([str(midi_sample)], tmp_path / "c", jobs=1).from_cache == 24


def test_a_cache_entry_changed_on_disk_is_not_trusted(
    midi_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("TUNESMITH_CACHE", str(cache_dir))
    first = prepare_corpus([str(midi_sample)], tmp_path / "a", jobs=1)
    with sqlite3.connect(cache_dir / "melodies.sqlite") as conn:  # valid JSON, other notes
        changed = conn.execute(
            "UPDATE entries SET entry = replace(entry, '[[6', '[[7') WHERE entry LIKE '%[[6%'"
        ).rowcount
    assert changed > 0
    again = prepare_corpus([str(midi_sample)], tmp_path / "b", jobs=1)
    assert again.from_cache == 24 - changed and again.tokens == first.tokens
    cache = MelodyCache(cache_dir, {})
    assert cache.get("no such key") is None
