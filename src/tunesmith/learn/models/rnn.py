"""LSTM and GRU language models: embedding, stacked recurrent layers, dropout, linear head;
with ``form``, the form context's embeddings added to the input and the copy head on top."""

from __future__ import annotations

import torch
from torch import nn

from tunesmith.config import ModelConfig
from tunesmith.learn.models.context import CopyHead, FormInputs, require_context

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None


class RNNLanguageModel(nn.Module):
    """Predicts the next token at every position; the recurrent state carries the past."""

    def __init__(self, config: ModelConfig, vocab_size: int) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(vocab_size, config.embedding_dim)
        rnn_class = nn.LSTM if config.kind == "lstm" else nn.GRU
        self.rnn = rnn_class(
            config.embedding_dim,
            config.hidden_size,
            config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, vocab_size)
        self.form = (
            FormInputs(
                vocab_size, config.embedding_dim, config.cadence, config.chords, config.styles or 0
            )
            if config.form
            else None
        )
        self.copy = CopyHead(config.hidden_size, vocab_size) if config.form else None

    def forward(
        self, ids: torch.Tensor, state: State = None, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        """:param ids: (batch, time) token ids. :param context: (batch, time, WIDTH) form
        context, for a model with ``form``. :return: (batch, time, vocab) logits (with
        ``form``, log-probabilities), new state."""
        x = self.embed(ids)
        if self.form is not None:
            x = x + self.form(require_context(context, ids))
        y, state = self.rnn(self.drop(x), state)
        y = self.drop(y)
        logits = self.head(y)
        if self.copy is not None:
            logits = self.copy(y, logits, context)
        return logits, state
