"""prepare_corpus: real Nottingham MIDI plus broken files, the cache, strictness, jobs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tunesmith.config import DataConfig, read_json
from tunesmith.corpus.encodings import END, Vocab, get_encoding
from tunesmith.corpus.prepare import is_prepared, prepare_corpus
from tunesmith.errors import CorpusError, SourceError
from tunesmith.read.extract import extract_melody
from tunesmith.read.sources import Item, read_item


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of this test's own, so what it holds does not depend on other tests."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("TUNESMITH_CACHE", str(folder))
    return folder


@pytest.fixture
def bad_folder(tmp_path: Path, nottingham_midi: Path) -> Path:
    """One truncated MIDI file and one ABC file without a tune."""
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "cut.mid").write_bytes((nottingham_midi / "ashover1.mid").read_bytes()[:40])
    (folder / "letter.abc").write_text("Dear editor,\nthis file holds no tune at all.\n")
    return folder


def _load(out: Path) -> tuple[np.ndarray, Vocab, dict]:
    return (
        np.load(out / "tokens.npy"),
        Vocab.load(out / "vocab.json"),
        read_json(out / "manifest.json"),
    )


def test_prepare_report_files_cache_and_up_to_date(
    tmp_path: Path, cache: Path, midi_sample: Path, bad_folder: Path
) -> None:
    out = tmp_path / "corpus"
    sources = [str(midi_sample), str(bad_folder)]
    seen: list[tuple[int, int]] = []
    report = prepare_corpus(sources, out, jobs=1, on_progress=lambda d, t: seen.append((d, t)))

    # the report counts every item and names the two skips with their reasons
    assert report.items == 26
    assert report.kept == 24
    assert report.from_cache == 0
    assert not report.up_to_date
    skipped = dict(report.skipped)
    assert set(skipped) == {str(bad_folder / "cut.mid"), str(bad_folder / "letter.abc")}
    assert skipped[str(bad_folder / "cut.mid")].startswith("not a readable MIDI file")
    assert skipped[str(bad_folder / "letter.abc")].startswith("no ABC tune")
    assert sum(report.skip_reasons.values()) == 2
    assert seen[-1] == (26, 26)
    assert is_prepared(out)

    # the files on disk agree with the report
    tokens, vocab, manifest = _load(out)
    assert len(tokens) == report.tokens
    assert len(vocab) == report.vocab_size
    assert vocab.tokens[:3] == [END, "_", "r"]
    assert manifest["items"] == 26 and manifest["kept"] == 24
    assert manifest["sources"] == sources
    assert manifest["data"] == DataConfig().to_dict()
    assert [s["item"] for s in manifest["skipped"]] == [label for label, _ in report.skipped]
    pieces = manifest["pieces"]
    assert len(pieces) == 24
    assert [Path(p["source"]).name for p in pieces] == sorted(f.name for f in midi_sample.iterdir())

    # every piece sits between end tokens, back to back, with no end token inside
    end = vocab.end_id
    assert tokens[0] == end and tokens[-1] == end
    assert int((tokens == end).sum()) == 25
    position = 1
    for piece in pieces:
        assert piece["start"] == position
        assert tokens[piece["start"] - 1] == end
        assert tokens[piece["start"] + piece["length"]] == end
        assert end not in tokens[piece["start"] : piece["start"] + piece["length"]]
        position = piece["start"] + piece["length"] + 1
    assert position == len(tokens)

    # a piece decodes to the melody of its file
    first = pieces[0]
    encoding = get_encoding(DataConfig())
    ids = tokens[first["start"] : first["start"] + first["length"]].tolist()
    decoded = encoding.decode(vocab.decode(ids))
    expected = extract_melody(read_item(Item(first["source"])), DataConfig())
    assert decoded.notes == expected.notes
    assert first["key"] == expected.key.name
    assert first["transposed"] == expected.meta["transposed"]

    # the same input again: nothing is done
    mtime = (out / "tokens.npy").stat().st_mtime_ns
    again = prepare_corpus(sources, out, jobs=1)
    assert again.up_to_date
    assert (again.items, again.kept, again.tokens) == (26, 24, report.tokens)
    assert again.skipped == report.skipped
    assert (out / "tokens.npy").stat().st_mtime_ns == mtime

    # without the output folder, every item comes from the cache, with the same result
    shutil.rmtree(out)
    rebuilt = prepare_corpus(sources, out, jobs=1)
    assert not rebuilt.up_to_date
    assert rebuilt.from_cache == rebuilt.items == 26
    assert rebuilt.kept == 24 and rebuilt.skipped == report.skipped
    tokens2, vocab2, manifest2 = _load(out)
    assert np.array_equal(tokens2, tokens)
    assert vocab2.tokens == vocab.tokens
    assert manifest2["pieces"] == pieces

    # without the cache the same corpus is built from scratch
    fresh = prepare_corpus(sources, tmp_path / "fresh", jobs=1, use_cache=False)
    assert fresh.from_cache == 0
    assert np.array_equal(np.load(tmp_path / "fresh" / "tokens.npy"), tokens)


def test_prepare_limit(tmp_path: Path, cache: Path, midi_sample: Path) -> None:
    report = prepare_corpus([str(midi_sample)], tmp_path / "out", jobs=1, limit=5)
    assert report.items == 5 and report.kept == 5
    assert len(read_json(tmp_path / "out" / "manifest.json")["pieces"]) == 5


def test_options_change_invalidates(tmp_path: Path, cache: Path, midi_sample: Path) -> None:
    out = tmp_path / "out"
    prepare_corpus([str(midi_sample)], out, jobs=1, limit=4)
    other = prepare_corpus([str(midi_sample)], out, DataConfig(transpose=False), jobs=1, limit=4)
    assert not other.up_to_date and other.from_cache == 0
    assert all(p["transposed"] == 0 for p in read_json(out / "manifest.json")["pieces"])


def test_strict_stops_at_the_bad_file(
    tmp_path: Path, cache: Path, midi_sample: Path, bad_folder: Path
) -> None:
    out = tmp_path / "strict"
    with pytest.raises(SourceError, match=r"cut\.mid: not a readable MIDI file"):
        prepare_corpus([str(bad_folder), str(midi_sample)], out, jobs=1, strict=True)
    assert not is_prepared(out)


def test_strict_after_a_lenient_prepare(
    tmp_path: Path, cache: Path, midi_sample: Path, bad_folder: Path
) -> None:
    sources = [str(midi_sample), str(bad_folder)]
    lenient = prepare_corpus(sources, tmp_path / "lenient", jobs=1)
    assert len(lenient.skipped) == 2
    with pytest.raises(SourceError, match=r"not a readable MIDI file|no ABC tune"):
        prepare_corpus(sources, tmp_path / "strict", jobs=1, strict=True)


def test_no_usable_music(tmp_path: Path, cache: Path, bad_folder: Path) -> None:
    with pytest.raises(CorpusError, match="no usable melody") as info:
        prepare_corpus([str(bad_folder)], tmp_path / "out", jobs=1)
    assert "cut.mid" in str(info.value)
    assert not is_prepared(tmp_path / "out")


def test_no_music_files_at_all(tmp_path: Path, cache: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="holds no music files"):
        prepare_corpus([str(empty)], tmp_path / "out", jobs=1)


def test_parallel_and_serial_agree(tmp_path: Path, cache: Path, nottingham_midi: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    # enough items (more than 8) that two worker processes are used
    for f in sorted(nottingham_midi.glob("*.mid"))[100:112]:
        (src / f.name).symlink_to(f)
    (src / "cut.mid").write_bytes((nottingham_midi / "ashover1.mid").read_bytes()[:40])
    serial = prepare_corpus([str(src)], tmp_path / "one", jobs=1, use_cache=False)
    parallel = prepare_corpus([str(src)], tmp_path / "two", jobs=2, use_cache=False)
    assert (parallel.items, parallel.kept) == (serial.items, serial.kept) == (13, 12)
    assert parallel.skipped == serial.skipped
    t1, v1, m1 = _load(tmp_path / "one")
    t2, v2, m2 = _load(tmp_path / "two")
    assert np.array_equal(t1, t2)
    assert v1.tokens == v2.tokens
    assert m1["pieces"] == m2["pieces"]


def test_a_file_that_takes_too_long_is_skipped_and_tried_again_later(
    tmp_path: Path, cache: Path, midi_sample: Path
) -> None:
    """The per-file time limit skips a slow file without stopping the run, and does not
    remember the skip: with time to spare the same file is read next time."""
    import music21

    chorale = next(iter(music21.corpus.getComposer("bach")))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / chorale.name).symlink_to(chorale)  # music21 needs ~0.1 s for it
    midi = sorted(midi_sample.glob("*.mid"))[0]
    (folder / midi.name).symlink_to(midi)  # symusic needs ~1 ms
    report = prepare_corpus([str(folder)], tmp_path / "a", jobs=1, time_limit=0.02)
    assert report.kept == 1
    assert [r for _, r in report.skipped] == [
        "took longer than 0.02 s to read (--time-limit-per-file)"
    ]
    report = prepare_corpus([str(folder)], tmp_path / "b", jobs=1)
    assert report.kept == 2 and not report.skipped


def test_the_time_limit_holds_when_its_first_alarm_is_swallowed() -> None:
    """An alarm that lands in a garbage collector's callback is swallowed by Python (CI saw
    a slow chorale read to its end that way): the alarm repeats until the block ends."""
    import contextlib
    import time

    from tunesmith.read.reading import _deadline, _TimeUp

    start = time.monotonic()
    with pytest.raises(_TimeUp), _deadline(0.02):
        with contextlib.suppress(BaseException):  # what "Exception ignored in" does
            time.sleep(2)
        time.sleep(2)
    assert time.monotonic() - start < 1.5
    time.sleep(0.3)  # disarmed: no alarm is left to fire


def test_report_distributions_and_json(tmp_path: Path, cache: Path, midi_sample: Path) -> None:
    report = prepare_corpus(
        [str(midi_sample)], tmp_path / "out", DataConfig(encoding="notes"), jobs=1, limit=6
    )
    # every note is counted once, by its length in quarters and by its pitch
    assert sum(report.durations.values()) == sum(report.pitches.values()) > 300
    assert set(report.durations) <= {str(d) for d in DataConfig(encoding="notes").duration_set}
    assert max(report.durations, key=report.durations.get) in ("1/2", "1")
    assert all(0 <= int(p) <= 127 for p in report.pitches)
    data = report.to_dict()
    assert data["kept"] == 6 and data["durations"] == report.durations
    assert data["skip_reasons"] == {} and data["skipped"] == []
    # the manifest keeps the distributions: an up-to-date run reports them again
    again = prepare_corpus(
        [str(midi_sample)], tmp_path / "out", DataConfig(encoding="notes"), jobs=1, limit=6
    )
    assert again.up_to_date and again.durations == report.durations


def test_filters_and_augmentation_reuse_the_cache(
    tmp_path: Path, cache: Path, midi_sample: Path
) -> None:
    first = prepare_corpus([str(midi_sample)], tmp_path / "a", jobs=1, limit=6)
    config = DataConfig(min_bars=32.5, augment_keys=True, pitch_range=[48, 96])
    report = prepare_corpus([str(midi_sample)], tmp_path / "b", config, jobs=1, limit=6)
    assert report.from_cache == 6  # filters and augmentation act after reading
    too_short = [r for _, r in report.skipped if r.startswith("shorter than --min-bars")]
    assert too_short and len(too_short) < 6
    originals = 6 - len(too_short)
    assert report.kept == originals + report.augmented and report.augmented > originals
    pieces = read_json(tmp_path / "b" / "manifest.json")["pieces"]
    # copies share their piece's group, so a train/validation split never separates them
    from tunesmith.corpus.dataset import Corpus

    corpus = Corpus.open(tmp_path / "b")
    train, val = corpus.split(0.3, seed=0)
    groups = lambda idx: {pieces[i]["group"] for i in idx}  # noqa: E731
    assert groups(train) and groups(val) and not groups(train) & groups(val)
    for p in pieces:
        assert p["augmented"] in range(-5, 7)
    assert first.kept == 6


def test_events_corpus_holds_chords(tmp_path: Path, cache: Path, midi_sample: Path) -> None:
    report = prepare_corpus(
        [str(midi_sample)], tmp_path / "ev", DataConfig(encoding="events"), jobs=1, limit=4
    )
    vocab = Vocab.load(tmp_path / "ev" / "vocab.json")
    assert vocab.encoding == "events"
    assert any("." in t.split(":")[0] for t in vocab.tokens)
    assert report.vocab_size == len(vocab)


# --- the prepare and inspect commands --------------------------------------------------


def test_prepare_command_prints_distributions_and_writes_json(
    tmp_path: Path, cache: Path, midi_sample: Path
) -> None:
    from typer.testing import CliRunner

    from tunesmith.cli import app

    report_file = tmp_path / "report.json"
    args = ["prepare", str(midi_sample), "--out", str(tmp_path / "d"), "--jobs", "1"]
    args += ["--encoding", "notes", "--limit", "3", "--report", str(report_file)]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "note lengths (quarters)" in r.output and "pitches" in r.output
    data = read_json(report_file)
    assert data["kept"] == 3 and sum(data["durations"].values()) > 100
    r = CliRunner().invoke(app, [*args[:4], "--pitch-range", "high"])
    assert r.exit_code == 2 and "--pitch-range must be LOW-HIGH" in r.output
    r = CliRunner().invoke(app, [*args[:4], "--melody", "loudest"])
    assert r.exit_code == 2 and "--melody must be" in r.output


def test_inspect_shows_the_melody_scores_and_note_tokens(nottingham_midi: Path) -> None:
    from typer.testing import CliRunner

    from tunesmith.cli import app

    path = str(nottingham_midi / "ashover1.mid")
    r = CliRunner().invoke(app, ["inspect", path, "--melody", "auto", "--encoding", "notes"])
    assert r.exit_code == 0, r.output
    assert "melody scores" in r.output and "best melody score" in r.output
    assert "bar   2: 79:2 76:1" in r.output  # a bar of 3/4 in note tokens
    r = CliRunner().invoke(app, ["inspect", path, "--encoding", "events", "--bars", "2"])
    assert "full texture" in r.output and "bar   2: 48.52.55.79:2 76:1" in r.output


def _piano_score_music21_warns_about(folder: Path, copies: int) -> None:
    """MusicXML piano scores whose MIDI program (200) music21 warns about while reading."""
    bar = "".join(
        f"<note><pitch><step>{s}</step><octave>4</octave></pitch><duration>1</duration>"
        "<type>quarter</type><staff>1</staff></note>"
        for s in "CDEC"
    )
    bars = "".join(f'<measure number="{m}">{bar}</measure>' for m in range(2, 5))
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><score-partwise version="3.1"><part-list>'
        '<score-part id="P1"><part-name>Piano</part-name><midi-instrument id="P1-I1">'
        "<midi-channel>1</midi-channel><midi-program>200</midi-program></midi-instrument>"
        '</score-part></part-list><part id="P1"><measure number="1"><attributes>'
        "<divisions>1</divisions><key><fifths>0</fifths></key><time><beats>4</beats>"
        f"<beat-type>4</beat-type></time><staves>2</staves></attributes>{bar}</measure>"
        f"{bars}</part></score-partwise>"
    )
    folder.mkdir()
    for i in range(copies):
        (folder / f"piano{i}.musicxml").write_text(xml)


@pytest.mark.parametrize("jobs", ["1", "2"])  # read here, and in worker processes
def test_reader_warnings_go_to_the_log_not_over_the_progress_bar(tmp_path: Path, jobs: str) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "TUNESMITH_CACHE": str(tmp_path / "cache")}

    def prepare(*flags: str) -> subprocess.CompletedProcess:
        # a folder each: music21 keeps a parsed file and would not warn about it again
        scores = tmp_path / f"scores{len(flags)}"
        _piano_score_music21_warns_about(scores, copies=8)
        command = [sys.executable, "-m", "tunesmith", *flags, "prepare", str(scores)]
        command += ["--out", str(tmp_path / f"out{len(flags)}"), "--jobs", jobs]
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0 and "pieces kept" in done.stdout, done.stderr
        return done

    quiet = prepare()
    assert "MIDI program" not in quiet.stdout + quiet.stderr, quiet.stderr
    shown = prepare("-v").stderr
    assert "piano0.musicxml: MusicXMLWarning: No instrument found for MIDI program" in shown


def test_prepare_tables_show_the_commonest_rows_and_one_other_row(
    tmp_path: Path, cache: Path
) -> None:
    """100 Essen tunes hold 13 note lengths and 34 pitches: the tables show the 12 commonest
    and one row summing the rest; the JSON report keeps every value."""
    from typer.testing import CliRunner

    from tunesmith.cli import app

    report_file = tmp_path / "report.json"
    args = ["prepare", "essen", "--limit", "100", "--out", str(tmp_path / "d")]
    r = CliRunner().invoke(app, [*args, "--report", str(report_file)])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    for table in ("durations", "pitches"):
        counts = sorted(read_json(report_file)[table].values(), reverse=True)
        assert len(counts) > 12
        [other] = [ln for ln in lines if f"other ({len(counts) - 12} more)" in ln]
        assert f" {sum(counts[12:]):,} " in other
    rows = [ln for ln in lines if "%" in ln]
    assert len(rows) == 2 * 13
