"""The form context every token carries: where it falls in the bar and the phrase, how many
bars are left, and what was played one, two, four and eight bars before it.

A melody model that sees only tokens has to count sixteenths in its hidden state to know
where the bar is, and cannot look a bar back at all. Magenta's Lookback RNN gives it both as
inputs beside the tokens; so does tunesmith, for every encoding and model kind, and the model
may also *copy* a lookback token (see :mod:`tunesmith.learn.models.context`).

The context at position ``j`` of a piece describes token ``j`` as the one to be predicted:
the model reads token ``j - 1`` with context ``j`` and predicts token ``j``. Columns:

- ``POS``: the onset of token ``j`` in its bar, in twelfths of a quarter (0..191);
- ``METRE``: the piece's time signature, as an index into :data:`METRES` (0 = another);
- ``PHRASE``: the bar's place in an eight-bar phrase (0..7; a four-bar phrase is the same
  count modulo 4). A piece that opens with a pickup counts its first full bar as bar 0, so
  the pickup bar is 7, the bar before the phrase (the first token's own row says 0: it
  is the token that shows whether there is a pickup);
- ``LEFT``: whole bars left after this one, up to 8 (the model can plan its cadence);
- ``REPEATS``: bit ``k`` set when token ``j - 1`` equals the token ``LAGS[k]`` bars before it;
- ``LOOKBACK + k``: the token that starts exactly ``LAGS[k]`` bars before token ``j``, or
  :func:`none_id` where none does (before the piece; inside a longer note);
- ``TIME_LEFT``: in the piece's last bar, the time from token ``j``'s onset to the piece's
  end, in twelfths of a quarter (0 at the end itself); :data:`FAR` before the last bar.
  ``LEFT`` alone cannot tell the end from the last bar's downbeat (both are LEFT 0, POS 0)
  nor where a pickup tune's short last bar ends, so a model without it cannot place its
  final note;
- ``MODE``: the piece's key's mode (0 unknown, 1 major, 2 minor): in a corpus transposed to
  C major / A minor it says which tonic a cadence goes to.

- ``CHORD``: the chord sounding at token ``j``'s onset, as :attr:`tunesmith.chords.Chord.id`
  (0: none, or a corpus prepared without ``--chords``): the *chord* input of a
  chord-conditioned model, read from the piece's chords in training and from
  ``generate --chords`` when sampling.

- ``STYLE``: the piece's style (1 for the corpus's first ``--style`` label; 0: none), the
  *style* input of a model trained on a labelled corpus.

``TIME_LEFT`` and ``MODE`` are a model's *cadence* inputs (``ModelConfig.cadence``); a model
trained before them reads the first columns only, which keep their meaning.

Onsets are the running sum of token lengths (the steps encoding: one step a token), so the
notes and events encodings get positions too. The end token that closes a piece has the row
of the step after its last note, so the model learns where pieces end (and may end a melody
in its last bar); only the corpus's first end token, before any piece, has :func:`end_row`.
Training reads a whole corpus's contexts (:func:`corpus_context`); sampling extends each row
one token at a time with a :class:`FormTracker`, which gives the same rows (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tunesmith.chords import ids_per_step
from tunesmith.corpus.encodings import END, Vocab, get_encoding
from tunesmith.corpus.encodings.steps import REST
from tunesmith.melody import steps_per_bar

#: Where a prepared corpus keeps its contexts (the version changes with their meaning).
CONTEXT_FILE = "context-v4.npy"
#: Lookback distances in bars.
LAGS = (1, 2, 4, 8)
POS, METRE, PHRASE, LEFT, REPEATS, LOOKBACK = range(6)
TIME_LEFT, MODE = LOOKBACK + len(LAGS), LOOKBACK + len(LAGS) + 1
CHORD, STYLE = MODE + 1, MODE + 2
WIDTH = STYLE + 1
#: Positions in a bar are counted in twelfths of a quarter, up to 16 quarters.
POS_PER_QUARTER, POS_SIZE = 12, 192
#: TIME_LEFT before the last bar.
FAR = POS_SIZE
MODES = {"": 0, "major": 1, "minor": 2}
PHRASE_BARS, LEFT_SIZE = 8, 9
#: Time signatures the model tells apart; any other is index 0.
METRES: tuple[tuple[int, int], ...] = (
    (0, 0),
    (2, 4), (3, 4), (4, 4), (6, 8), (3, 8), (2, 2), (3, 2), (4, 2), (6, 4),
    (9, 8), (12, 8), (5, 4), (3, 1), (2, 1), (4, 8), (6, 2), (5, 8), (7, 8),
)  # fmt: skip
_METRE_INDEX = {m: i for i, m in enumerate(METRES)}


def none_id(vocab_size: int) -> int:
    """The lookback id meaning "no token starts there"."""
    return vocab_size


def metre_index(time_signature: Sequence[int]) -> int:
    return _METRE_INDEX.get((int(time_signature[0]), int(time_signature[1])), 0)


def token_steps(vocab: Vocab, data_config: Any) -> np.ndarray:
    """Grid steps each vocabulary id spans (the end token none)."""
    encoding = get_encoding(data_config)
    return np.array([encoding.steps([t]) for t in vocab.tokens], dtype=np.int64)


def rest_ids(vocab: Vocab) -> np.ndarray:
    """Booleans by id: which tokens are rests (``r``, ``r:LENGTH``)."""
    return np.array([t == REST or t.startswith(f"{REST}:") for t in vocab.tokens])


def end_row(vocab_size: int) -> np.ndarray:
    """The context of an end token: nothing to look back on."""
    row = np.zeros(WIDTH, dtype=np.int64)
    row[LOOKBACK:TIME_LEFT] = none_id(vocab_size)
    row[TIME_LEFT] = FAR
    return row


def mode_index(key: str | None) -> int:
    """:data:`MODES` index of a key's name ("A minor" -> 2; None or unknown -> 0)."""
    return MODES.get((key or "").rsplit(" ", 1)[-1], 0)


