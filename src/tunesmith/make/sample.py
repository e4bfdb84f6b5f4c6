"""Sampling: token ids from a trained model, one network step per new token, many at once."""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from tunesmith.corpus.context import FormTracker
from tunesmith.errors import ConfigError
from tunesmith.make.choose import check_sampling, draw, probabilities
from tunesmith.make.copying import CopyGuard, RowGuards

#: Bars at the end of a melody that ``endings`` samples again: a cadence and its approach.
ENDING_BARS = 2
#: The most endings a melody may choose among.
MAX_ENDINGS = 64
#: Endings a form model chooses among when none are asked for.
DEFAULT_ENDINGS = 8


def check_endings(asked: int | None, form: bool) -> int:
    """The endings to sample: ``asked``, else 8 for a model with form inputs and 1 for one
    without, which cannot close a melody at its length and so has no ending to choose."""
    if asked is None:
        return DEFAULT_ENDINGS if form else 1
    if not 1 <= asked <= MAX_ENDINGS:
        raise ConfigError(f"--endings must be between 1 and {MAX_ENDINGS} (got {asked})")
    if asked > 1 and not form:
        raise ConfigError(
            f"--endings {asked} needs a model trained with form inputs (this run has none): "
            "leave it out or give 1"
        )
    return asked


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
    guard: CopyGuard | RowGuards | None = None,
    form: Sequence[FormTracker] | None = None,
    ending: int | None = None,
    endings: int = 1,
    ending_bars: int = ENDING_BARS,
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
    :param endings: with ``form`` and ``ending``, sample each row's last ``ending_bars``
        bars this many times and keep the one :class:`Search` scores best (see
        its docstring); 1 = the first sample, as for any other bar.
    :return: each prime followed by its continuation (with ``ending``, perhaps shorter,
        the end token last).
    """
    check_sampling(temperature, top_k, top_p)
    if endings < 1:
        raise ConfigError(f"--endings must be 1 or more (got {endings})")
    if ending_bars < 1:
        raise ConfigError(f"ending_bars must be 1 or more (got {ending_bars})")
    if not primes or any(len(p) == 0 for p in primes):
        raise ConfigError("every prime needs at least one token")
    model.eval()
    with warnings.catch_warnings():
        # Toggling oneDNN makes torch warn about Intel-GPU TF32, which does not concern us.
        warnings.filterwarnings("ignore", message="TF32 acceleration", category=UserWarning)
        choice = Choice(temperature, top_k, top_p, banned, ending if form else None)
        fresh = copy.deepcopy(list(form)) if form is not None and endings > 1 else None
        limits = [len(p) + steps for p in primes]
        out, scores = _sample(model, primes, limits, choice, guard, form, generator)
        if fresh is None or choice.ending is None:
            return out
        search = Search(model, choice, guard, generator, endings, ending_bars)
        return search.best_endings(primes, limits, out, scores, fresh)


@dataclass(frozen=True)
class Choice:
    """How the next token is chosen from the model's logits."""

    temperature: float
    top_k: int
    top_p: float
    banned: Sequence[int]
    ending: int | None  # the end token, that closes a row at its length (form models)


