"""LSTM and GRU language models: embedding, stacked recurrent layers, dropout, linear head."""

from __future__ import annotations

import torch
from torch import nn

from tunesmith.config import ModelConfig

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

    def forward(self, ids: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """:param ids: (batch, time) token ids. :return: (batch, time, vocab) logits, new state."""
        x = self.drop(self.embed(ids))
        y, state = self.rnn(x, state)
        return self.head(self.drop(y)), state
