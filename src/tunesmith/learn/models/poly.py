"""The chorale model: a frame LSTM and a token decoder giving exact 88-key frame likelihoods.

The piece is read frame by frame by an LSTM; its state after frame t is the context for
frame t+1, which is spelled in the poly encoding (keys high to low, then STEP_END). Each
token is predicted from the context, the previous frame, the keys already emitted in the
current frame, the last key emitted, its position in the frame and the previous frame's keys
seen relative to that last key (a transposition-invariant view of voice leading). Because the
current frame's prefix is known exactly from those features, the decoder needs no recurrence
and all tokens of all frames are scored in parallel. Keys at or above the last one emitted
are masked out, so the token probabilities multiply to a proper distribution over the
2^88 possible frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tunesmith.config import _check, _Config
from tunesmith.corpus.encodings.poly import KEYS

MAX_POSITION = 16  # positions in a frame beyond this share one embedding


@dataclass
class PolyModelConfig(_Config):
    """The chorale model's shape."""

    keys: int = KEYS  # frame width; token ids are 0..keys-1 for keys, keys for STEP_END
    frame_embedding: int = 128  # the frame LSTM's input size
    hidden_size: int = 256  # frame LSTM units
    num_layers: int = 1
    decoder_size: int = 256  # the token decoder's hidden width
    window: int = 12  # previous-frame keys within this many semitones of the last key
    relative: bool = False  # key-invariant output terms (see README: no gain per epoch)
    max_interval: int = 36  # relative: intervals below the last key scored one by one
    dropout: float = 0.3

    def validate(self) -> None:
        for name in ("keys", "frame_embedding", "hidden_size", "num_layers", "decoder_size"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 1, name, value, "a whole number >= 1")
        _check(isinstance(self.window, int) and self.window >= 0, "window", self.window, ">= 0")
        _check(self.max_interval >= 1, "max_interval", self.max_interval, ">= 1")
        _check(0.0 <= self.dropout < 1.0, "dropout", self.dropout, "in [0, 1)")