@dataclass(frozen=True)
class Search:
    """Best of N endings: each row's last bars sampled again N - 1 times, from the state
    its own melody reached, and the candidate the model judges best kept: the highest
    untempered log-likelihood of its tokens plus the log-odds of the end token that closes it.

    A model teacher-forced to a real tune's last bars ends it as real tunes end; sampled
    all the way, a melody reaches its last bars in a state no real tune leads to and ends
    off the cadence far more often. Choosing among sampled endings by the model's own
    judgement, as Magenta's beam search does over whole melodies, mends the end without
    touching the rest: every candidate shares the melody before its last bars.

    Why the log-odds: a form model knows when the melody must end, so it gives the end
    token a probability near 1 after any ending (log-probability -1e-5 to -1e-2), and in
    a sum of log-likelihoods that is lost. How near 1 is the model's own word on whether
    the melody sounds finished: log p / (1 - p) spreads it over 4-12 nats. On the shipped
    Essen model (500 samples), likelihood alone gave endings 85 % of the reference and
    repetition 91 %; the end token alone 96 % and 86 %; likelihood plus log-odds 94-96 %
    and 90-91 % (README: Form)."""

    model: nn.Module
    choice: Choice
    guard: CopyGuard | RowGuards | None
    generator: torch.Generator | None
    endings: int
    bars: int

    def best_endings(
        self,
        primes: Sequence[Sequence[int]],
        limits: list[int],
        out: list[list[int]],
        scores: list[list[float]],
        fresh: list[FormTracker],
    ) -> list[list[int]]:
        cuts = [
            _cut(copy.deepcopy(t), row, len(p), self.bars)
            for t, row, p in zip(fresh, out, primes, strict=True)
        ]
        again = [r for r, (row, cut) in enumerate(zip(out, cuts, strict=True)) if cut < len(row)]
        if not again:
            return out
        # The candidates of rows cut at the same length are sampled as one batch: their
        # primes are then run through the network in one pass, not token by token from
        # the shortest one.
        by_cut: dict[int, list[int]] = {}
        for r in again:
            by_cut.setdefault(cuts[r], []).extend([r] * (self.endings - 1))
        rows, more, more_scores = [], [], []
        for group in by_cut.values():
            sampled, sampled_scores = _sample(
                self.model,
                [out[r][: cuts[r]] for r in group],
                [limits[r] for r in group],
                self.choice,
                self.guard.of_rows(group) if isinstance(self.guard, RowGuards) else self.guard,
                [copy.deepcopy(fresh[r]) for r in group],
                self.generator,
            )
            rows += group
            more += sampled
            more_scores += sampled_scores
        best = {}
        for r in again:
            tail = scores[r][cuts[r] - len(primes[r]) :]  # the first sample's own ending
            best[r] = (self._score(out[r], tail), out[r])
        for r, row, score in zip(rows, more, more_scores, strict=True):
            candidate = (self._score(row, score), row)
            if candidate[0] > best[r][0]:
                best[r] = candidate
        return [best[r][1] if r in best else row for r, row in enumerate(out)]

    def _score(self, row: list[int], logps: list[float]) -> float:
        """An ending that never reached the end token (out of tokens) loses to any that did."""
        if row[-1] != self.choice.ending:
            return -math.inf
        end = min(logps[-1], -1e-12)  # a certain end (log p = 0) would make log(1 - p) -inf
        return sum(logps) + end - math.log(-math.expm1(end))


def _cut(tracker: FormTracker, row: list[int], prime: int, bars: int) -> int:
    """Index of the first token of ``row`` past its prime that starts in its last ``bars``
    bars (``len(row)``: none does)."""
    start = tracker.last_bars_start(bars)
    for i, token in enumerate(row):
        if i >= prime and tracker.onset >= start:
            return i
        tracker.push(token)
    return len(row)


def _sample(
    model: nn.Module,
    primes: Sequence[Sequence[int]],
    limits: list[int],
    choice: Choice,
    guard: CopyGuard | RowGuards | None,
    form: Sequence[FormTracker] | None,
    generator: torch.Generator | None,
) -> tuple[list[list[int]], list[list[float]]]:
    """Each prime continued up to ``limits`` tokens in all, and the model's untempered
    log-probability of each token it added."""
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
    logps: list[list[float]] = [[] for _ in primes]
    with torch.backends.mkldnn.flags(enabled=False):
        # Primes of unequal length: feed the common part as a batch, then the rest one
        # step at a time, each row taking its own prime token while it has one.
        common = min(len(p) for p in primes)
        logits, state = step([list(p[:common]) for p in primes], None)
        last = logits[:, -1]
        guarded = guard.start([p[:common] for p in primes]) if guard is not None else None
        ended = [False] * len(primes)
        for t in range(common, max(limits)):
            forbidden = guarded.forbidden(last.size(-1)) if guarded is not None else None
            probs = _probabilities(last, choice, forbidden)
            nxt = draw(probs, generator)
            if choice.ending is not None and form is not None:
                nxt = [choice.ending if f.at_end() else x for f, x in zip(form, nxt, strict=True)]
            chosen = torch.log_softmax(last.float(), -1).cpu()[range(len(nxt)), nxt].tolist()
            for row, p in enumerate(primes):
                if t < len(p):
                    nxt[row] = p[t]
                elif len(out[row]) < limits[row] and not ended[row]:
                    out[row].append(nxt[row])
                    logps[row].append(chosen[row])
                    ended[row] = nxt[row] == choice.ending
            if all(ended) or t == max(limits) - 1:
                break
            if guarded is not None:
                guarded.push(nxt)
            logits, state = step([[t] for t in nxt], state)
            last = logits[:, -1]
    return out, logps


def _probabilities(
    logits: torch.Tensor, choice: Choice, forbidden: np.ndarray | None = None
) -> torch.Tensor:
    """Next-token probabilities: banned ids and each row's forbidden ones out, then
    tempered, top-k and top-p among the rest."""
    allowed = np.ones(tuple(logits.shape), dtype=bool)
    allowed[:, list(choice.banned)] = False
    if forbidden is not None and forbidden.any():
        # A row with nothing left keeps its tokens: a run cannot always be avoided.
        left = allowed & ~forbidden
        rows = left.any(axis=1)
        allowed[rows] = left[rows]
    mask = torch.from_numpy(allowed)
    return probabilities(logits, choice.temperature, choice.top_k, choice.top_p, mask)
