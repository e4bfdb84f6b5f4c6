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
from typing import NamedTuple

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
        base = self.from_context(context) + self.from_previous(previous)
        hidden = (
            base.unsqueeze(-2)
            + self.from_prefix(prefix)
            + self.from_last(last)
            + self.from_position(position.clamp(max=MAX_POSITION))
            + self.from_relative(self._relative_previous(previous, last))
        )
        hidden = self.decoder(hidden)
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

        The tokens of all frames are scored as one flat batch (a frame of two keys costs
        three tokens, not as many as the densest frame's), and each token's prefix enters
        as the sum of the first layer's columns for the keys before it (what the 88-wide
        matmul of the prefix vector gives, at a fraction of its cost).
        """
        spelled = spell_frames(target)
        frame, tokens, last, position = spelled
        keys = self.config.keys
        base = self.from_context(context) + self.from_previous(previous)
        hidden = (
            base[frame]
            + self._prefix_sums(spelled)
            + self.from_last(last)
            + self.from_position(position.clamp(max=MAX_POSITION))
            + self.from_relative(self._relative_previous_flat(previous, frame, last))
        )
        hidden = self.decoder(hidden)
        logits = self.head(hidden)
        if self.config.relative:
            one = (hidden.unsqueeze(1), previous[frame], last.unsqueeze(1))
            logits = logits + F.pad(self._relative_logits(*one).squeeze(1), (0, 1))
        ids = torch.arange(keys + 1, device=logits.device)
        allowed = (ids < last.unsqueeze(-1)) | (ids == keys)
        log_probs = torch.log_softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1)
        picked = log_probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        return torch.zeros(len(target), dtype=picked.dtype, device=picked.device).index_add(
            0, frame, picked
        )

    def _prefix_sums(self, spelled: SpelledFrames) -> torch.Tensor:
        """For each token, the sum of ``from_prefix``'s columns of the keys emitted before it
        in its frame: a running sum over the flat tokens (in float64, so that a long batch
        adds no rounding) minus the sum at its frame's start."""
        _, tokens, _, position = spelled
        columns = F.pad(self.from_prefix.weight.t(), (0, 0, 0, 1))  # STEP_END adds nothing
        running = columns[tokens].double().cumsum(0)
        before = F.pad(running[:-1], (0, 0, 1, 0))  # sum of every earlier token
        first = torch.arange(len(tokens), device=tokens.device) - position
        return (before - before[first]).to(columns.dtype)

    def _relative_previous_flat(
        self, previous: torch.Tensor, frame: torch.Tensor, last: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`_relative_previous` for flat tokens, read from their frames' previous
        frames without copying a previous frame per token. (tokens, 2w + 1)."""
        w = self.config.window
        padded = F.pad(previous, (w, w + 1))  # key k at index k + w; room for NO_KEY
        offsets = torch.arange(2 * w + 1, device=last.device)
        index = (frame * padded.shape[-1] + last).unsqueeze(-1) + offsets
        return padded.reshape(-1)[index]


class SpelledFrames(NamedTuple):
    """Teacher-forcing inputs for spelling frames in the poly encoding, one row per token of
    every frame (keys high to low, then STEP_END): its frame, its id (STEP_END = keys), the
    last key emitted before it in its frame (NO_KEY = keys at the start) and its position."""

    frame: torch.Tensor
    tokens: torch.Tensor
    last: torch.Tensor
    position: torch.Tensor


def spell_frames(frames: torch.Tensor) -> SpelledFrames:
    """The tokens of every frame of ``frames`` ((frames, keys) 0/1 floats), flat, in order."""
    n, keys = frames.shape
    device = frames.device
    sounding = frames.flip(-1).nonzero()  # frame-major, keys high to low
    key_frame, key = sounding[:, 0], keys - 1 - sounding[:, 1]
    count = frames.sum(-1).long()
    start = F.pad((count + 1).cumsum(0), (1, 0))[:-1]  # each frame's first token
    key_start = F.pad(count.cumsum(0), (1, 0))[:-1]
    within = torch.arange(len(key), device=device) - key_start[key_frame]
    total = int(count.sum()) + n
    tokens = torch.full((total,), keys, dtype=torch.long, device=device)
    tokens[start[key_frame] + within] = key
    frame = torch.repeat_interleave(torch.arange(n, device=device), count + 1)
    position = torch.arange(total, device=device) - start[frame]
    last = torch.where(position > 0, F.pad(tokens[:-1], (1, 0)), keys)
    return SpelledFrames(frame, tokens, last, position)
