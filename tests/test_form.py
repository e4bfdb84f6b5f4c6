"""Form: metric positions and lookback as model inputs, through training and sampling; the
copy guard leaves a melody's own repeats alone; form statistics in the melody's metre."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tunesmith.config import DataConfig
from tunesmith.corpus import context as c
from tunesmith.corpus.context import trackers
from tunesmith.corpus.dataset import Corpus
from tunesmith.corpus.prepare import prepare_corpus
from tunesmith.judge.formstats import bars, ending, repeat_shares
from tunesmith.keys import Key
from tunesmith.learn.checkpoint import load_run, load_training_tokens
from tunesmith.make.copying import CopyGuard
from tunesmith.make.sample import sample_ids
from tunesmith.melody import Melody, Note

# A waltz with a one-beat pickup: bars 1, 3 and 5 are the same; bar 6 repeats bar 2.
WALTZ = """X:1
T:Pickup waltz
M:3/4
L:1/4
K:C
G | c e g | c' g e | c e g | c3 | c e g | c' g e | d B G | c2 |]
"""


@pytest.fixture
def waltz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TUNESMITH_CACHE", str(tmp_path / "cache"))
    (tmp_path / "waltz.abc").write_text(WALTZ)

    def corpus(encoding: str) -> Corpus:
        out = tmp_path / encoding
        prepare_corpus([str(tmp_path / "waltz.abc")], out, DataConfig(encoding=encoding), jobs=1)
        return Corpus.open(out)

    return corpus


def _piece(corpus: Corpus) -> tuple[np.ndarray, np.ndarray]:
    p = corpus.pieces[0]
    ids = np.asarray(corpus.tokens[p["start"] : p["start"] + p["length"]], dtype=np.int64)
    return ids, np.asarray(corpus.context[p["start"] : p["start"] + p["length"]], np.int64)


def test_a_waltz_with_a_pickup_gets_its_positions(waltz) -> None:
    corpus = waltz("steps")
    ids, ctx = _piece(corpus)
    tokens = corpus.vocab.decode(ids)
    assert tokens[:9] == ["r", *["_"] * 7, "67"]  # the pickup G on beat 3 of bar 0
    bar = 12  # sixteenths in 3/4
    assert (ctx[:, c.POS] == (np.arange(len(ids)) % bar) * 3).all()  # twelfths of a quarter
    assert (ctx[:, c.METRE] == c.METRES.index((3, 4))).all()
    # the pickup bar comes before the phrase: the first full bar is bar 0 of 8
    assert ctx[8, c.PHRASE] == 7 and ctx[12, c.PHRASE] == 0 and ctx[12 * 8, c.PHRASE] == 7
    length = len(ids)
    assert ctx[12, c.LEFT] == (length - 1 - 12) // bar and ctx[-1, c.LEFT] == 0


def test_the_cadence_inputs_count_down_the_short_last_bar(waltz) -> None:
    """The pickup waltz's last bar (c2, two beats: it and the pickup make a bar) counts down
    to its end in twelfths of a quarter, which LEFT and POS cannot say (both are 0 on the
    last bar's downbeat and at the end of a tune without a pickup); the mode is the tune's
    (K:C, major)."""
    corpus = waltz("steps")
    ids, ctx = _piece(corpus)
    p = corpus.pieces[0]
    end_row = np.asarray(corpus.context[p["start"] + p["length"]], np.int64)
    length = len(ids)  # one token a step
    assert length == 12 + 7 * 12 + 8
    to_end = length - np.arange(length)
    near = to_end <= 12
    assert (ctx[near, c.TIME_LEFT] == to_end[near] * 3).all()
    assert (ctx[~near, c.TIME_LEFT] == c.FAR).all()
    downbeat = length - 8  # the final c's onset
    assert ctx[downbeat, c.POS] == 0 and end_row[c.POS] == 24  # the end falls mid-bar
    assert ctx[downbeat, c.LEFT] == end_row[c.LEFT] == 0
    assert ctx[downbeat, c.TIME_LEFT] == 24 and end_row[c.TIME_LEFT] == 0
    assert (ctx[:, c.MODE] == c.MODES["major"]).all() and end_row[c.MODE] == c.MODES["major"]


def test_a_run_saved_before_the_cadence_inputs_loads_without_them(tmp_path, tiny_corpus) -> None:
    """A run whose config.json predates the cadence inputs (no "cadence" key; the Essen model
    shipped until 2026-12-05 was one) loads without them and samples as it was."""
    from tunesmith.config import ModelConfig, TrainConfig, read_json, write_json
    from tunesmith.learn.train import train_model

    run_dir = tmp_path / "old"
    model = ModelConfig(embedding_dim=16, hidden_size=32, num_layers=1, dropout=0.0, cadence=False)
    train_model(
        tiny_corpus,
        run_dir,
        model,
        TrainConfig(epochs=1, batch_size=16, sequence_length=32, seed=1),
    )
    config = read_json(run_dir / "config.json")
    del config["model"]["cadence"]
    write_json(run_dir / "config.json", config)
    run = load_run(run_dir)
    assert run.model_config.form and not run.model_config.cadence
    assert run.model.form.time_left is None
    end = run.vocab.end_id
    form = trackers(run.vocab, run.data, [(3, 4)], [48])
    rows = sample_ids(run.model, [[end]], 60, banned=[end], form=form, ending=end)
    assert rows[0][-1] == end and end not in rows[0][1:-1]


def test_lookback_inputs_are_the_bars_one_and_two_back(waltz) -> None:
    corpus = waltz("steps")
    ids, ctx = _piece(corpus)
    none = len(corpus.vocab)
    for k, lag in enumerate(c.LAGS):
        back = np.arange(len(ids)) - lag * 12
        expected = np.where(back >= 0, ids[np.maximum(back, 0)], none)
        assert (ctx[:, c.LOOKBACK + k] == expected).all(), lag
    # bar 3 repeats bar 1: its tokens' "repeated one bar back" bit is off, two bars on
    j = 36 + 1  # the token after bar 3's first
    assert ctx[j, c.REPEATS] & 0b10 and not ctx[j, c.REPEATS] & 0b01


def test_notes_encoding_positions_come_from_the_running_sum_of_lengths(waltz) -> None:
    corpus = waltz("notes")
    ids, ctx = _piece(corpus)
    tokens = corpus.vocab.decode(ids)
    assert tokens[:3] == ["r:2", "67:1", "72:1"]
    bar = 36  # 12 steps a quarter
    onsets = np.concatenate([[0], np.cumsum(c.token_steps(corpus.vocab, corpus.data_config)[ids])])
    assert (ctx[:, c.POS] == onsets[:-1] % bar).all()
    third_bar = int(np.flatnonzero(onsets == 3 * bar)[0])  # c e g again
    lag1, lag2 = ctx[third_bar, c.LOOKBACK], ctx[third_bar, c.LOOKBACK + 1]
    assert corpus.vocab.tokens[lag1] == "84:1" and corpus.vocab.tokens[lag2] == "72:1"
    # a lookback falling inside a longer note finds nothing: bar 5 beat 2, after bar 4's c3
    fifth_beat_two = int(np.flatnonzero(onsets == 5 * bar + 12)[0])
    assert ctx[fifth_beat_two, c.LOOKBACK] == len(corpus.vocab)


def test_the_sampling_tracker_gives_the_corpus_rows(tiny_corpus: Path) -> None:
    corpus = Corpus.open(tiny_corpus)
    for p in corpus.pieces[:20]:
        ids = [int(t) for t in corpus.tokens[p["start"] : p["start"] + p["length"]]]
        steps = int(c.token_steps(corpus.vocab, corpus.data_config)[ids].sum())
        (tracker,) = trackers(
            corpus.vocab, corpus.data_config, [p["time_signature"]], [steps], [p["key"]]
        )
        tracker.push(corpus.vocab.end_id)
        rows = []
        for token in ids:
            rows.append(tracker.row())
            tracker.push(token)
        rows.append(tracker.row())  # where the piece ends: the closing end token's row
        expected = corpus.context[p["start"] : p["start"] + p["length"] + 1]
        assert np.array_equal(np.array(rows), expected), p["name"]


def test_sampling_carries_the_state_one_token_a_step(tiny_run: Path, tiny_corpus: Path) -> None:
    """Stepping with the tracker's rows gives the logits of one pass over the piece with
    the corpus's rows, and sampling runs the network on one new token a step."""
    run = load_run(tiny_run)
    assert run.model_config.form
    corpus = Corpus.open(tiny_corpus)
    p = corpus.pieces[3]
    ids = [run.vocab.end_id, *map(int, corpus.tokens[p["start"] : p["start"] + 40])]
    ctx = torch.from_numpy(np.asarray(corpus.context[p["start"] : p["start"] + 40], np.int64))
    steps = int(c.token_steps(run.vocab, run.data)[ids].sum())
    with torch.no_grad():
        full, _ = run.model(torch.tensor([ids[:-1]]), None, ctx[None])
        (tracker,) = trackers(run.vocab, run.data, [p["time_signature"]], [p["length"]], [p["key"]])
        state, stepped = None, []
        for token in ids[:-1]:
            tracker.push(token)
            row = torch.from_numpy(tracker.row())[None, None]
            logits, state = run.model(torch.tensor([[token]]), state, row)
            stepped.append(logits)
    torch.testing.assert_close(torch.cat(stepped, 1), full, rtol=1e-4, atol=1e-5)
    assert steps > 0

    widths: list[int] = []
    hook = run.model.register_forward_pre_hook(lambda _, args: widths.append(args[0].shape[1]))
    try:
        form = trackers(run.vocab, run.data, [(4, 4), (3, 4)], [200, 200])
        g = torch.Generator().manual_seed(0)
        sample_ids(run.model, [ids[:9], ids[:9]], 30, form=form, generator=g)
    finally:
        hook.remove()
    assert widths[0] == 9 and set(widths[1:]) == {1} and len(widths) == 30


def test_a_melody_repeating_its_own_bars_is_not_stopped_by_the_copy_guard(
    tiny_run: Path,
) -> None:
    run = load_run(tiny_run)
    training = load_training_tokens(tiny_run)
    assert training is not None
    guard = CopyGuard(training, 32)  # two bars of 4/4 sixteenths
    rng = np.random.default_rng(0)
    pitches = [t for t in run.vocab.tokens if t.isdigit()]
    bar_tokens = [
        [p for pitch in rng.choice(pitches, 4) for p in (pitch, "_", "_", "_")] for _ in range(4)
    ]
    tune = [t for b in bar_tokens + bar_tokens for t in b]  # bars 1-4, then 1-4 again
    ids = run.vocab.encode(tune)
    rows = guard.start([[run.vocab.end_id]])
    for token in ids:
        assert not rows.forbidden(len(run.vocab))[0, token]
        rows.push([token])
    # a run of the training pieces is still stopped at its last token
    piece = [int(t) for t in training[1:33]]
    rows = guard.start([[run.vocab.end_id, *piece[:-1]]])
    assert rows.forbidden(len(run.vocab))[0, piece[-1]]


def _melody(bar_pitches: list[list[int]], ts=(4, 4)) -> Melody:
    notes, size = [], 4 * ts[0] * 4 // ts[1]
    for i, bar in enumerate(bar_pitches):
        step = size // len(bar)
        notes += [Note(p, i * size + j * step, step) for j, p in enumerate(bar)]
    return Melody(notes, 4, time_signature=ts)


def test_bar_repeats_by_kind_and_lag() -> None:
    a, b = [60, 62, 64, 65], [67, 65, 64, 62]
    up = [p + 2 for p in a]
    other = [70, 71, 72, 74]  # a's rhythm, not its intervals
    m = _melody([a, b, up, b, other, b, a, b, a])
    assert len(bars(m)) == 9
    one = repeat_shares(m, 1)
    assert one == {"exact": 0.0, "transposed": 0.0, "rhythm": 1.0}  # all bars are 4 quarters
    two = repeat_shares(m, 2)
    # bars 2..8 against 0..6: up~a transposed, b=b, other~up rhythm, b=b, a~other rhythm,
    # b=b, a=a
    assert two == pytest.approx({"exact": 4 / 7, "transposed": 1 / 7, "rhythm": 2 / 7})
    assert repeat_shares(m, 8) == {"exact": 1.0, "transposed": 0.0, "rhythm": 0.0}
    waltz = _melody([[60, 64, 67], [72, 67, 64], [60, 64, 67]], ts=(3, 4))
    assert waltz.steps_per_bar == 12 and repeat_shares(waltz, 2)["exact"] == 1.0


def test_endings_on_the_tonic_and_strong_beats() -> None:
    c_major = Key(0, "major")
    assert ending(_melody([[60, 62, 64, 60]]), c_major) == 1  # tonic on beat 4
    assert ending(_melody([[64, 62, 60, 60], [60]]), c_major) == 0  # tonic on the downbeat
    assert ending(_melody([[60, 62], [67]]), c_major) == 2
    assert ending(_melody([[60, 62], [69]]), Key(9, "minor")) == 0


def test_a_transformer_with_form_inputs_steps_as_it_reads(tiny_corpus: Path) -> None:
    """The Transformer takes the same context: its cache carries it step by step."""
    from testdata import random_context

    from tunesmith.config import ModelConfig
    from tunesmith.learn.models import build_model

    torch.manual_seed(0)
    config = ModelConfig(kind="transformer", hidden_size=32, num_layers=2, context=16, dropout=0)
    model = build_model(config, 30).eval()
    ids = torch.randint(30, (2, 24), generator=torch.Generator().manual_seed(1))
    context = random_context(2, 24, 30)
    with torch.no_grad():
        full, _ = model(ids, None, context)
        state, stepped = None, []
        for t in range(24):
            logits, state = model(ids[:, t : t + 1], state, context[:, t : t + 1])
            stepped.append(logits)
    torch.testing.assert_close(torch.cat(stepped, 1), full, rtol=1e-4, atol=1e-5)
    assert torch.allclose(full.exp().sum(-1), torch.ones(2, 24), atol=1e-4)  # probabilities
    with pytest.raises(ValueError, match="context"):
        model(ids)


def test_prepare_keeps_the_contexts_and_an_older_corpus_computes_them(waltz) -> None:
    corpus = waltz("steps")
    kept = corpus.path / c.CONTEXT_FILE
    assert kept.exists() and isinstance(corpus.context, np.memmap)
    computed = c.corpus_context(corpus.tokens, corpus.pieces, corpus.vocab, corpus.data_config)
    assert np.array_equal(corpus.context, computed)
    kept.unlink()  # as prepared by an older tunesmith
    assert np.array_equal(Corpus.open(corpus.path).context, computed)


def test_a_split_reads_each_closing_end_token_as_its_own_piece_s(tiny_corpus: Path) -> None:
    """Every end token of a split stream holds the row of the piece it closes, whatever
    piece follows that one in the corpus: the end is predicted as sampling will ask."""
    corpus = Corpus.open(tiny_corpus)
    chosen = [7, 2, 30, 11]
    stream = corpus.split_stream(chosen, context=True)
    ends = np.flatnonzero(stream[:].numpy() == corpus.vocab.end_id)
    rows = stream.gather_context(ends)
    assert np.array_equal(rows[0], c.end_row(len(corpus.vocab)))
    for row, i in zip(rows[1:], chosen, strict=True):
        p = corpus.pieces[i]
        assert np.array_equal(row, corpus.context[p["start"] + p["length"]])
        assert row[c.POS] == 0 or row[c.METRE] > 0  # a real position, not the empty row


def test_a_melody_ends_at_its_length_and_nowhere_else(tiny_run: Path) -> None:
    """Every row ends exactly where its length says: not at its last bar's downbeat, whose
    context is the same as the end's (it was allowed anywhere in the last bar, and ended
    melodies a bar early)."""
    run = load_run(tiny_run)
    end = run.vocab.end_id
    steps = c.token_steps(run.vocab, run.data)
    lengths = [64, 48, 96, 40] * 4
    metres = [(4, 4), (3, 4), (2, 4), (6, 8)] * 4
    form = trackers(run.vocab, run.data, metres, lengths)
    g = torch.Generator().manual_seed(0)
    rows = sample_ids(
        run.model, [[end]] * 16, 100, banned=[end], form=form, ending=end, generator=g
    )
    for row, length in zip(rows, lengths, strict=True):
        assert row[-1] == end and end not in row[1:-1]
        assert int(steps[row[1:-1]].sum()) == length


def _ending_score(run, row: list[int], tracker, start: int) -> float:
    """The model's log-probability of ``row[start:]`` given what comes before, teacher-forced
    with the context rows a fresh tracker gives, plus the log-odds of its last (end) token:
    how the best of N endings judges an ending."""
    cells = []
    for token in row[:-1]:
        tracker.push(token)
        cells.append(tracker.row())
    x = torch.tensor([row[:-1]])
    with torch.no_grad():
        logits, _ = run.model(x, None, torch.tensor(np.array([cells])))
    logp = torch.log_softmax(logits[0].float(), -1)
    end = min(float(logp[len(row) - 2, row[-1]]), -1e-12)
    log_odds = end - math.log(-math.expm1(end))
    return float(sum(logp[i - 1, row[i]] for i in range(start, len(row)))) + log_odds


def test_the_best_of_n_endings_keeps_the_melody_and_a_likelier_ending(tiny_run: Path) -> None:
    """--endings N samples each melody's last two bars again and keeps the ending the model
    judges best: the melody before them is the one a single sample gives, it still ends
    exactly at its length, and its ending never scores below the first sample's (the
    log-likelihood plus the end token's log-odds, see sample.Search)."""
    run = load_run(tiny_run)
    end = run.vocab.end_id
    steps = c.token_steps(run.vocab, run.data)
    lengths, metres = [64, 48, 96, 40] * 3, [(4, 4), (3, 4), (2, 4), (6, 8)] * 3

    def sample(endings: int) -> list[list[int]]:
        form = trackers(run.vocab, run.data, metres, lengths)
        g = torch.Generator().manual_seed(3)
        primes = [[end, *run.vocab.encode(["60", "_"])]] * len(lengths)
        return sample_ids(
            run.model, primes, 100, banned=[end], form=form, ending=end, endings=endings,
            generator=g,
        )  # fmt: skip

    once, best = sample(1), sample(8)
    changed = 0
    for a, b, length, metre in zip(once, best, lengths, metres, strict=True):
        assert b[-1] == end and end not in b[1:-1]
        assert int(steps[b[1:-1]].sum()) == length
        bar = 16 * metre[0] // metre[1]
        cut_onset = ((length - 1) // bar - 1) * bar  # where the last two bars begin
        onsets = np.concatenate([[0], np.cumsum(steps[a[1:]])])  # of a[1], a[2], ...
        cut = 1 + int(np.argmax(onsets >= cut_onset))
        cut = max(cut, 3)  # never inside the prime
        assert a[:cut] == b[:cut]
        la = _ending_score(run, a, trackers(run.vocab, run.data, [metre], [length])[0], cut)
        lb = _ending_score(run, b, trackers(run.vocab, run.data, [metre], [length])[0], cut)
        assert lb >= la - 1e-3
        changed += a != b
    assert changed > 0  # the search found better endings, not only the first ones


def test_the_best_of_n_endings_stay_under_each_rows_copy_guard(tiny_run: Path) -> None:
    """Every candidate ending is sampled under its own row's guard: the candidates were once
    guarded by the first rows' guards only, and 29 % of Essen samples copied two bars."""
    from tunesmith.make.copying import CopyDetector, copy_guard

    run = load_run(tiny_run)
    end = run.vocab.end_id
    lengths, metres = [64, 48, 96, 40] * 4, [(4, 4), (3, 4), (2, 4), (6, 8)] * 4
    guard = copy_guard(run, 1.0, metres)
    form = trackers(run.vocab, run.data, metres, lengths)
    g = torch.Generator().manual_seed(5)
    rows = sample_ids(
        run.model, [[end]] * len(lengths), 100, banned=[end], form=form, ending=end,
        endings=6, guard=guard, generator=g,
    )  # fmt: skip
    detector = CopyDetector(load_training_tokens(run.path))
    for row, row_guard in zip(rows, guard.guards, strict=True):
        assert not detector.shares(row[1:-1], row_guard.length), row


def test_endings_are_refused_for_a_run_without_form_inputs(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    """A model without form inputs cannot close a melody at its length, so it has no ending
    to choose: asked for several it says so in one line (before, --endings was ignored);
    left out, the endings default to 1 for it and it generates."""
    from typer.testing import CliRunner

    from tunesmith.cli import app
    from tunesmith.config import ModelConfig, TrainConfig
    from tunesmith.learn.train import train_model

    run_dir = tmp_path / "plain"
    model = ModelConfig(embedding_dim=16, hidden_size=32, num_layers=1, dropout=0.0, form=False)
    train_model(tiny_corpus, run_dir, model, TrainConfig(epochs=1, batch_size=16, seed=1))
    runner = CliRunner()
    asked = ["generate", str(run_dir), "--out", str(tmp_path / "o"), "--num", "1", "--bars", "2"]
    refused = runner.invoke(app, [*asked, "--endings", "4"])
    assert refused.exit_code == 2, refused.output
    assert refused.output.strip().splitlines()[-1].startswith("error: --endings 4 needs a model")
    assert "Traceback" not in refused.output
    done = runner.invoke(app, asked)
    assert done.exit_code == 0, done.output
    assert (tmp_path / "o" / "melody-01.mid").exists()
