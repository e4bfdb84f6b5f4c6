"""Models: next-token language models over a vocabulary, chosen by ModelConfig.kind."""

from __future__ import annotations

from torch import nn

from tunesmith.config import ModelConfig
from tunesmith.learn.models.rnn import RNNLanguageModel, State
from tunesmith.learn.models.transformer import KVCache, TransformerLanguageModel


def build_model(config: ModelConfig, vocab_size: int) -> nn.Module:
    """A fresh model of the configured kind."""
    config.validate()
    if config.kind == "transformer":
        return TransformerLanguageModel(config, vocab_size)
    return RNNLanguageModel(config, vocab_size)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "KVCache",
    "RNNLanguageModel",
    "State",
    "TransformerLanguageModel",
    "build_model",
    "count_parameters",
]
