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
