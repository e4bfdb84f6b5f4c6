"""Copying from the training data: the detector, and the guard that keeps sampling from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tunesmith.cli import app
from tunesmith.config import DataConfig, read_json
from tunesmith.corpus.context import trackers
from tunesmith.corpus.dataset import Corpus
from tunesmith.corpus.encodings import Vocab, get_encoding
from tunesmith.errors import CheckpointError
from tunesmith.learn.checkpoint import TRAIN_TOKENS, load_run, load_training_tokens
from tunesmith.make.copying import (
    CopyDetector,
    CopyGuard,
    copy_guard,
    guard_length,
    tokens_per_bar,
)
from tunesmith.make.generate import GenerateOptions, generate
from tunesmith.make.sample import Choice, _probabilities, sample_ids
from tunesmith.melody import Melody, Note


def test_guard_forbids_exactly_the_continuations_that_complete_a_training_run() -> None:
    rng = np.random.default_rng(0)
    training = rng.integers(0, 5, 3000)
    length = 6
    guard = CopyGuard(training, length)
    runs = {tuple(training[i : i + length]) for i in range(len(training) - length + 1)}
    histories = [list(rng.integers(0, 5, 12)) for _ in range(60)] + [[1, 2], []]
    forbidden = guard.forbidden(histories, 5)
    for history, row in zip(histories, forbidden, strict=True):
        for token in range(5):
            expected = len(history) >= length - 1 and (*history[-5:], token) in runs
            assert row[token] == expected, (history, token)
    assert forbidden.any() and not forbidden.all()


def test_rows_followed_token_by_token_agree_with_the_whole_histories() -> None:
    rng = np.random.default_rng(1)
    training = rng.integers(0, 4, 2000)
    guard = CopyGuard(training, 5)
    histories = [[], [1], list(rng.integers(0, 4, 3)), list(rng.integers(0, 4, 30))]
    rows = guard.start(histories)
    for _ in range(40):
        assert np.array_equal(rows.forbidden(4), guard.forbidden(histories, 4))
        step = [int(t) for t in rng.integers(0, 4, len(histories))]
        rows.push(step)
        histories = [[*h, t] for h, t in zip(histories, step, strict=True)]


def test_a_row_with_every_token_forbidden_keeps_them() -> None:
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1], [0.7, 0.2, 0.1]]))
    forbidden = np.array([[True, False, False], [True, True, True]])
    probs = _probabilities(logits, Choice(1.0, 0, 1.0, (), None), forbidden)
    assert probs[0, 0] == 0 and abs(probs[0, 1] - 2 / 3) < 1e-6  # the rest renormalised
    assert torch.allclose(probs[1], torch.tensor([0.7, 0.2, 0.1]))  # nothing else to take


def test_tokens_per_bar_of_the_steps_and_notes_encodings(tiny_corpus: Path) -> None:
    corpus = Corpus.open(tiny_corpus)
    stream = corpus.stream(list(range(len(corpus.pieces)))).numpy()
    steps = get_encoding(corpus.data_config)
    assert tokens_per_bar(steps, corpus.vocab, stream, 4) == 16  # a token a sixteenth
    melody = steps.decode(corpus.vocab.decode(stream[1:200]))
    melody = Melody([Note(p, 3 * s, 3 * d) for p, s, d in melody.notes], 12, 3 * melody.length)
    notes = get_encoding(DataConfig(encoding="notes"))  # 12 steps a quarter
    tokens = notes.encode(melody)
    vocab = Vocab(notes.base_tokens() + sorted(set(tokens) - set(notes.base_tokens())), "notes")
    per_bar = tokens_per_bar(notes, vocab, np.array(vocab.encode(tokens)), 12)
    assert per_bar == pytest.approx(len(tokens) / (melody.length / 48), rel=1e-6)
    assert per_bar < 16  # a note token spans several steps


def test_guarded_sampling_never_completes_a_run_the_guard_knows(tiny_run: Path) -> None:
    """The model's own unguarded samples as the "training data": guarded, with the same
    random seed, it must leave each of them before a run of the guard's length."""
    run = load_run(tiny_run)
    end = run.vocab.end_id
    primes = [[end, *run.vocab.encode(o["tokens"])] for o in read_json(tiny_run / "openings.json")]
    primes = primes[:8]

    def sample(guard: CopyGuard | None) -> list[list[int]]:
        generator = torch.Generator().manual_seed(0)
        form = trackers(run.vocab, run.data, [(4, 4)] * len(primes), [128] * len(primes))
        return sample_ids(
            run.model, primes, 80, banned=[end], guard=guard, form=form, generator=generator
        )

    free = sample(None)
    known = np.array([t for row in free for t in row] + [end])
    detector, guard = CopyDetector(known), CopyGuard(known, 24)
    guarded = sample(guard)
    assert all(detector.longest(row) == len(row) for row in free)
    assert all(detector.longest(row[len(p) :]) < 24 for row, p in zip(guarded, primes, strict=True))
    assert [len(r) for r in guarded] == [len(r) for r in free]


