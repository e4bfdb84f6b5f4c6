"""Models: next-token language models over a vocabulary, chosen by ModelConfig.kind."""

from __future__ import annotations

from torch import nn

from tunesmith.config import ModelConfig
from tunesmith.models.rnn import RNNLanguageModel, State


def build_model(config: ModelConfig, vocab_size: int) -> nn.Module:
    """A fresh model of the configured kind."""
    config.validate()
    return RNNLanguageModel(config, vocab_size)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["RNNLanguageModel", "State", "build_model", "count_parameters"]
