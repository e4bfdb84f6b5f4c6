"""The Python API: README's example run as written, melodies out of tunesmith, notebook views."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from symusic import Score

import tunesmith as ts
from tunesmith.shipped import shipped_models

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    """The first python block of README's "Python API" section."""
    section = README.read_text(encoding="utf-8").split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def run_example(code: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.chdir(folder)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    return scope


def check_example(scope: dict, folder: Path) -> None:
    tune = scope["tune"]
    assert len(scope["melodies"]) == 2 and tune.notes
    assert all(0 <= n.pitch <= 127 and n.duration >= 1 for n in tune.notes)
    # The MIDI file the example wrote reads back with the melody's notes.
    track = Score(str(folder / "tune.mid")).tracks[0]
    assert [n.pitch for n in track.notes] == tune.pitches
    struck = [n for n in scope["score"].flatten().notes if n.tie is None or n.tie.type == "start"]
    assert len(struck) == len(tune.notes)  # music21 ties notes over bar lines
    assert scope["midi"].tracks[0].note_num() == len(tune.notes)


def test_readme_example_on_a_tiny_run(tiny_run, tmp_path, monkeypatch) -> None:
    code = readme_example()
    assert 'ts.load("essen")' in code
    scope = run_example(code.replace('"essen"', repr(str(tiny_run))), tmp_path, monkeypatch)
    check_example(scope, tmp_path)
    # bars=8 of the opening's metre, the opening included at most a bar before them
    tune = scope["tune"]
    assert 8 * tune.steps_per_bar <= tune.length <= 9 * tune.steps_per_bar


@pytest.mark.skipif("essen" not in shipped_models(), reason="the shipped essen model is absent")
def test_readme_example_on_the_shipped_model(tmp_path, monkeypatch) -> None:
    scope = run_example(readme_example(), tmp_path, monkeypatch)
    check_example(scope, tmp_path)


def test_import_is_light_and_the_api_is_lazy() -> None:
    code = (
        "import sys, tunesmith as ts; assert 'torch' not in sys.modules; "
        "assert callable(ts.load) and 'torch' not in sys.modules; print(ts.__version__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with pytest.raises(AttributeError):
        _ = ts.no_such_thing
    import tunesmith.corpus.prepare
    import tunesmith.judge.evaluate
    import tunesmith.learn.models
    import tunesmith.learn.train  # noqa: F401  (modules named as API functions are)

    for function in (ts.prepare, ts.train, ts.evaluate, ts.models):
        assert function.__module__ == "tunesmith.api"


def test_generate_options_and_errors(tiny_run) -> None:
    model = ts.load(tiny_run)
    assert isinstance(model, ts.MelodyModel) and model.info["model"]["hidden_size"] == 32
    (a,) = model.generate(1, bars=4, seed=3)
    (b,) = model.generate(1, bars=4, seed=3)
    assert a.notes == b.notes and a.meta["seed"] == 3
    (seeded,) = model.generate(1, bars=4, seed_notes="C4 E4 G4", key="G", seed=1)
    assert seeded.pitches[:3] == [60, 64, 67] and seeded.key.name == "G major"
    with pytest.raises(ts.ConfigError, match="--temperature"):
        model.generate(1, temperature=0)
    with pytest.raises(ts.UnknownModel, match=r"no-such-model: .*tunesmith models"):
        ts.load("no-such-model")
    assert issubclass(ts.UnknownModel, ts.TunesmithError)


def test_repr_html_has_a_piano_roll_and_audio(tiny_run) -> None:
    (tune,) = ts.load(tiny_run).generate(1, bars=2, seed=5)
    page = tune._repr_html_()
    png = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(png).startswith(b"\x89PNG")
    wav = re.search(r'<audio controls src="data:audio/wav;base64,([^"]+)"', page).group(1)
    with wave.open(io.BytesIO(base64.b64decode(wav))) as w:
        seconds = w.getnframes() / w.getframerate()
    assert seconds >= tune.length / tune.steps_per_quarter * 60 / tune.tempo


def test_audio_is_synthesised_with_numpy_without_fluidsynth(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no fluidsynth to be found
    (tune,) = ts.load(tiny_run).generate(1, bars=2, seed=5)
    page = tune._repr_html_()
    assert "audio: numpy preview" in page
    wav = re.search(r'data:audio/wav;base64,([^"]+)"', page).group(1)
    with wave.open(io.BytesIO(base64.b64decode(wav))) as w:
        samples = w.readframes(w.getnframes())
    assert max(samples) > 0  # sound, not silence


def test_chorales_through_the_api(tiny_poly_run, tmp_path) -> None:
    model = ts.load(tiny_poly_run)
    assert isinstance(model, ts.ChoraleModel)
    (piece,) = model.generate(1, bars=2, seed=1)
    assert [v.name for v in piece.voices] == ["soprano", "alto", "tenor", "bass"]
    assert piece.notes and all(21 <= n.pitch <= 108 for n in piece.notes)
    score = Score(str(piece.save_midi(tmp_path / "chorale.mid")))
    assert [t.note_num() for t in score.tracks] == [len(v.notes) for v in piece.voices]
    assert len(piece.to_music21().parts) == 4
    assert "<audio" in piece._repr_html_()


def test_train_refuses_a_run_there_resumes_it_and_refuses_a_change(tiny_corpus, tmp_path) -> None:
    """ts.train does what ``tunesmith train`` does: a run already in ``out`` is kept unless
    asked, ``resume=True`` goes on from where it stopped with the run's own options, and an
    option that differs from them is refused, never ignored."""
    run = tmp_path / "run"
    model = {"embedding_dim": 8, "hidden_size": 16, "num_layers": 1}
    first = ts.train(tiny_corpus, run, model=model, epochs=1, sequence_length=32)
    assert first.epochs_done == 1
    with pytest.raises(ts.CheckpointError, match="a run is already there"):
        ts.train(tiny_corpus, run, model=model, epochs=1, sequence_length=32)
    with pytest.raises(ts.ConfigError, match=r"learning_rate 0\.01: a resumed run keeps"):
        ts.train(tiny_corpus, run, resume=True, epochs=2, learning_rate=0.01)
    again = ts.train(tiny_corpus, run, model=model, resume=True, epochs=2, sequence_length=32)
    assert again.epochs_done == 2
    assert ts.load(run).info["model"]["hidden_size"] == 16


def test_a_chorale_run_resumes_through_the_api(tiny_poly_run, tmp_path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_poly_run, run)
    data = tiny_poly_run.parent / "tiny_poly_corpus"
    with pytest.raises(ts.CheckpointError, match="a run is already there"):
        ts.train(data, run, epochs=1)
    with pytest.raises(ts.ConfigError, match="hidden_size 64: a resumed run keeps"):
        ts.train(data, run, resume=True, model={"hidden_size": 64})
    result = ts.train(data, run, resume=True, epochs=2, time_limit=60)
    assert result["epochs"] == 2
