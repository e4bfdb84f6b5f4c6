"""The chorale model gives a proper distribution over whole frames."""

from __future__ import annotations

import itertools

import pytest
import torch

from tunesmith.corpus.encodings.poly import encode_frame
from tunesmith.learn.models.poly import PolyModel, PolyModelConfig, spell_frames


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative terms"])
def test_probabilities_of_all_16_frames_over_4_keys_sum_to_one(relative: bool) -> None:
    torch.manual_seed(0)
    config = PolyModelConfig(
        keys=4, frame_embedding=8, hidden_size=8, decoder_size=16, relative=relative
    )
    model = PolyModel(config)
    model.eval()
    history = torch.tensor([[[1, 0, 1, 0], [0, 1, 1, 1], [1, 1, 0, 0]]], dtype=torch.float)
    context, _ = model.context(history)
    candidates = torch.tensor(list(itertools.product([0, 1], repeat=4)), dtype=torch.float)
    for t in range(history.shape[1]):
        log_p = model.score_frames(
            context[0, t].expand(16, -1), history[0, t].expand(16, -1), candidates
        )
        assert torch.isclose(log_p.exp().sum(), torch.tensor(1.0), atol=1e-5)
        assert (log_p.exp() > 1e-6).all()  # every frame, the empty one included, is possible


def test_teacher_forcing_spells_frames_as_the_encoding_does() -> None:
    frames = torch.zeros(3, 88)
    frames[0, [39, 43, 46, 51]] = 1
    frames[2, 51] = 1
    tokens, prefix, last, position, valid = spell_frames(frames)
    for i in range(3):
        spelled = tokens[i][valid[i]].tolist()
        assert spelled == encode_frame(frames[i].nonzero().flatten().tolist())
    assert last[0].tolist() == [88, 51, 46, 43, 39]
    assert prefix[0, 2].nonzero().flatten().tolist() == [46, 51]
    assert position[0].tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative terms"])
@torch.no_grad()
def test_scoring_frames_at_once_equals_spelling_them_token_by_token(relative: bool) -> None:
    """Training's scoring of whole frames gives the likelihood the sampler's token steps give."""
    torch.manual_seed(1)
    model = PolyModel(PolyModelConfig(hidden_size=16, decoder_size=32, relative=relative))
    model.eval()
    rolls = (torch.rand(2, 9, 88) < 0.06).float()
    rolls[0, 3] = 0  # an empty frame
    context, _ = model.context(rolls[:, :-1])
    flat = model.score_frames(
        context.reshape(-1, 16), rolls[:, :-1].reshape(-1, 88), rolls[:, 1:].reshape(-1, 88)
    )
    stepped = []
    for b, t in itertools.product(range(2), range(8)):
        keys = rolls[b, t + 1].nonzero().flatten().tolist()
        prefix, last, total = torch.zeros(1, 1, 88), 88, 0.0
        for j, token in enumerate(encode_frame(keys)):
            log_p = model.token_log_probs(
                context[b, t].view(1, -1), rolls[b, t].view(1, -1), prefix,
                torch.tensor([[last]]), torch.tensor([[j]]),
            )[0, 0]  # fmt: skip
            total += float(log_p[token])
            if token < 88:
                prefix[0, 0, token], last = 1.0, token
        stepped.append(total)
    assert torch.allclose(flat, torch.tensor(stepped), atol=1e-4)
