"""Held-out prediction: a model reads a stream in lanes, its state carried from chunk to chunk.

The stream is cut into contiguous lanes read ``seq_len`` tokens at a time with the
recurrent state carried over, so every token is predicted from all the music before it (as
when generating), not from a window's worth. A Transformer's state is its key/value cache:
each token sees up to ``context`` tokens before it, across chunks. Training's validation
and ``evaluate`` both read a stream this way, so their figures agree.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from tunesmith.corpus.dataset import SplitStream, eval_lanes, stream_context
from tunesmith.learn.distributed import Processes


@torch.no_grad()
def predict_lanes(
    model: nn.Module,
    stream: torch.Tensor | SplitStream,
    seq_len: int,
    lanes: int,
    device: torch.device | str = "cpu",
    rows: slice = slice(None),
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(logits, targets) for every chunk of ``lanes`` lanes (only ``rows`` of them)."""
    for lane in eval_lanes(stream, lanes):
        if not len(range(lane.rows)[rows]):
            continue
        state = None
        for t in range(0, lane.width, seq_len):
            x, target = (a.to(device) for a in lane.chunk(stream, t, seq_len, rows))
            context = stream_context(stream, lane.positions(t, seq_len, rows))
            if context is None:
                logits, state = model(x, state)
            else:
                logits, state = model(x, state, context.to(device))
            yield logits, target


@torch.no_grad()
def evaluate_loss(
    model: nn.Module,
    stream: torch.Tensor | SplitStream,
    seq_len: int,
    batch_size: int,
    device: torch.device,
    procs: Processes | None = None,
) -> tuple[float, float]:
    """Mean cross-entropy (nats per token) and accuracy over ``stream``.

    Several processes share the lanes out and sum their counts.
    """
    procs = procs or Processes()
    was_training = model.training
    model.eval()
    total, correct, count = 0.0, 0, 0
    mine = slice(procs.rank, None, procs.world)
    for logits, target in predict_lanes(model, stream, seq_len, batch_size, device, mine):
        total += F.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="sum").item()
        correct += (logits.argmax(-1) == target).sum().item()
        count += target.numel()
    model.train(was_training)
    total, correct, count = procs.sum([total, correct, count], device)
    return total / max(count, 1), correct / max(count, 1)