def test_generate_never_copies_two_bars_of_the_training_pieces(
    tiny_run: Path, tmp_path: Path
) -> None:
    run = load_run(tiny_run)
    guard = copy_guard(run, 2.0)
    assert guard is not None and guard.length == 32  # two bars of sixteenths
    assert copy_guard(run, 2.0) is guard  # made once, kept with the run
    assert copy_guard(run, 0) is None
    results = generate(run, tmp_path, GenerateOptions(num=6, bars=8, temperature=0.7, seed=3))
    training = load_training_tokens(tiny_run)
    assert training is not None
    detector, encoding = CopyDetector(training), get_encoding(run.data)
    for r in results:
        assert r.guard_bars == 2.0
        ids = run.vocab.encode(encoding.encode(r.melody))  # the opening bar, then new music
        # two bars of the melody's own metre (steps: a token a step): 24 in 3/4, 48 in 3/2
        assert detector.longest(ids) < 2 * r.melody.steps_per_bar


def test_a_run_without_training_tokens_generates_unguarded_and_says_so(
    tiny_run: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old-run"
    shutil.copytree(tiny_run, old)
    (old / TRAIN_TOKENS).unlink()  # as a run trained before the guard existed
    results = generate(old, tmp_path / "out", GenerateOptions(num=2, bars=2, seed=1))
    assert all(r.guard_bars == 0.0 and r.midi.exists() for r in results)
    r = CliRunner().invoke(app, ["generate", str(old), "--out", str(tmp_path / "cli"), "-n", "1"])
    assert r.exit_code == 0, r.output
    assert "no copy guard" in r.output
    r = CliRunner().invoke(app, ["generate", str(old), "--copy-guard", "-1"])
    assert r.exit_code != 0 and "--copy-guard must be between 0" in r.output


def test_a_run_keeps_the_tokens_of_its_training_pieces(tiny_run: Path, tiny_corpus: Path) -> None:
    run = load_run(tiny_run)
    corpus = Corpus.open(tiny_corpus)
    train_idx, _ = corpus.split(run.train.val_fraction, run.train.seed)
    kept = load_training_tokens(tiny_run)
    assert kept is not None and kept.dtype == np.uint16
    assert np.array_equal(kept, corpus.stream(train_idx).numpy())  # no held-out piece in it


def test_a_crafted_training_tokens_file_is_refused_never_unpickled(
    tiny_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    np.save(run / TRAIN_TOKENS, np.array([print], dtype=object), allow_pickle=True)
    with pytest.raises(CheckpointError, match=r"train-tokens\.npy: damaged"):
        generate(run, tmp_path / "out", GenerateOptions(num=1, bars=1))
    r = CliRunner().invoke(app, ["generate", str(run), "--out", str(tmp_path / "cli")])
    assert r.exit_code == 1 and "damaged" in r.output and "Traceback" not in r.output


def test_the_guard_counts_bars_of_each_melody_s_own_metre(tiny_run: Path) -> None:
    run = load_run(tiny_run)
    guards = copy_guard(run, 2.0, [(4, 4), (3, 4), (6, 8), (2, 4), (4, 4)])
    assert guards is not None
    assert [g.length for g in guards.guards] == [32, 24, 24, 16, 32]
    assert guards.guards[0] is guards.guards[4] is copy_guard(run, 2.0)  # one per length
    assert guard_length(5.0, 2, (3, 4)) == 8  # notes: 5 tokens a 4/4 bar, 3.75 a 3/4 bar
