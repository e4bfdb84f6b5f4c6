"""The form context as model inputs, and the copy head that lets a model repeat a bar.

:class:`FormInputs` embeds each column of a (batch, time, WIDTH) context (see
:mod:`tunesmith.corpus.context`) and sums them, as a Transformer sums token and position
embeddings. :class:`CopyHead` is a pointer mixture over the lookback tokens (after See et
al.'s pointer-generator and Magenta's "repeat N bars ago" labels): the model's next-token
distribution is ``g_0 * softmax(logits) + sum_k g_k * [token == lookback_k]``, the gates a
softmax of the hidden state, a lag with no token there gated off. It returns
log-probabilities, which cross-entropy, argmax and tempered sampling take as logits.
"""

from __future__ import annotations

import torch
from torch import nn

from tunesmith.chords import CHORD_IDS
from tunesmith.corpus.context import (
    CHORD,
    FAR,
    LAGS,
    LEFT,
    LEFT_SIZE,
    LOOKBACK,
    METRE,
    METRES,
    MODE,
    MODES,
    PHRASE,
    PHRASE_BARS,
    POS,
    POS_SIZE,
    REPEATS,
    STYLE,
    TIME_LEFT,
    none_id,
)


class FormInputs(nn.Module):
    """(batch, time, WIDTH) context ids -> (batch, time, dim), one embedding per column."""

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        cadence: bool = True,
        chords: bool = False,
        styles: int = 0,
    ) -> None:
        super().__init__()
        self.chord = nn.Embedding(CHORD_IDS, dim) if chords else None  # chord-conditioned
        self.style = nn.Embedding(styles + 1, dim) if styles else None  # style-conditioned
        # the cadence inputs (TIME_LEFT, MODE); a model trained before them has none
        self.time_left = nn.Embedding(FAR + 1, dim) if cadence else None
        self.mode = nn.Embedding(len(MODES), dim) if cadence else None
        self.pos = nn.Embedding(POS_SIZE, dim)
        self.metre = nn.Embedding(len(METRES), dim)
        self.phrase = nn.Embedding(PHRASE_BARS, dim)
        self.left = nn.Embedding(LEFT_SIZE, dim)
        self.repeats = nn.Embedding(2 ** len(LAGS), dim)
        self.lookback = nn.ModuleList(nn.Embedding(none_id(vocab_size) + 1, dim) for _ in LAGS)

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        c = context.long()
        x = (
            self.pos(c[..., POS])
            + self.metre(c[..., METRE])
            + self.phrase(c[..., PHRASE])
            + self.left(c[..., LEFT])
            + self.repeats(c[..., REPEATS])
        )
        for k, embed in enumerate(self.lookback):
            x = x + embed(c[..., LOOKBACK + k])
        if self.time_left is not None and self.mode is not None:
            x = x + self.time_left(c[..., TIME_LEFT]) + self.mode(c[..., MODE])
        if self.chord is not None:
            x = x + self.chord(c[..., CHORD])
        if self.style is not None:
            x = x + self.style(c[..., STYLE])
        return x


class CopyHead(nn.Module):
    """Mixes the model's distribution with copies of the lookback tokens (module docstring)."""

    def __init__(self, hidden: int, vocab_size: int) -> None:
        super().__init__()
        self.none = none_id(vocab_size)
        self.gate = nn.Linear(hidden, 1 + len(LAGS))
        with torch.no_grad():  # start by mostly generating: copying is learnt where it pays
            self.gate.bias.zero_()
            self.gate.bias[0] = 2.0

    def forward(self, hidden: torch.Tensor, logits: torch.Tensor, context: torch.Tensor):
        """:return: (batch, time, vocab) log-probabilities."""
        lookback = context[..., LOOKBACK : LOOKBACK + len(LAGS)].long()
        missing = lookback == self.none
        gates = self.gate(hidden).float()
        gates = torch.cat([gates[..., :1], gates[..., 1:].masked_fill(missing, -torch.inf)], -1)
        log_gates = gates.log_softmax(-1)
        out = logits.float().log_softmax(-1) + log_gates[..., :1]
        index = lookback.masked_fill(missing, 0)
        for k in range(len(LAGS)):
            at = index[..., k : k + 1]
            copied = torch.logaddexp(out.gather(-1, at), log_gates[..., 1 + k : 2 + k])
            out = out.scatter(-1, at, copied)
        return out


def require_context(context: torch.Tensor | None, ids: torch.Tensor) -> torch.Tensor:
    """The context a form model needs: one row per token."""
    if context is None or context.shape[:2] != ids.shape:
        raise ValueError("a model with form inputs needs a (batch, time, WIDTH) context")
    return context
