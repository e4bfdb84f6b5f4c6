"""A decoder-only Transformer language model whose recurrent "state" is a key/value cache.

Pre-norm blocks (LayerNorm, causal self-attention, LayerNorm, GELU MLP, dropout on both
residual branches), the output layer tied to the token embedding. Positions are either
``rotary`` (relative: rotary embeddings on queries and keys) or ``learned`` (an absolute
embedding per position up to ``context``).

It keeps the RNNs' contract, ``model(ids, state) -> (logits, state)``. The state is a
:class:`KVCache`: the keys and values of past positions, so each new token costs one
position's work, never a re-run of the prefix. Each position attends to at most ``context``
positions (itself included):

- ``rotary``: the cache is a ring of ``context`` slots; the oldest position is overwritten,
  so attention slides along the piece and a step costs the same at position 64 or 20,000.
- ``learned``: absolute positions stop at ``context``; when the cache is full, the last
  ``context // 2`` tokens are encoded again from position 0 (once every ``context // 2``
  steps: constant cost per token on average), as a model with a fixed window must.

Training windows (no state) attend causally inside the window; train with windows as long as
``context`` so that the model has seen every distance it will attend over. The cache is
updated in place and returned (the caller drops the old reference, as for an RNN state).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tunesmith.config import ModelConfig
from tunesmith.learn.models.context import CopyHead, FormInputs, require_context


class KVCache:
    """Keys and values of the positions a new token may attend to, per layer.

    ``keys[i]`` and ``values[i]`` are (batch, heads, slots, head_dim); slot ``p % context``
    holds position ``p``; ``positions`` holds the position in each slot (-1: empty).
    """

    def __init__(self, layers: int, context: int) -> None:
        self.context = context
        self.keys: list[torch.Tensor | None] = [None] * layers
        self.values: list[torch.Tensor | None] = [None] * layers
        self.positions = torch.empty(0, dtype=torch.long)
        self.length = 0  # positions seen so far: the position of the next token
        self.tokens: torch.Tensor | None = None  # learned positions: ids to encode again

    def slots_for(self, end: int) -> int:
        """Grow to hold positions up to ``end`` (exclusive): double, at most ``context``."""
        size = self.positions.numel()
        if end > size and size < self.context:
            return min(self.context, max(end, 2 * size, 16))
        return size

    def grow(self, size: int, device: torch.device) -> None:
        old = self.positions.numel()
        if size == old:
            return
        pad = torch.full((size - old,), -1, dtype=torch.long, device=device)
        self.positions = torch.cat([self.positions.to(device), pad])
        for i, (k, v) in enumerate(zip(self.keys, self.values, strict=True)):
            if k is not None and v is not None:
                shape = (*k.shape[:2], size - old, k.shape[3])
                self.keys[i] = torch.cat([k, k.new_zeros(shape)], 2)
                self.values[i] = torch.cat([v, v.new_zeros(shape)], 2)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        d = config.hidden_size
        self.heads = config.num_heads
        self.head_dim = d // config.num_heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.dropout = config.dropout
        self.rotary = config.positions == "rotary"
        if self.rotary:
            half = self.head_dim // 2
            inv_freq = 1.0 / (10000 ** (torch.arange(half, dtype=torch.float32) / half))
            self.register_buffer("inv_freq", inv_freq, persistent=False)

    def _rotate(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        angles = pos.to(self.inv_freq.dtype)[:, None] * self.inv_freq  # (T, head_dim / 2)
        cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)

    def forward(
        self,
        x: torch.Tensor,
        pos: torch.Tensor,
        mask: torch.Tensor | None,
        cache: KVCache | None,
        layer: int,
    ) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if self.rotary:
            q, k = self._rotate(q, pos), self._rotate(k, pos)
        p = self.dropout if self.training else 0.0
        if cache is None:
            if mask is None:
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
            else:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        else:
            keys, values = cache.keys[layer], cache.values[layer]
            if keys is None or values is None:
                shape = (b, self.heads, cache.positions.numel(), self.head_dim)
                keys = cache.keys[layer] = k.new_zeros(shape)
                values = cache.values[layer] = v.new_zeros(shape)
            slots = pos[-cache.context :] % cache.context
            if t == 1:  # one new token: write it first, then attend over the slots in place
                keys[:, :, slots] = k
                values[:, :, slots] = v
                y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
            else:  # several: attend over the old slots and the new positions, then write
                all_k, all_v = torch.cat([keys, k], 2), torch.cat([values, v], 2)
                y = F.scaled_dot_product_attention(q, all_k, all_v, attn_mask=mask)
                keys[:, :, slots] = k[:, :, -cache.context :]
                values[:, :, slots] = v[:, :, -cache.context :]
        y = y.transpose(1, 2).reshape(b, t, d)
        return F.dropout(self.proj(y), p, self.training)


class Block(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        d = config.hidden_size
        self.norm1 = nn.LayerNorm(d)
        self.attn = CausalSelfAttention(config)
        self.norm2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(
            nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d), nn.Dropout(config.dropout)
        )

    def forward(self, x, pos, mask, cache, layer):
        x = x + self.attn(self.norm1(x), pos, mask, cache, layer)
        return x + self.mlp(self.norm2(x))


class TransformerLanguageModel(nn.Module):
    """Predicts the next token at every position; the key/value cache carries the past."""

    def __init__(self, config: ModelConfig, vocab_size: int) -> None:
        super().__init__()
        self.config = config
        d = config.hidden_size
        self.context = config.context
        self.learned = config.positions == "learned"
        self.embed = nn.Embedding(vocab_size, d)
        self.pos_embed = nn.Embedding(config.context, d) if self.learned else None
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(d)
        self.form = (
            FormInputs(vocab_size, d, config.cadence, config.chords, config.styles or 0)
            if config.form
            else None
        )
        self.copy = CopyHead(d, vocab_size) if config.form else None
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2: scale the residual projections
            if name.endswith(("attn.proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * config.num_layers))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def forward(
        self,
        ids: torch.Tensor,
        state: KVCache | None = None,
        context: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, KVCache | None]:
        """:param ids: (batch, time) token ids. :param context: the form context (a model
        with ``form``). :return: (batch, time, vocab) logits (with ``form``,
        log-probabilities) and the cache (None while training without one: windows start
        fresh and carry nothing)."""
        if self.form is not None:
            return self._forward(ids, state, require_context(context, ids))
        t = ids.size(1)
        start = 0 if state is None else state.length
        if self.learned and start + t > self.context:
            half = self.context // 2
            if t > half:  # in pieces short enough to fit after a re-encoding
                outs = []
                for chunk in ids.split(half, 1):
                    logits, state = self(chunk, state)
                    outs.append(logits)
                return torch.cat(outs, 1), state
            assert state is not None and state.tokens is not None
            window = torch.cat([state.tokens, ids], 1)[:, -half:]
            logits, state = self._forward(window, KVCache(len(self.blocks), self.context))
            return logits[:, -t:], state
        return self._forward(ids, state)

    def _forward(
        self, ids: torch.Tensor, state: KVCache | None, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, KVCache | None]:
        t = ids.size(1)
        device = ids.device
        if state is None and not self.training:  # evaluating or generating: keep a cache
            state = KVCache(len(self.blocks), self.context)
        start = 0 if state is None else state.length
        pos = torch.arange(start, start + t, device=device)
        x = self.embed(ids)
        if self.pos_embed is not None:
            x = x + self.pos_embed(pos)
        if self.form is not None:
            x = x + self.form(context)
        x = self.drop(x)

        # ---- which keys each query may see: itself and the context - 1 positions before it
        mask = None
        if state is None:
            if t > self.context:
                mask = _window_mask(pos, pos, self.context)
        else:
            state.grow(state.slots_for(start + t), device)
            if t == 1:
                slot_pos = state.positions.clone()
                slot_pos[start % self.context] = start
                if (slot_pos < 0).any():
                    mask = (slot_pos >= 0)[None, None, None, :]
            else:
                mask = _window_mask(pos, torch.cat([state.positions, pos]), self.context)

        for i, block in enumerate(self.blocks):
            x = block(x, pos, mask, state, i)
        x = self.norm(x)
        logits = F.linear(x, self.embed.weight)  # tied to the embedding
        if self.copy is not None:
            logits = self.copy(x, logits, context)

        if state is not None:  # ---- the cache now holds the new positions too
            slots = pos[-self.context :] % self.context
            state.positions[slots] = pos[-self.context :]
            state.length = start + t
            if self.learned:
                old = state.tokens if state.tokens is not None else ids[:, :0]
                state.tokens = torch.cat([old, ids], 1)[:, -self.context :]
        return logits, state


def _window_mask(q_pos: torch.Tensor, k_pos: torch.Tensor, context: int) -> torch.Tensor:
    """True where query position q may attend key position k: k <= q < k + context."""
    diff = q_pos[:, None] - k_pos[None, :]
    return ((diff >= 0) & (diff < context) & (k_pos[None, :] >= 0))[None, None]
