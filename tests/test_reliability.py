"""Bad files, killed runs, hostile inputs: nothing crashes, nothing is lost, nothing runs."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from symusic import Note, Score, Tempo, Track
from testdata import NOTTINGHAM_ABC, TINY_TRAIN_ARGS
from typer.testing import CliRunner

from tunesmith.cli import app
from tunesmith.config import DataConfig
from tunesmith.corpus.prepare import prepare_corpus
from tunesmith.errors import CheckpointError, ConfigError
from tunesmith.learn.loop import TrainingError
from tunesmith.learn.train import train_model
from tunesmith.make.generate import GenerateOptions, generate
from tunesmith.read.reading import read_melodies
from tunesmith.read.sources import MAX_FILE_BYTES, find_items

SUFFIXES = [".mid", ".abc", ".krn", ".xml", ".musicxml", ".mxl"]


def _accounted(folder: Path, **kwargs) -> tuple[int, int, int]:
    """Read every file under ``folder``; check each item is kept or skipped with a reason."""
    items = find_items([str(folder)])
    melodies, skipped, _ = read_melodies(items, DataConfig(), jobs=1, time_limit=20, **kwargs)
    assert len(melodies) + len(skipped) == len(items)
    assert all(reason for _, reason in skipped)
    labels = {label.split("#")[0] for label, _ in skipped} | {
        m.source.split("#")[0] for m in melodies
    }
    assert labels == {str(p) for p in folder.iterdir()}  # every file counted
    return len(items), len(melodies), len(skipped)


# ------------------------------------------------------------------------------ bad input


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=600), suffix=st.sampled_from(SUFFIXES), text=st.booleans())
def test_random_bytes_are_skipped_with_a_reason(tmp_path_factory, data, suffix, text) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    body = data.decode("latin-1") if text else data
    if text and suffix == ".abc":
        body = "X:1\nK:C\n" + body  # reach the tune parser, not only the splitter
    path = folder / f"random{suffix}"
    if isinstance(body, str):
        path.write_text(body, encoding="latin-1")
    else:
        path.write_bytes(body)
    _accounted(folder)


def _mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.choice(["truncate", "flip", "splice"])
    b = bytearray(data)
    if kind == "truncate":
        return bytes(b[: rng.randrange(len(b))])
    if kind == "flip":
        for _ in range(rng.randrange(1, 30)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return bytes(b)
    cut = rng.randrange(len(b))
    return bytes(b[:cut] + bytes(rng.randrange(256) for _ in range(50)) + b[cut:])


def test_mutated_real_files_never_stop_a_run(tmp_path: Path, nottingham_midi: Path) -> None:
    """Truncated, bit-flipped and spliced copies of real MIDI, ABC, Kern and MusicXML."""
    import music21

    rng = random.Random(20261122)
    originals = sorted(nottingham_midi.glob("*.mid"))[:60]
    originals += sorted(NOTTINGHAM_ABC.glob("*.abc"))[:2]
    corpus = Path(music21.__file__).parent / "corpus"
    originals += [corpus / "bach" / "bwv277.krn", corpus / "bach" / "bwv1.6.mxl"]
    for i, original in enumerate(originals):
        data = original.read_bytes()
        if original.suffix == ".abc":  # a few tunes of the book keep it quick
            data = data[:3000]
        (tmp_path / f"m{i:03d}{original.suffix}").write_bytes(_mutate(data, rng))
    items, _, skipped = _accounted(tmp_path)
    assert items >= len(originals) and skipped > 0


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_empty_files_are_skipped(tmp_path: Path, suffix: str) -> None:
    (tmp_path / f"empty{suffix}").write_bytes(b"")
    items, kept, skipped = _accounted(tmp_path)
    assert (items, kept, skipped) == (1, 0, 1)


def test_absurd_midi_is_bounded(tmp_path: Path) -> None:
    """100,000 notes, a tempo of 10,000 bpm and a note two billion ticks late: read within
    the per-file limit and cut at the configured length (no grid of two billion steps)."""
    score = Score(480)
    score.tempos.append(Tempo(0, qpm=10_000.0))
    track = Track(name="noise", program=0, is_drum=False)
    for i in range(100_000):
        track.notes.append(Note(i * 60, 50, 40 + i % 50, 80))
    track.notes.append(Note(2_000_000_000, 480, 60, 80))
    score.tracks.append(track)
    score.dump_midi(str(tmp_path / "absurd.mid"))
    items = find_items([str(tmp_path)])
    melodies, _, _ = read_melodies(items, DataConfig(), jobs=1, time_limit=30)
    assert len(melodies) == 1 and melodies[0].length <= DataConfig().max_steps


@pytest.mark.parametrize("suffix", [".mid", ".abc", ".xml"])
def test_huge_files_are_skipped_unread(tmp_path: Path, midi_sample: Path, suffix: str) -> None:
    with open(tmp_path / f"huge{suffix}", "wb") as f:  # sparse: no disk used
        f.truncate(MAX_FILE_BYTES + 1)
    shutil.copy(next(midi_sample.glob("*.mid")), tmp_path / "good.mid")
    melodies, skipped, _ = read_melodies(find_items([str(tmp_path)]), DataConfig(), jobs=1)
    assert len(melodies) == 1
    assert len(skipped) == 1 and "larger than a music file can sensibly be" in skipped[0][1]


def test_a_reader_process_cannot_take_more_memory_than_its_cap() -> None:
    code = (
        "from tunesmith.read.workers import limit_memory\n"
        "limit_memory(1 << 30)\n"
        "try:\n    bytearray(2 << 30)\nexcept MemoryError:\n    print('capped')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "capped"


def _reader_processes() -> list[int]:
    """Pool workers started by this test process (not multiprocessing's resource tracker)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_bytes()
            if int(fields[1]) == os.getpid() and b"spawn_main" in cmd:
                pids.append(int(stat.parent.name))
    return pids


@pytest.mark.skipif(not Path("/proc").exists(), reason="finds worker processes in /proc")
def test_a_killed_reader_process_loses_no_file() -> None:
    """The kernel's OOM killer or a crashing C library takes a worker down mid-corpus: its
    work is redone, every other result kept, and the prepare completes."""
    items = find_items(["essen"])[:300]
    result: dict = {}

    def read() -> None:
        result["out"] = read_melodies(items, DataConfig(), jobs=2, cache=None, time_limit=60)

    reader = threading.Thread(target=read)
    reader.start()
    _wait_for(lambda: len(_reader_processes()) == 2)
    time.sleep(1.0)
    os.kill(_reader_processes()[0], signal.SIGKILL)
    reader.join(timeout=300)
    melodies, skipped, _ = result["out"]
    assert len(melodies) + len(skipped) == len(items)
    assert not [reason for _, reason in skipped if "crashed" in reason]
    assert len(melodies) >= 290


def test_interrupted_prepare_does_not_read_finished_files_again(
    tmp_path: Path, midi_sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNESMITH_CACHE", str(tmp_path / "cache"))  # nothing read before

    def stop_halfway(done: int, total: int) -> None:
        if done == 12:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare_corpus([str(midi_sample)], tmp_path / "d", jobs=1, on_progress=stop_halfway)
    report = prepare_corpus([str(midi_sample)], tmp_path / "d", jobs=1)
    assert report.from_cache == 12 and report.kept == 24


# ----------------------------------------------------------------------------------- faults


def _train_cmd(data: Path, run: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tunesmith",
        "train",
        str(data),
        "--out",
        str(run),
        *TINY_TRAIN_ARGS,
        *extra,
    ]


def _wait_for(predicate, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _state(run: Path) -> dict:
    """The saved training state, as load_last finds it (after a kill between the two
    renames of a save, it is in last.old)."""
    for folder in ("last", "last.old"):
        try:
            return json.loads((run / folder / "state.json").read_text())
        except (OSError, ValueError):
            continue
    return {}


def test_sigkill_mid_epoch_then_resume(tiny_corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = subprocess.Popen(
        _train_cmd(
            tiny_corpus, run, "--epochs", "40", "--save-every", "3", "--early-stopping", "0"
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Kill it inside an epoch, after at least one checkpoint from inside an epoch.
        _wait_for(lambda: _state(run).get("batch", 0) > 0)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    saved = _state(run)  # the last checkpoint is whole: it loads
    assert saved["batch"] > 0
    done = subprocess.run(
        _train_cmd(tiny_corpus, run, "--resume", "--epochs", str(saved["epoch"] + 1)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    after = _state(run)
    assert after["epoch"] == saved["epoch"] + 1 and after["step"] > saved["step"]
    assert not (run / "last.tmp").exists() and not (run / "last.old").exists()


def test_ctrl_c_saves_and_exits_cleanly(tiny_corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = subprocess.Popen(
        _train_cmd(tiny_corpus, run, "--epochs", "400", "--early-stopping", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(lambda: (run / "metrics.csv").exists())  # training is under way
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in out and "Traceback" not in err
    assert _state(run)["step"] > 0


def test_the_loss_plot_is_loaded_before_the_first_batch(
    tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C while matplotlib's C extension first initialises (the plot after epoch 1)
    came out as an ImportError that the plot's guard swallowed: the run went on and CI's
    Ctrl-C test timed out. The plot's modules are now loaded before training starts."""
    import sys

    from tunesmith.config import ModelConfig, TrainConfig

    monkeypatch.delitem(sys.modules, "tunesmith.export.plots", raising=False)
    loaded: list[bool] = []

    def at_batch(kind: str, data: dict) -> None:
        if kind == "batch" and not loaded:
            loaded.append("tunesmith.export.plots" in sys.modules)

    train_model(
        tiny_corpus, tmp_path / "run", ModelConfig(hidden_size=16, embedding_dim=8, num_layers=1),
        TrainConfig(epochs=1, sequence_length=32), on_event=at_batch,
    )  # fmt: skip
    assert loaded == [True]


def test_a_diverging_loss_stops_with_a_clear_message(tiny_corpus: Path, tmp_path: Path) -> None:
    from tunesmith.config import ModelConfig, TrainConfig

    with pytest.raises(TrainingError, match="loss became"):
        train_model(
            tiny_corpus,
            tmp_path / "run",
            ModelConfig(hidden_size=16, embedding_dim=8, num_layers=1),
            TrainConfig(epochs=3, learning_rate=1e30, grad_clip=0, sequence_length=32),
        )


# ----------------------------------------------------------------------------------- safety


class _Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_crafted_pickle_is_never_executed(tiny_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(marker))
    for name in ("model.pt", "optimizer.pt", "last/train_state.pt"):
        (run / name).write_bytes(payload)
    generate(run, tmp_path / "out", GenerateOptions(num=1, length=16))
    (run / "model.safetensors").write_bytes(payload)  # a pickle under the right name
    with pytest.raises(CheckpointError, match="damaged"):
        generate(run, tmp_path / "out", GenerateOptions(num=1, length=16))
    (run / "model.safetensors").unlink()  # only the pickle left: refused, and said why
    with pytest.raises(CheckpointError, match="never loads"):
        generate(run, tmp_path / "out", GenerateOptions(num=1, length=16))
    assert not marker.exists()


def test_a_run_from_another_encoding_is_refused(tiny_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    vocab = json.loads((run / "vocab.json").read_text())
    (run / "vocab.json").write_text(json.dumps({**vocab, "encoding": "events"}))
    with pytest.raises(CheckpointError, match="encoding"):
        generate(run, tmp_path / "out", GenerateOptions(num=1))


@pytest.mark.parametrize("prefix", ["../escape", "/tmp/abs", "sub/dir", ".hidden", ""])
def test_output_names_stay_in_the_output_folder(tiny_run: Path, tmp_path: Path, prefix: str):
    with pytest.raises(ConfigError, match="--prefix"):
        generate(tiny_run, tmp_path / "out", GenerateOptions(num=1, prefix=prefix))
    r = CliRunner().invoke(
        app, ["generate", str(tiny_run), "--out", str(tmp_path / "o"), "--prefix", prefix]
    )
    assert r.exit_code == 2 and "--prefix" in r.output
    assert not any(p.suffix == ".mid" for p in tmp_path.parent.iterdir())


def test_a_planted_symlink_is_replaced_not_written_through(tiny_run: Path, tmp_path: Path):
    """An output name that is a symlink to a file elsewhere: the link is replaced by the new
    file, and the file it pointed at is left as it was."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    for name in ("melody-01.mid", "melody-01.png"):
        (out / name).symlink_to(victim)
    generate(tiny_run, out, GenerateOptions(num=1, seed=1))
    assert victim.read_text() == "keep me"
    assert not (out / "melody-01.mid").is_symlink() and (out / "melody-01.mid").stat().st_size
    assert not (out / "melody-01.png").is_symlink()
