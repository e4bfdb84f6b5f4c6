"""Chorales and harmonisations from a poly run, read back from the MIDI files written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from symusic import Score
from typer.testing import CliRunner

from tunesmith.cli import app
from tunesmith.corpus.rolls import load_rolls
from tunesmith.errors import CheckpointError
from tunesmith.export.midi import write_midi
from tunesmith.learn.models.poly import PolyModelConfig
from tunesmith.learn.poly_bench import bench_poly
from tunesmith.learn.poly_run import load_poly_run
from tunesmith.learn.train_poly import PolyTrainConfig
from tunesmith.make.sample_poly import SATB, VOICE_NAMES, write_chorales
from tunesmith.melody import Melody, Note

JSB_MAT = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb" / "JSB_Chorales.mat"
pytestmark = pytest.mark.skipif(not JSB_MAT.exists(), reason="needs ../shared/data/jsb")


@pytest.fixture(scope="module")
def poly_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A poly run trained for two short epochs on the JSB chorales."""
    import scipy.io

    jsb = load_rolls(JSB_MAT)
    folder = tmp_path_factory.mktemp("poly")
    small = folder / "small.mat"
    cells = {}
    for name, rolls in jsb.items():
        cells[name] = np.empty((1, 12), dtype=object)
        for i, r in enumerate(rolls[:12]):
            cells[name][0, i] = r.astype(np.float64)
    scipy.io.savemat(small, cells)
    config = PolyModelConfig(frame_embedding=16, hidden_size=16, decoder_size=32)
    bench_poly(small, config, PolyTrainConfig(max_epochs=2), save_to=folder / "run")
    return folder / "run"


def read_voices(path: Path) -> list[list[tuple[int, int, int]]]:
    """Each track's notes as (pitch, onset, duration) in quarter notes."""
    score = Score(str(path))
    tpq = score.ticks_per_quarter
    return [[(n.pitch, n.time // tpq, n.duration // tpq) for n in t.notes] for t in score.tracks]


def test_chorales_have_four_voices_in_range(poly_run: Path, tmp_path: Path) -> None:
    assert load_poly_run(poly_run).voices == 4
    paths = write_chorales(poly_run, tmp_path, num=2, bars=4, seed=3)
    assert [p.name for p in paths] == ["chorale-01.mid", "chorale-02.mid"]
    for path in paths:
        assert [t.name for t in Score(str(path)).tracks] == list(VOICE_NAMES)
        voices = read_voices(path)
        for v, notes in enumerate(voices):
            # Every quarter after the opening chord is covered, by notes in the voice's range.
            assert sum(d for _, _, d in notes) == 17
            low, high = SATB[v]
            assert all(low <= p <= high for p, _, _ in notes[1:])
    again = write_chorales(poly_run, tmp_path / "again", num=1, bars=4, seed=3)
    assert read_voices(again[0]) == read_voices(paths[0])


def test_one_sampler_and_one_seed_for_the_cli_and_the_api(poly_run: Path, tmp_path: Path) -> None:
    """The command line and the API sample chorales alike: the same seed gives the same
    piece, and a piece's reported seed re-creates it alone."""
    import tunesmith as ts

    paths = write_chorales(poly_run, tmp_path, num=2, bars=2, seed=5)
    model = ts.load(poly_run)
    _, second = model.generate(2, bars=2, seed=5, temperature=1.0)
    assert second.meta["seed"] == 6
    (alone,) = model.generate(1, bars=2, seed=6, temperature=1.0)
    assert [v.notes for v in alone.voices] == [v.notes for v in second.voices]
    from_cli = read_voices(paths[1])  # in quarter notes, as the API's notes are (in frames)
    from_api = [[(n.pitch, n.start, n.duration) for n in v.notes] for v in second.voices]
    assert from_api == from_cli


def test_harmonize_keeps_the_melody_on_top(poly_run: Path, tmp_path: Path) -> None:
    # The soprano of a JSB test chorale, one note a quarter, written as a MIDI file.
    roll = next(r[:12] for r in load_rolls(JSB_MAT)["testdata"] if r[:12].any(1).all())
    tune = [int(np.nonzero(frame)[0].max()) + 21 for frame in roll]
    melody = Melody([Note(p, t, 1) for t, p in enumerate(tune)], steps_per_quarter=1)
    tune_file = write_midi(melody, tmp_path / "tune.mid")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["generate", str(poly_run), "--harmonize", str(tune_file), "--num", "1", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    voices = read_voices(out / "chorale-01.mid")
    assert len(voices) == 4
    soprano = [p for p, _, d in voices[0] for _ in range(d)]
    assert soprano == tune
    for t in range(len(tune)):  # the voices below stay below the melody
        below = [p for notes in voices[1:] for p, on, d in notes if on <= t < on + d]
        assert all(p < tune[t] for p in below)


def test_not_a_poly_run_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not a poly run"):
        load_poly_run(tmp_path)


def test_info_describes_a_poly_run_and_evaluate_points_to_bench_poly(poly_run: Path) -> None:
    r = CliRunner().invoke(app, ["info", str(poly_run)])
    assert r.exit_code == 0, r.output
    assert "poly run" in r.output and "voices" in r.output and "nats per frame" in r.output
    r = CliRunner().invoke(app, ["evaluate", str(poly_run)])
    assert r.exit_code == 1 and "a poly run" in r.output and "bench poly" in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("flag", [["--key", "G"], ["--score"], ["--copy-guard", "3"]])
def test_options_a_poly_run_cannot_honour_are_refused(poly_run: Path, flag: list[str]) -> None:
    """They were ignored without a word; now each is refused in one line, naming it."""
    r = CliRunner().invoke(app, ["generate", str(poly_run), "--num", "1", *flag])
    assert r.exit_code == 2 and flag[0] in r.output and "chorale model" in r.output
    assert "Traceback" not in r.output


def test_top_k_and_top_p_narrow_each_key_as_they_do_a_melody_token(
    poly_run: Path, tmp_path: Path
) -> None:
    """They were refused (before that, ignored): both samplers now choose through one draw."""

    def voices(name: str, **options: float) -> list[list[tuple[int, int, int]]]:
        paths = write_chorales(poly_run, tmp_path / name, num=1, bars=4, seed=3, **options)
        return read_voices(paths[0])

    # Top-1 leaves one key to choose, so the temperature no longer matters; without it, it does.
    assert voices("cool", top_k=1, temperature=0.5) == voices("hot", top_k=1, temperature=5.0)
    assert voices("cool-all", temperature=0.5) != voices("hot-all", temperature=5.0)
    # A tiny nucleus is top-1 too.
    assert voices("nucleus", top_p=1e-6, temperature=5.0) == voices("hot", top_k=1, temperature=5.0)
    r = CliRunner().invoke(app, ["generate", str(poly_run), "--num", "1", "--top-p", "0.9",
                                 "--out", str(tmp_path / "cli")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (tmp_path / "cli" / "chorale-01.mid").exists()
