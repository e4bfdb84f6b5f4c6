"""Choosing the next token from a model's scores: masks, temperature, top-k/top-p, one draw.

Both samplers choose here, the melody one (a batch of rows, a token each) and the chorale
one (a frame's keys, one at a time): what a token may not be (the end token before a
melody's length, the copy guard's runs, a voice outside its range, the melody a harmony
must keep) arrives as a mask of allowed tokens on the same step.
"""

from __future__ import annotations

import torch

from tunesmith.errors import ConfigError


def check_sampling(temperature: float, top_k: int, top_p: float) -> None:
    if not 0.0 < temperature <= 10.0:
        raise ConfigError(f"--temperature must be in (0, 10] (got {temperature})")
    if top_k < 0:
        raise ConfigError(f"--top-k must be 0 (off) or positive (got {top_k})")
    if not 0.0 < top_p <= 1.0:
        raise ConfigError(f"--top-p must be in (0, 1] (got {top_p})")


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Keep the ``top_k`` likeliest tokens and the smallest set whose mass reaches ``top_p``.

    :param logits: (batch, vocab), already divided by the temperature.
    """
    if top_k and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1, None]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        # Drop a token when the mass before it already reaches top_p (the first always stays).
        drop_sorted = (cum - sorted_logits.softmax(-1)) >= top_p
        drop_sorted[..., 0] = False  # a top_p below float32's range compares as 0
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def probabilities(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    allowed: torch.Tensor | None = None,
) -> torch.Tensor:
    """Each row's next-token probabilities: the ``allowed`` tokens (all if None), tempered,
    then narrowed by top-k and top-p.

    :param logits: (batch, vocab) scores or log-probabilities.
    :param allowed: (batch, vocab) booleans; a row must allow at least one token.
    """
    logits = logits.float()
    if allowed is not None:
        logits = logits.masked_fill(~allowed.to(logits.device), float("-inf"))
    # Tempered relative to the likeliest token left: a tiny temperature (1e-300) then makes
    # it certain, where dividing first overflowed to inf - inf = NaN. Below float32's
    # smallest normal number the temperature itself would round to 0.
    temperature = max(temperature, torch.finfo(torch.float32).tiny)
    logits = (logits - logits.max(-1, keepdim=True).values) / temperature
    return filter_logits(logits, top_k, top_p).softmax(-1).cpu()


def draw(probs: torch.Tensor, generator: torch.Generator | None = None) -> list[int]:
    """One token per row of (batch, vocab) probabilities: tunesmith's one random choice."""
    return torch.multinomial(probs, 1, generator=generator).squeeze(1).tolist()
