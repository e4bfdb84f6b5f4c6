"""The benchmark's metric in closed form, the .mat reader, and a short training run."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from tunesmith.corpus.rolls import lanes_of_windows, load_rolls, pad
from tunesmith.errors import SourceError
from tunesmith.learn.loop import TrainingError
from tunesmith.learn.models.poly import PolyModel, PolyModelConfig
from tunesmith.learn.poly_nll import bernoulli_nll, mean_nll
from tunesmith.learn.train_poly import PolyTrainConfig, train_poly

JSB_MAT = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb" / "JSB_Chorales.mat"
needs_jsb = pytest.mark.skipif(not JSB_MAT.exists(), reason="needs ../shared/data/jsb")


def roll(*frames: list[int]) -> np.ndarray:
    out = np.zeros((len(frames), 88), dtype=np.uint8)
    for t, keys in enumerate(frames):
        out[t, keys] = 1
    return out


def test_nll_of_a_uniform_decoder_in_closed_form() -> None:
    """With zero output weights every allowed token is equally likely: frame probabilities
    are products of 1/(number of allowed tokens), and the first frame is never scored."""
    model = PolyModel(
        PolyModelConfig(hidden_size=16, decoder_size=16, frame_embedding=8, relative=True)
    )
    for head in (model.head, model.interval_head, model.voice_leading_head):
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)
    rolls = [roll([60], [50, 40], [], [3]), roll([10, 20, 30], [87, 0])]
    # A frame with keys k1 > k2 > ... : 89 choices first, then k1 + 1 (keys below, STEP_END)...
    # the empty frame: STEP_END among 89.
    costs = [
        math.log(89) + math.log(51) + math.log(41),  # [50, 40]
        math.log(89),  # []
        math.log(89) + math.log(4),  # [3]
        math.log(89) + math.log(88) + math.log(1),  # [87, 0]
    ]
    assert mean_nll(model, rolls) == pytest.approx(sum(costs) / 4, rel=1e-5)
    assert mean_nll(model, rolls, frames_per_pass=1) == pytest.approx(sum(costs) / 4, rel=1e-5)


def test_trivial_model_in_closed_form() -> None:
    train = [roll([5], [], [5, 6], [])]  # key 5 on in 2 of 4 frames, key 6 in 1, others 0
    test = [roll([1], [5], [5, 6])]
    p5, p6, p_other = 3 / 6, 2 / 6, 1 / 6  # add-one smoothed: (on + 1) / (frames + 2)
    frame2 = math.log(p5) + math.log(1 - p6) + 86 * math.log(1 - p_other)
    frame3 = math.log(p5) + math.log(p6) + 86 * math.log(1 - p_other)
    assert bernoulli_nll(train, test) == pytest.approx(-(frame2 + frame3) / 2)


@needs_jsb
def test_load_rolls_reads_the_jsb_split() -> None:
    splits = load_rolls(JSB_MAT)
    assert [len(splits[k]) for k in ("traindata", "validdata", "testdata")] == [229, 76, 77]
    assert all(r.shape[1] == 88 and r.dtype == np.uint8 for r in splits["testdata"])


def test_load_rolls_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        load_rolls(tmp_path / "missing.mat")
    bad = tmp_path / "bad.mat"
    bad.write_text("not a mat file")
    with pytest.raises(SourceError, match=r"not a readable \.mat"):
        load_rolls(bad)
    partial = tmp_path / "partial.mat"
    scipy.io.savemat(partial, {"traindata": np.zeros((3, 88))})
    with pytest.raises(SourceError, match="no 'validdata'"):
        load_rolls(partial)


@needs_jsb
def test_short_training_beats_the_trivial_model() -> None:
    splits = load_rolls(JSB_MAT)
    train, valid = splits["traindata"][:32], splits["validdata"][:16]
    model_config = PolyModelConfig(frame_embedding=32, hidden_size=32, decoder_size=64)
    result = train_poly(
        train,
        valid,
        model_config,
        PolyTrainConfig(
            max_epochs=8, batch_size=4, learning_rate=1e-2, transpose=0, keep=2, seed=1
        ),
    )
    assert result.epochs == 8 and len(result.history) == 8
    assert result.best_valid_nll == pytest.approx(mean_nll(result.model, valid))
    assert result.best_valid_nll < bernoulli_nll(train, valid)
    assert len(result.kept) == 2 and result.kept[0] is result.model
    assert mean_nll(result.kept, valid) < bernoulli_nll(train, valid)


@pytest.mark.parametrize("shifts", [(0,), (-1, 0, 2)], ids=["plain", "transposition mixture"])
def test_next_frame_probabilities_over_4_keys_sum_to_one(shifts: tuple[int, ...]) -> None:
    """Through the benchmark's own scoring: every possible next frame after a 3-frame past."""
    torch.manual_seed(0)
    config = PolyModelConfig(keys=4, frame_embedding=8, hidden_size=8, decoder_size=16)
    models = [PolyModel(config), PolyModel(config)]
    past = np.array([[1, 0, 1, 0], [0, 1, 1, 1], [1, 1, 0, 0]], dtype=np.uint8)
    total = 0.0
    for bits in itertools.product([0, 1], repeat=4):
        piece = np.vstack([past, np.array(bits, dtype=np.uint8)])
        # mean_nll averages over the 3 predicted frames; the first two are the same each time.
        total += math.exp(-3 * mean_nll(models, [piece], shifts=shifts))
    first_two = math.exp(-2 * mean_nll(models, [past[:3]], shifts=shifts))
    # A shift that pushes a note off the keyboard gives that frame probability 0 in its term,
    # so a mixture with shifts may fall short of 1 but never exceed it.
    if shifts == (0,):
        assert total / first_two == pytest.approx(1.0, abs=1e-5)
    else:
        assert 0.3 < total / first_two <= 1.0 + 1e-6


