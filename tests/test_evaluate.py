"""Evaluating a trained run end to end on real music."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tunesmith.cli import app
from tunesmith.judge.evaluate import evaluate_run
from tunesmith.judge.formstats import FORM_FEATURES
from tunesmith.judge.report import write_report
from tunesmith.judge.stats import FEATURES


def test_evaluate_report(tiny_run: Path, tmp_path: Path) -> None:
    report = evaluate_run(tiny_run, samples=6, seed=1)
    p = report["prediction"]
    assert p["loss"] > 0 and 0 <= p["accuracy"] <= 1
    assert abs(p["onset_share"] + p["hold_share"] + p.get("rest_share", 0) - 1) < 0.05
    # Always predicting a hold is right exactly as often as holds occur.
    assert abs(p["always_hold_accuracy"] - p["hold_share"]) < 1e-9
    assert set(report["features"]) == set(FEATURES)
    for f in report["features"].values():
        assert 0 <= f["overlap"] <= 1 and 0 <= f["reference_overlap"] <= 1
    c = report["copying"]
    assert len(c["longest_tokens"]) == 6 and 0 <= c["share_two_bars"] <= 1
    assert 0 <= c["reference_share_two_bars"] <= 1
    form = report["form"]
    assert set(FORM_FEATURES) < set(form) and 0 <= form["endings"]["on_tonic"][1] <= 1
    for name in FORM_FEATURES:
        assert 0 <= form[name]["overlap"] <= 1 and all(0 <= m <= 1 for m in form[name]["means"])
    held = form["self_similarity"]["held out"]
    assert len(held) == len(held[0]) and all(
        held[i][i] == 1.0 for i in range(len(held)) if any(held[i])
    )
    out = write_report(report, tmp_path / "eval")
    names = {f.name for f in out.iterdir()}
    assert {"report.md", "report.json", "features.png", "form.png"} <= names
    assert "exact repeats, lag 4" in (out / "report.md").read_text()
    assert "always hold" in (out / "report.md").read_text()


def test_evaluate_command(tiny_run: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app, ["evaluate", str(tiny_run), "--samples", "4", "--out", str(tmp_path / "e")]
    )
    assert r.exit_code == 0, r.output
    assert "share of reference" in r.output and (tmp_path / "e" / "report.md").exists()
    r = CliRunner().invoke(app, ["evaluate", str(tmp_path), "--samples", "4"])
    assert r.exit_code == 1 and "not a tunesmith run" in r.output


def test_samples_are_whole_bars_of_their_own_metre() -> None:
    """A sample as long as a held-out 2/4 tune of 16 bars, opened in 3/4, is 16 bars of 3/4
    (it was 128 sixteenths, ending two thirds into a bar, where no real tune ends); opened by
    a pickup of one beat, its last bar is one beat short, as such tunes are written; opened
    in the piece's own metre and pickup, it is exactly as long as the piece."""
    from tunesmith.config import DataConfig
    from tunesmith.corpus.encodings import get_encoding
    from tunesmith.judge.evaluate import sample_length
    from tunesmith.melody import Melody, Note

    encoding = get_encoding(DataConfig())
    held = Melody([Note(60, 0, 128)], steps_per_quarter=4, time_signature=(2, 4))
    bar = ["60"] + ["_"] * 11
    plain = {"tokens": bar, "time_signature": [3, 4]}
    assert sample_length(held, plain, encoding, 4) == 16 * 12
    pickup = {"tokens": ["r"] + ["_"] * 7 + ["55", "_", "_", "_"], "time_signature": [3, 4]}
    assert sample_length(held, pickup, encoding, 4) == 16 * 12 - 4
    # opened in its own metre with its own pickup, a sample ends where the piece does
    waltz = Melody([Note(55, 8, 4), Note(60, 12, 100)], steps_per_quarter=4, time_signature=(3, 4))
    assert sample_length(waltz, pickup, encoding, 4) == waltz.length == 112