class PolyModel(nn.Module):
    """See the module docstring."""

    def __init__(self, config: PolyModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        h, d, keys = config.hidden_size, config.decoder_size, config.keys
        self.frame_in = nn.Linear(keys, config.frame_embedding)
        self.rnn = nn.LSTM(
            config.frame_embedding,
            h,
            config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(config.dropout)
        # The decoder's first layer, one term per feature, summed.
        self.from_context = nn.Linear(h, d)
        self.from_previous = nn.Linear(keys, d, bias=False)
        self.from_prefix = nn.Linear(keys, d, bias=False)
        self.from_last = nn.Embedding(keys + 1, d)
        self.from_position = nn.Embedding(MAX_POSITION + 1, d)
        self.from_relative = nn.Linear(2 * config.window + 1, d, bias=False)
        self.decoder = nn.Sequential(
            nn.GELU(), nn.Dropout(config.dropout), nn.Linear(d, d), nn.GELU()
        )
        self.head = nn.Linear(d, keys + 1)
        if config.relative:
            # Scores by interval below the last key (the last bucket: farther), and weights
            # for the previous frame's keys at each offset -window..window from a candidate.
            self.interval_head = nn.Linear(d, config.max_interval + 2)
            self.voice_leading_head = nn.Linear(d, 2 * config.window + 1)

    # -------------------------------------------------------------------- frame context

    def context(
        self, frames: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """LSTM outputs after each frame. :param frames: (batch, time, keys) 0/1 floats."""
        x = self.drop(F.gelu(self.frame_in(frames)))
        y, state = self.rnn(x, state)
        return self.drop(y), state

    # -------------------------------------------------------------------- token decoder

    def token_log_probs(
        self,
        context: torch.Tensor,
        previous: torch.Tensor,
        prefix: torch.Tensor,
        last: torch.Tensor,
        position: torch.Tensor,
    ) -> torch.Tensor:
        """Log-probabilities of the next token, forbidden continuations at -inf.

        :param context: (..., hidden) the frame LSTM's output after the previous frame.
        :param previous: (..., keys) the previous frame.
        :param prefix: (..., J, keys) keys emitted so far in this frame, for each position.
        :param last: (..., J) last key emitted (NO_KEY at the frame's start).
        :param position: (..., J) tokens emitted so far in this frame.
        :return: (..., J, keys + 1) log-probabilities.
        """
        first = self._first_layer(context, previous, prefix, last, position)
        return self._decode(first, previous, last)

    def _first_layer(
        self,
        context: torch.Tensor,
        previous: torch.Tensor,
        prefix: torch.Tensor,
        last: torch.Tensor,
        position: torch.Tensor,
    ) -> torch.Tensor:
        """The decoder's first layer for every position (..., J, decoder_size): one term per
        feature, summed."""
        base = self.from_context(context) + self.from_previous(previous)
        return (
            base.unsqueeze(-2)
            + self.from_prefix(prefix)
            + self.from_last(last)
            + self.from_position(position.clamp(max=MAX_POSITION))
            + self.from_relative(self._relative_previous(previous, last))
        )

    def _decode(
        self, first: torch.Tensor, previous: torch.Tensor | None, last: torch.Tensor
    ) -> torch.Tensor:
        """The rest of the decoder: from the first layer (..., J, decoder_size) to masked
        log-probabilities (..., J, keys + 1). ``previous`` (..., keys) is read by the
        relative terms only."""
        hidden = self.decoder(first)
        logits = self.head(hidden)
        step_end = self.config.keys
        ids = torch.arange(step_end + 1, device=logits.device)
        if self.config.relative:
            logits = logits + F.pad(self._relative_logits(hidden, previous, last), (0, 1))
        allowed = (ids < last.unsqueeze(-1)) | (ids == step_end)
        return torch.log_softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1)

    def _relative_logits(
        self, hidden: torch.Tensor, previous: torch.Tensor, last: torch.Tensor
    ) -> torch.Tensor:
        """Key-invariant scores for every key: the interval below the last key emitted, and
        the previous frame's keys near the candidate (voice leading). (..., J, keys)."""
        keys, w, m = self.config.keys, self.config.window, self.config.max_interval
        interval = (last.unsqueeze(-1) - torch.arange(keys, device=last.device)).clamp(0, m + 1)
        by_interval = self.interval_head(hidden).gather(-1, interval)
        # near[..., k, i] = previous[k - w + i]: the previous frame around each candidate key.
        near = F.pad(previous, (w, w)).unfold(-1, 2 * w + 1, 1)  # (..., keys, 2w + 1)
        by_neighbours = torch.einsum("...jo,...ko->...jk", self.voice_leading_head(hidden), near)
        return by_interval + by_neighbours

    def _relative_previous(self, previous: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """The previous frame's keys at last-w..last+w (zeros off the keyboard)."""
        w = self.config.window
        padded = F.pad(previous, (w, w + 1))  # key k at index k + w; room for NO_KEY
        offsets = torch.arange(2 * w + 1, device=last.device)
        index = last.unsqueeze(-1) + offsets  # index of key last - w + i
        source = padded.unsqueeze(-2).expand(*last.shape, padded.shape[-1])
        # At a frame start (last = NO_KEY = keys) this reads the top w keys, then padding.
        return source.gather(-1, index)

    # -------------------------------------------------------------------- frame likelihood

    def forward(
        self,
        frames: torch.Tensor,
        lengths: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """log p(frame t | frames before it) for every predicted frame (2..T of each
        sequence) of a padded batch, flat, and the frame LSTM's state after the last input
        frame (what a following window of the same pieces starts from): what training calls
        (and DDP wraps).

        Only real frames reach the decoder, so padding costs nothing there.
        """
        context, state = self.context(frames[:, :-1], state)  # after t: the context for t + 1
        predicted = torch.arange(1, frames.shape[1], device=frames.device) < lengths.unsqueeze(1)
        log_p = self.score_frames(
            context[predicted], frames[:, :-1][predicted], frames[:, 1:][predicted]
        )
        return log_p, state

    def score_frames(
        self, context: torch.Tensor, previous: torch.Tensor, target: torch.Tensor
    ) -> torch.Tensor:
        """log p(target frame | context, previous frame), summed over its tokens.

        :param context: (frames, hidden); ``previous``, ``target``: (frames, keys).
        :return: (frames,).

        The first layer is laid out (frames, most tokens), as cheap as a sum can be; the
        rest of the decoder, where the cost is, sees only real tokens, so that a frame of
        two keys costs three tokens there whatever the densest frame of the batch holds.
        """
        tokens, prefix, last, position, valid = spell_frames(target)
        first = self._first_layer(context, previous, prefix, last, position)
        frame = valid.nonzero()[:, 0]
        relative = previous[frame] if self.config.relative else None
        log_probs = self._decode(first[valid].unsqueeze(1), relative, last[valid].unsqueeze(1))
        picked = log_probs[:, 0].gather(-1, tokens[valid].unsqueeze(-1)).squeeze(-1)
        return picked.new_zeros(len(target)).index_add(0, frame, picked)


def spell_frames(frames: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Teacher-forcing inputs for spelling each frame in the poly encoding.

    :param frames: (..., keys) 0/1 floats.
    :return: ``tokens`` (..., J) target ids (-1 past STEP_END = keys), ``prefix`` (..., J, keys)
        keys emitted before each token, ``last`` (..., J) last key emitted before it (NO_KEY =
        keys at the start),
        ``position`` (..., J) and ``valid`` (..., J) marking real tokens; J = most keys + 1.
    """
    step_end = no_key = frames.shape[-1]
    count = frames.sum(-1).long()
    j = int(count.max()) + 1 if frames.numel() else 1
    keys = torch.arange(step_end, device=frames.device)
    # Sounding keys first, highest first: sort by (key + 1) * sounding.
    order = torch.sort((keys + 1) * frames.long(), dim=-1, descending=True).indices[..., : j - 1]
    position = torch.arange(j, device=frames.device).expand(*count.shape, j)
    n = count.unsqueeze(-1)
    tokens = torch.full_like(position, -1)
    tokens[..., : j - 1] = torch.where(position[..., : j - 1] < n, order, -1)
    tokens = torch.where(position == n, step_end, tokens)
    valid = position <= n
    last = torch.full_like(position, no_key)
    last[..., 1:] = torch.where(position[..., 1:] <= n, order, no_key)
    # rank[k] = sounding keys at or above k: key k is emitted as token rank[k] - 1.
    rank = frames.flip(-1).cumsum(-1).flip(-1)
    prefix = frames.unsqueeze(-2) * (rank.unsqueeze(-2) <= position.unsqueeze(-1))
    return tokens, prefix, last, position, valid