class Metre:
    """What the context needs to know of a piece besides its tokens."""

    def __init__(
        self,
        time_signature: Sequence[int],
        steps_per_quarter: int,
        pickup: bool,
        length: int,
        mode: int = 0,
        chords: np.ndarray | None = None,
        style: int = 0,
    ) -> None:
        self.bar = steps_per_bar(tuple(time_signature), steps_per_quarter)
        self.index = metre_index(time_signature)
        self.spq = steps_per_quarter
        self.pickup = int(pickup)
        self.length = length  # the piece's length in steps (where LEFT reaches 0)
        self.mode = mode  # a MODES index
        self.chords = chords  # the chord id sounding at each step (None: none known)
        self.style = style  # the piece's style id (0: none)

    def chord_at(self, onsets: np.ndarray) -> np.ndarray:
        """The chord id sounding at each onset (0 past the known chords)."""
        if self.chords is None or not len(self.chords):
            return np.zeros(len(onsets), dtype=np.int64)
        inside = onsets < len(self.chords)
        return np.where(inside, self.chords[np.minimum(onsets, len(self.chords) - 1)], 0)

    def chord_id(self, onset: int) -> int:
        """:meth:`chord_at` for one onset, without arrays: sampling asks it every step."""
        known = self.chords is not None and 0 <= onset < len(self.chords)
        return int(self.chords[onset]) if known else 0

    def columns(self, onsets: np.ndarray) -> tuple[np.ndarray, ...]:
        """POS, PHRASE, LEFT and TIME_LEFT for tokens starting at ``onsets``."""
        pos = np.minimum((onsets % self.bar) * POS_PER_QUARTER // self.spq, POS_SIZE - 1)
        phrase = (onsets // self.bar - self.pickup) % PHRASE_BARS
        left = np.clip((self.length - 1 - onsets) // self.bar, 0, LEFT_SIZE - 1)
        to_end = np.maximum(self.length - onsets, 0)
        near = np.minimum(to_end * POS_PER_QUARTER // self.spq, POS_SIZE - 1)
        time_left = np.where(to_end <= self.bar, near, FAR)
        return pos, phrase, left, time_left


def piece_context(ids: np.ndarray, steps: np.ndarray, metre: Metre, vocab_size: int) -> np.ndarray:
    """(len(ids), WIDTH) context of one piece's tokens (no end tokens among them)."""
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids)
    onsets = np.concatenate([[0], np.cumsum(steps[ids])[:-1]]) if n else np.zeros(0, np.int64)
    out = np.empty((n, WIDTH), dtype=np.int64)
    out[:, POS], out[:, PHRASE], out[:, LEFT], out[:, TIME_LEFT] = metre.columns(onsets)
    out[:, MODE] = metre.mode
    out[:, CHORD] = metre.chord_at(onsets)
    out[:, STYLE] = metre.style
    if n:  # whether there is a pickup shows only once the first token is there
        out[0, PHRASE] = 0
    out[:, METRE] = metre.index
    out[:, REPEATS] = 0
    for k, lag in enumerate(LAGS):
        back = onsets - lag * metre.bar
        at = np.minimum(np.searchsorted(onsets, back), max(n - 1, 0))
        found = (back >= 0) & (onsets[at] == back) if n else np.zeros(0, bool)
        out[:, LOOKBACK + k] = np.where(found, ids[at], none_id(vocab_size))
        # token j - 1 repeats the token lag bars before it: its own lookback equals it
        same = out[:-1, LOOKBACK + k] == ids[:-1]
        out[1:, REPEATS] |= same.astype(np.int64) << k
    return out


def piece_metre(piece: dict[str, Any], ids: np.ndarray, steps: np.ndarray, rests, spq: int):
    """The :class:`Metre` of a manifest's piece: a piece that opens on a rest has a pickup
    (leading silence is dropped by whole bars, so a rest at step 0 is the pickup's)."""
    pickup = bool(len(ids)) and bool(rests[int(ids[0])])
    length = int(steps[np.asarray(ids, dtype=np.int64)].sum())
    ts = piece.get("time_signature") or (4, 4)
    chords = ids_per_step(piece["chords"], length) if piece.get("chords") else None
    mode = mode_index(piece.get("key"))
    return Metre(ts, spq, pickup, length, mode, chords, int(piece.get("style_id", 0)))


def corpus_context(tokens: np.ndarray, pieces: list[dict[str, Any]], vocab: Vocab, data_config):
    """(len(tokens), WIDTH) context of a prepared corpus, as the smallest unsigned type
    that holds a lookback id. The end token after each piece (the one before the next) holds
    that piece's row for the step after its last note, as the tracker gives it when a
    melody may end; the corpus's first end token has :func:`end_row`."""
    steps = token_steps(vocab, data_config)
    rests = rest_ids(vocab)
    dtype = np.uint16 if len(vocab) < 2**16 - 1 else np.int32
    out = np.empty((len(tokens), WIDTH), dtype=dtype)
    out[:] = end_row(len(vocab))
    for p in pieces:
        ids = np.asarray(tokens[p["start"] : p["start"] + p["length"]], dtype=np.int64)
        metre = piece_metre(p, ids, steps, rests, data_config.steps_per_quarter)
        with_end = np.append(ids, vocab.end_id)  # the end token spans no steps
        out[p["start"] : p["start"] + p["length"] + 1] = piece_context(
            with_end, steps, metre, len(vocab)
        )
    return out


class FormTracker:
    """One row's context while sampling extends it a token at a time: O(1) a token.

    Start with the prime's end token; :meth:`row` is then the context of the next token.
    """

    def __init__(self, steps: np.ndarray, rests: np.ndarray, metre: Metre, vocab: Vocab):
        self._steps, self._rests, self._metre = steps, rests, metre
        self._none, self._end = none_id(len(vocab)), vocab.end_id
        self._at: dict[int, int] = {}  # onset -> the token starting there
        self._onset = 0  # where the next token starts
        self._last: tuple[int, int] | None = None  # (token, onset) of the last one

    def push(self, token: int) -> None:
        if token == self._end:  # the end token that opens a piece
            return
        if not self._at:
            # a pickup shows itself by its opening rest, as in the corpus
            self._metre.pickup = int(bool(self._rests[token]))
        self._at[self._onset] = token
        self._last = (token, self._onset)
        self._onset += int(self._steps[token])

    @property
    def onset(self) -> int:
        """Where the next token starts, in steps."""
        return self._onset

    def last_bars_start(self, bars: int) -> int:
        """The onset where the piece's last ``bars`` bars begin (a pickup's short last bar
        counts as one: bar lines fall on multiples of the bar, a pickup's rest included)."""
        m = self._metre
        return max(0, ((m.length - 1) // m.bar - (bars - 1)) * m.bar)

    def at_end(self) -> bool:
        """Whether the piece has reached its length: the next token is its end token.

        Not "anywhere in the last bar": the step after a piece's last note has the same
        POS and LEFT as its last bar's downbeat, so a model allowed to end in its last bar
        ended many melodies there, a bar early and off the cadence."""
        return self._metre.length <= self._onset

    def row(self) -> np.ndarray:
        """The context of the token that comes next."""
        m = self._metre
        out = np.empty(WIDTH, dtype=np.int64)
        pos, phrase, left, time_left = m.columns(np.array([self._onset]))
        out[POS], out[PHRASE], out[LEFT], out[METRE] = pos[0], phrase[0], left[0], m.index
        out[TIME_LEFT], out[MODE] = time_left[0], m.mode
        out[CHORD] = m.chord_id(self._onset)
        out[STYLE] = m.style
        repeats = 0
        for k, lag in enumerate(LAGS):
            out[LOOKBACK + k] = self._at.get(self._onset - lag * m.bar, self._none)
            if self._last is not None:
                token, onset = self._last
                repeats |= int(self._at.get(onset - lag * m.bar, self._none) == token) << k
        out[REPEATS] = repeats
        return out


def trackers(
    vocab: Vocab,
    data_config: Any,
    metres: Sequence[Sequence[int]],
    lengths: Sequence[int],
    keys: Sequence[str | None] | None = None,
    chords: Sequence[np.ndarray | None] | None = None,
    styles: Sequence[int] | None = None,
) -> list[FormTracker]:
    """A tracker per row, for rows in the given time signatures, each ``lengths`` steps long
    in all (prime included), in the given keys (names such as "A minor"; None: unknown),
    over the given chords (a chord id a step, prime included; None: none), in the given
    styles (ids; 0: none)."""
    steps, rests = token_steps(vocab, data_config), rest_ids(vocab)
    spq = data_config.steps_per_quarter
    keys = keys if keys is not None else [None] * len(metres)
    chords = chords if chords is not None else [None] * len(metres)
    styles = styles if styles is not None else [0] * len(metres)
    return [
        FormTracker(steps, rests, Metre(ts, spq, False, n, mode_index(k), c, s), vocab)
        for ts, n, k, c, s in zip(metres, lengths, keys, chords, styles, strict=True)
    ]


__all__ = ["END", "LAGS", "WIDTH", "FormTracker", "Metre", "corpus_context", "trackers"]