@needs_jsb
def test_a_poly_run_resumed_after_ctrl_c_ends_as_if_it_never_stopped(tmp_path: Path) -> None:
    """The poly model gets the melody models' checkpoints and exact resume from the one loop:
    the same batches in the same random keys, the same schedule, the same best epochs."""
    splits = load_rolls(JSB_MAT)
    train, valid = splits["traindata"][:12], splits["validdata"][:4]
    model_config = PolyModelConfig(frame_embedding=16, hidden_size=16, decoder_size=16)
    config = PolyTrainConfig(
        max_epochs=4,
        batch_size=4,
        keep=2,
        lr_schedule="plateau",
        lr_patience=0,
        save_every=2,
        window_frames=16,
    )
    whole = train_poly(train, valid, model_config, config, run_dir=tmp_path / "whole")

    def ctrl_c_after_epoch_2(row: dict) -> None:
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    cut = train_poly(
        train, valid, model_config, config, ctrl_c_after_epoch_2, run_dir=tmp_path / "cut"
    )
    assert cut.stopped_by == "interrupted" and cut.epochs == 2
    resumed = train_poly(train, valid, model_config, config, run_dir=tmp_path / "cut", resume=True)
    assert resumed.epochs == whole.epochs == 4 and resumed.stopped_by == "max epochs"

    def figures(result) -> list[tuple]:
        return [(h["epoch"], h["train_nll"], h["valid_nll"]) for h in result.history]

    assert figures(resumed) == figures(whole)
    assert (resumed.best_epoch, resumed.best_valid_nll) == (whole.best_epoch, whole.best_valid_nll)
    for a, b in zip(resumed.kept, whole.kept, strict=True):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), name


@needs_jsb
def test_windows_with_the_carried_state_score_a_piece_as_a_whole() -> None:
    """Truncated back-propagation cuts the gradient, not the context: each piece's windows,
    laid in lanes and each started from where its lane's last window ended, predict every
    frame of it once, with the probabilities the whole piece gives."""
    torch.manual_seed(0)
    pieces = load_rolls(JSB_MAT)["validdata"][:5]
    model = PolyModel(PolyModelConfig(frame_embedding=16, hidden_size=16, decoder_size=16))
    model.eval()
    batches = lanes_of_windows(pieces, lanes=2, length=16)
    assert all(len(b) == 2 for b in batches) and sum(w is None for w in batches[-1]) <= 1
    state, scored = None, 0.0
    with torch.no_grad():
        for batch in batches:
            rolls = [w.roll if w else np.zeros((2, 88), np.uint8) for w in batch]
            frames, lengths = pad(rolls)
            if state is not None:
                goes_on = torch.tensor([float(w is not None and w.carries) for w in batch])
                state = tuple(s * goes_on.view(1, -1, 1) for s in state)
            log_p, state = model(frames, lengths, state)
            real = torch.repeat_interleave(
                torch.tensor([float(w is not None) for w in batch]), lengths - 1
            )
            scored += float((log_p * real).sum())
    predicted = sum(len(w.roll) - 1 for b in batches for w in b if w)
    assert predicted == sum(len(p) - 1 for p in pieces)
    assert -scored / predicted == pytest.approx(mean_nll(model, pieces), rel=1e-5)


@needs_jsb
def test_a_run_in_windows_resumed_mid_epoch_ends_as_if_it_never_stopped(tmp_path: Path) -> None:
    """Ctrl-C in the middle of an epoch keeps where every lane's window ended: the resumed
    run starts the next windows from that state, as the uninterrupted run did."""
    splits = load_rolls(JSB_MAT)
    train, valid = splits["traindata"][:8], splits["validdata"][:3]
    model_config = PolyModelConfig(frame_embedding=16, hidden_size=16, decoder_size=16)
    config = PolyTrainConfig(
        max_epochs=2, batch_size=3, window_frames=16, keep=1, lr_schedule="plateau"
    )
    whole = train_poly(train, valid, model_config, config, run_dir=tmp_path / "whole")
    calls = 0

    def ctrl_c_before_batch_5(module: torch.nn.Module, args: tuple) -> None:
        nonlocal calls
        if isinstance(module, PolyModel) and module.training:
            calls += 1
            if calls == 5:  # the first epoch has more batches than that
                raise KeyboardInterrupt

    handle = torch.nn.modules.module.register_module_forward_pre_hook(ctrl_c_before_batch_5)
    try:
        with pytest.raises(TrainingError, match="interrupted before its first epoch ended"):
            train_poly(train, valid, model_config, config, run_dir=tmp_path / "cut")
    finally:
        handle.remove()
    resumed = train_poly(train, valid, model_config, config, run_dir=tmp_path / "cut", resume=True)
    assert [h["valid_nll"] for h in resumed.history] == [h["valid_nll"] for h in whole.history]
    for (name, x), y in zip(
        resumed.model.state_dict().items(), whole.model.state_dict().values(), strict=True
    ):
        assert torch.equal(x, y), name
