"""Sampling: token ids from a trained model, one network step per new token, many at once."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from tunesmith.corpus.context import FormTracker
from tunesmith.errors import ConfigError
from tunesmith.make.copying import CopyGuard


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


def check_sampling(temperature: float, top_k: int, top_p: float) -> None:
    if not 0.0 < temperature <= 10.0:
        raise ConfigError(f"--temperature must be in (0, 10] (got {temperature})")
    if top_k < 0:
        raise ConfigError(f"--top-k must be 0 (off) or positive (got {top_k})")
    if not 0.0 < top_p <= 1.0:
        raise ConfigError(f"--top-p must be in (0, 1] (got {top_p})")


@torch.no_grad()
def sample_ids(
    model: nn.Module,
    primes: Sequence[Sequence[int]],
    steps: int,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    banned: Sequence[int] = (),
    guard: CopyGuard | None = None,
    form: Sequence[FormTracker] | None = None,
    ending: int | None = None,
    generator: torch.Generator | None = None,
) -> list[list[int]]:
    """Continue each prime by ``steps`` sampled tokens; all primes are sampled as one batch.

    The primes are run through the network once; after that each new token costs one step
    that carries the state forward (an RNN's hidden state, a Transformer's key/value cache),
    never a re-run of the window. oneDNN's LSTM kernels are slow for one step at a time on a
    CPU, so they are switched off here.

    :param primes: token ids to start from, one list per output; they may differ in length.
    :param banned: ids never sampled (the piece separator, so a melody runs its full length).
    :param guard: never sample a token that would complete a run the guard knows from the
        training data (where every other token is banned too, the guard gives way).
    :param form: one tracker per prime, for a model with form inputs: each gives the
        context of its row's next token, kept up to date a token at a time.
    :param ending: with ``form``, the end token: a row ends with it when its melody has
        reached the length its tracker was given, as a real piece ends where its last bar
        does (a last bar shortened by a pickup, a final note held); banned everywhere else.
    :return: each prime followed by its continuation (with ``ending``, perhaps shorter,
        the end token last).
    """
    check_sampling(temperature, top_k, top_p)
    if not primes or any(len(p) == 0 for p in primes):
        raise ConfigError("every prime needs at least one token")
    model.eval()
    with warnings.catch_warnings():
        # Toggling oneDNN makes torch warn about Intel-GPU TF32, which does not concern us.
        warnings.filterwarnings("ignore", message="TF32 acceleration", category=UserWarning)
        choice = Choice(temperature, top_k, top_p, banned, ending if form else None)
        return _sample(model, primes, steps, choice, guard, form, generator)


@dataclass(frozen=True)
class Choice:
    """How the next token is chosen from the model's logits."""

    temperature: float
    top_k: int
    top_p: float
    banned: Sequence[int]
    ending: int | None  # the end token, that closes a row at its length (form models)


def _sample(
    model: nn.Module,
    primes: Sequence[Sequence[int]],
    steps: int,
    choice: Choice,
    guard: CopyGuard | None,
    form: Sequence[FormTracker] | None,
    generator: torch.Generator | None,
) -> list[list[int]]:
    device = next(model.parameters()).device
    if form is not None and len(form) != len(primes):
        raise ValueError("sample_ids needs one form tracker per prime")

    def step(ids: list[list[int]], state):
        """The model on each row's next tokens, the trackers following them."""
        x = torch.tensor(ids, device=device)
        if form is None:
            return model(x, state)
        rows = []
        for tracker, row in zip(form, ids, strict=True):
            cells = []
            for token in row:
                tracker.push(token)
                cells.append(tracker.row())
            rows.append(cells)
        return model(x, state, torch.tensor(np.array(rows), device=device))

    out = [list(p) for p in primes]
    with torch.backends.mkldnn.flags(enabled=False):
        # Primes of unequal length: feed the common part as a batch, then the rest one
        # step at a time, each row taking its own prime token while it has one.
        common = min(len(p) for p in primes)
        logits, state = step([list(p[:common]) for p in primes], None)
        last = logits[:, -1]
        longest = max(len(p) for p in primes)
        guarded = guard.start([p[:common] for p in primes]) if guard is not None else None
        ended = [False] * len(primes)
        for t in range(common, longest + steps):
            forbidden = guarded.forbidden(last.size(-1)) if guarded is not None else None
            probs = _probabilities(last, choice, forbidden)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1).tolist()
            if choice.ending is not None and form is not None:
                nxt = [choice.ending if f.at_end() else x for f, x in zip(form, nxt, strict=True)]
            for row, p in enumerate(primes):
                if t < len(p):
                    nxt[row] = p[t]
                elif len(out[row]) < len(p) + steps and not ended[row]:
                    out[row].append(nxt[row])
                    ended[row] = nxt[row] == choice.ending
            if all(ended):
                break
            if t == longest + steps - 1:
                break
            if guarded is not None:
                guarded.push(nxt)
            logits, state = step([[t] for t in nxt], state)
            last = logits[:, -1]
    return out


def _probabilities(
    logits: torch.Tensor, choice: Choice, forbidden: np.ndarray | None = None
) -> torch.Tensor:
    """Next-token probabilities: tempered; banned ids and each row's forbidden ones out
    before top-k and top-p choose among the rest."""
    logits = logits.float().clone()
    banned = choice.banned
    if banned:
        logits[:, list(banned)] = float("-inf")
    if forbidden is not None and forbidden.any():
        # A row with nothing left keeps its tokens: a run cannot always be avoided.
        left = ~forbidden
        left[:, list(banned)] = False
        forbidden[~left.any(axis=1)] = False
        logits.masked_fill_(torch.from_numpy(forbidden).to(logits.device), float("-inf"))
    # Tempered relative to the likeliest token left: a tiny temperature (1e-300) then makes
    # it certain, where dividing first overflowed to inf - inf = NaN. Below float32's
    # smallest normal number the temperature itself would round to 0.
    temperature = max(choice.temperature, torch.finfo(torch.float32).tiny)
    logits = (logits - logits.max(-1, keepdim=True).values) / temperature
    return filter_logits(logits, choice.top_k, choice.top_p).softmax(-1).cpu()
