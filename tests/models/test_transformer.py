"""The Transformer: its key/value cache gives the same logits as the full sequence."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tunesmith.config import ModelConfig, TrainConfig
from tunesmith.corpus.context import trackers
from tunesmith.errors import ConfigError
from tunesmith.learn.checkpoint import load_run
from tunesmith.learn.models import KVCache, build_model
from tunesmith.learn.train import train_model
from tunesmith.make.sample import sample_ids

VOCAB = 24


def _model(positions: str, context: int = 16) -> torch.nn.Module:
    torch.manual_seed(0)
    config = ModelConfig(
        kind="transformer",
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        context=context,
        positions=positions,
        dropout=0.2,
        form=False,  # the cache's own behaviour; form inputs: tests/test_form.py
    )
    return build_model(config, VOCAB).eval()


def _one_at_a_time(model: torch.nn.Module, ids: torch.Tensor) -> tuple[torch.Tensor, KVCache]:
    state, outs = None, []
    for t in range(ids.size(1)):
        logits, state = model(ids[:, t : t + 1], state)
        outs.append(logits)
    return torch.cat(outs, 1), state


@pytest.mark.parametrize("positions", ["rotary", "learned"])
@torch.no_grad()
def test_cached_steps_equal_the_full_sequence(positions: str) -> None:
    model = _model(positions)
    ids = torch.randint(VOCAB, (3, 16), generator=torch.Generator().manual_seed(1))
    full, _ = model(ids)
    stepped, cache = _one_at_a_time(model, ids)
    torch.testing.assert_close(stepped, full, atol=1e-5, rtol=1e-5)
    # A prefix then the rest (how stateful evaluation reads windows) agrees too.
    head, state = model(ids[:, :5])
    tail, state = model(ids[:, 5:], state)
    torch.testing.assert_close(torch.cat([head, tail], 1), full, atol=1e-5, rtol=1e-5)
    assert cache.length == 16 and state.length == 16


@torch.no_grad()
def test_rotary_cache_slides_past_the_context() -> None:
    """Beyond ``context`` each position sees the last ``context`` ones: the ring of slots
    gives what a full pass with a sliding-window mask gives, never re-running the prefix."""
    model = _model("rotary", context=8)
    ids = torch.randint(VOCAB, (2, 40), generator=torch.Generator().manual_seed(2))
    full, _ = model(ids)  # one pass, window mask
    stepped, cache = _one_at_a_time(model, ids)
    torch.testing.assert_close(stepped, full, atol=1e-5, rtol=1e-5)
    assert cache.keys[0].shape[2] == 8  # the cache never outgrows the context
    windows = []
    state = None
    for t in range(0, 40, 12):
        logits, state = model(ids[:, t : t + 12], state)
        windows.append(logits)
    torch.testing.assert_close(torch.cat(windows, 1), full, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_learned_positions_start_again_from_half_the_context() -> None:
    model = _model("learned", context=8)
    ids = torch.randint(VOCAB, (2, 30), generator=torch.Generator().manual_seed(3))
    stepped, cache = _one_at_a_time(model, ids)
    assert torch.isfinite(stepped).all()
    assert cache.length <= 8
    # Token 8 comes after encoding tokens 5..8 afresh from position 0.
    fresh, _ = model(ids[:, 5:9])
    torch.testing.assert_close(stepped[:, 8], fresh[:, -1], atol=1e-5, rtol=1e-5)


def test_train_resume_and_sample(tiny_corpus: Path, tmp_path: Path) -> None:
    config = ModelConfig(kind="transformer", hidden_size=32, num_layers=1, context=32)
    train = TrainConfig(epochs=2, batch_size=16, sequence_length=32, seed=1)
    result = train_model(tiny_corpus, tmp_path / "tf", config, train)
    assert result.epochs_done == 2 and result.best_val_loss < 3.0
    resumed = train_model(tiny_corpus, tmp_path / "tf", None, TrainConfig(epochs=3), resume=True)
    assert resumed.epochs_done == 3
    run = load_run(tmp_path / "tf")
    assert run.model_config == config
    form = trackers(run.vocab, run.data, [(4, 4)] * 2, [80, 80])
    g = torch.Generator().manual_seed(0)
    out = sample_ids(run.model, [[run.vocab.end_id, 2, 3], [4]], 50, form=form, generator=g)
    assert [len(o) for o in out] == [53, 51]


def test_windows_longer_than_the_context_are_refused(tiny_corpus: Path, tmp_path: Path) -> None:
    config = ModelConfig(kind="transformer", hidden_size=32, num_layers=1, context=16)
    with pytest.raises(ConfigError, match="--context"):
        train_model(tiny_corpus, tmp_path / "tf", config, TrainConfig(sequence_length=32))


def test_cli_trains_a_transformer_with_windows_as_long_as_its_context(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from tunesmith.cli import app
    from tunesmith.learn.checkpoint import read_run_info

    out = tmp_path / "tf"
    args = ["train", str(tiny_corpus), "--out", str(out), "--model", "transformer"]
    args += ["--hidden-size", "32", "--num-layers", "1", "--context", "24", "--epochs", "1"]
    learned = [*args, "--positions", "learned", "--no-form", "--grad-accum", "2"]
    result = CliRunner().invoke(app, learned)
    assert result.exit_code == 0, result.output
    info = read_run_info(out)
    assert info["train"]["sequence_length"] == 24 and info["train"]["grad_accum"] == 2
    assert info["model"]["positions"] == "learned"
