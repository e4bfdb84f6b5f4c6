"""The Python API: prepare, train, load, generate and evaluate without the command line.

A thin layer over the functions the CLI calls (``prepare_corpus``, ``train_model``,
``load_run``, ``sample_melodies``, ``evaluate_run`` and the chorale model's), so a value
means what the CLI's flag of the same name means, and a mistake raises a
:class:`~tunesmith.errors.TunesmithError` whose message is the CLI's one line.

    import tunesmith as ts

    model = ts.load("essen")                  # a shipped model, or a run folder
    melodies = model.generate(2, bars=8, seed=7)
    melodies[0].save_midi("tune.mid")         # also .notes, .to_music21(), .to_symusic()
    melodies                                  # in Jupyter: piano rolls and audio players
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tunesmith import melody
from tunesmith.melody import Note
from tunesmith.shipped import about, resolve_run, shipped_models


class Melody(melody.Melody):
    """A melody as the API gives it: the internal :class:`tunesmith.melody.Melody` (``.notes``,
    ``.key``, ``.time_signature``, ``.tempo``, ``.meta``) with its ways out of tunesmith. The
    exports live here, above every stage, so the music model imports nothing that imports it."""

    @classmethod
    def of(cls, tune: melody.Melody) -> Melody:
        """The same melody as an API :class:`Melody`."""
        return cls(**{f.name: getattr(tune, f.name) for f in fields(tune)})

    def save_midi(self, path: str | Path, *, instrument: str | int = "piano") -> Path:
        """Write the melody to a MIDI file (``instrument``: a General MIDI name or number);
        a melody written over chords gets them as a second track."""
        from tunesmith.export.midi import write_midi

        tracks, programs = self._tracks(instrument)
        return write_midi(tracks, path, programs=programs)

    def to_symusic(self, *, instrument: str | int = "piano") -> Any:
        """The melody as a ``symusic.Score`` (what :meth:`save_midi` writes)."""
        from tunesmith.export.midi import to_score

        tracks, programs = self._tracks(instrument)
        return to_score(tracks, programs=programs)

    def _tracks(self, instrument: str | int) -> tuple[list[melody.Melody], list[int]]:
        from tunesmith.export.instruments import parse_instrument
        from tunesmith.make.harmony import midi_tracks

        return midi_tracks(self, parse_instrument(instrument))

    def to_music21(self) -> Any:
        """The melody as a ``music21.stream.Score``, spelt in its key, bars and ties made."""
        from tunesmith.export.score import melody_to_stream

        return melody_to_stream(self)

    def _repr_html_(self) -> str:
        """Jupyter's view: the piano roll and an audio player, inline."""
        from tunesmith.export.notebook import melody_html

        return melody_html([self], title=self.name)


class Melodies(list[Melody]):
    """A list of melodies that Jupyter shows one after another."""

    def _repr_html_(self) -> str:
        return "".join(m._repr_html_() for m in self)


@dataclass
class Chorale:
    """A piece in several voices (soprano first), as the chorale model writes them."""

    voices: list[Melody]
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def notes(self) -> list[Note]:
        """Every voice's notes, by onset, higher first."""
        return sorted((n for v in self.voices for n in v.notes), key=lambda n: (n.start, -n.pitch))

    def save_midi(self, path: str | Path, *, instrument: str | int = "piano") -> Path:
        """Write the piece to a MIDI file, one track a voice."""
        from tunesmith.export.instruments import parse_instrument
        from tunesmith.export.midi import write_midi

        return write_midi(self.voices, path, program=parse_instrument(instrument))

    def to_symusic(self, *, instrument: str | int = "piano") -> Any:
        """The piece as a ``symusic.Score``, one track a voice."""
        from tunesmith.export.instruments import parse_instrument
        from tunesmith.export.midi import to_score

        return to_score(self.voices, program=parse_instrument(instrument))

    def to_music21(self) -> Any:
        """The piece as a ``music21.stream.Score``, one part a voice."""
        from music21 import stream

        from tunesmith.export.score import melody_to_stream

        score = stream.Score()
        for voice in self.voices:
            part = melody_to_stream(voice).parts[0]
            part.partName = voice.name
            score.insert(0, part)
        return score

    def _repr_html_(self) -> str:
        from tunesmith.export.notebook import melody_html

        return melody_html(self.voices, title=self.name)


class MelodyModel:
    """A trained melody run (or a shipped one), loaded: see :func:`load`."""

    def __init__(self, path: Path, device: str = "cpu") -> None:
        from tunesmith.learn.checkpoint import load_run

        self.path = path
        self.run = load_run(path, device=device)

    @property
    def info(self) -> dict[str, Any]:
        """The run's config.json: data, model and training options, versions, sizes."""
        return self.run.info

    @property
    def styles(self) -> list[str]:
        """The styles ``generate(style=...)`` takes ([] for a model trained without)."""
        from tunesmith.make.styles import run_styles

        return run_styles(self.run)

    def generate(
        self,
        num: int = 1,
        *,
        bars: int = 8,
        temperature: float = 0.9,
        top_k: int = 0,
        top_p: float = 1.0,
        endings: int | None = None,
        seed_notes: str | None = None,
        primer: str | Path | None = None,
        key: str | None = None,
        tempo: float | None = None,
        seed: int | None = None,
        copy_guard: float = 2.0,
        chords: str | None = None,
        style: str | None = None,
    ) -> Melodies:
        """Sample ``num`` melodies of ``bars`` bars, as ``tunesmith generate`` does.

        ``seed_notes`` (``"C4 E4 G4"``), ``primer`` (a music file), ``key`` (``"G"``,
        ``"F# minor"``), ``tempo`` and ``copy_guard`` (bars never copied verbatim from a
        training piece; 0 = off) and ``endings`` (the best of this many samples of the
        last two bars; 8 for a model with form inputs, which alone may take more than 1)
        mean what the CLI's flags mean; so does ``chords`` (``"C G Am F"``: a model trained
        on a corpus prepared with chords writes over them, kept in ``meta["chords"]`` and
        saved as a second MIDI track), and ``style`` (one of :attr:`styles`). Each
        melody's ``meta["seed"]`` is the random seed, for the same melodies again.
        """
        from tunesmith.make.generate import GenerateOptions, sample_melodies

        options = GenerateOptions(
            bars=bars, num=num, temperature=temperature, top_k=top_k, top_p=top_p, endings=endings,
            seed_notes=seed_notes, primer=str(primer) if primer else None, key=key,
            tempo=tempo, seed=seed, copy_guard=copy_guard, chords=chords, style=style,
        )  # fmt: skip
        melodies, _ = sample_melodies(self.run, options)
        return Melodies(Melody.of(m) for m in melodies)

    def __repr__(self) -> str:
        return f"MelodyModel({str(self.path)!r})"


class ChoraleModel:
    """A trained chorale (poly) run, loaded: see :func:`load`."""

    def __init__(self, path: Path) -> None:
        from tunesmith.learn.poly_run import load_poly_run

        self.path = path
        self.run = load_poly_run(path)

    def generate(
        self,
        num: int = 1,
        *,
        bars: int = 8,
        temperature: float = 0.9,
        top_k: int = 0,
        top_p: float = 1.0,
        tempo: float = 100.0,
        seed: int | None = None,
        harmonize: str | Path | None = None,
    ) -> list[Chorale]:
        """Sample ``num`` pieces of ``bars`` bars of 4/4 (after the opening chord); with
        ``harmonize`` (a music file) its melody is the top voice and the rest is sampled.
        ``top_k`` and ``top_p`` narrow each key's choice as they do a melody's tokens."""
        from tunesmith.errors import ConfigError
        from tunesmith.make.sample_poly import chorale_frames, sample_chorales

        if num < 1 or bars < 1:
            raise ConfigError(f"num and bars must be at least 1 (got {num}, {bars})")
        pieces = sample_chorales(
            self.run, num, chorale_frames(self.run, bars), seed=seed, temperature=temperature,
            top_k=top_k, top_p=top_p, tempo=tempo, harmonize=harmonize,
        )  # fmt: skip
        return [
            Chorale([Melody.of(v) for v in voices], f"chorale-{i:02d}", dict(voices[0].meta))
            for i, voices in enumerate(pieces, 1)
        ]

    def __repr__(self) -> str:
        return f"ChoraleModel({str(self.path)!r})"


def load(run_or_name: str | Path, *, device: str = "cpu") -> MelodyModel | ChoraleModel:
    """A run folder, or a shipped model by name (``"essen"``, ``"chorales"``), loaded.

    :raise UnknownModel: for a name that is neither (the message lists the shipped ones).
    :raise CheckpointError: for a run folder that is incomplete or damaged.
    """
    from tunesmith.learn.run_config import POLY, run_kind

    path = resolve_run(run_or_name)
    return ChoraleModel(path) if run_kind(path) == POLY else MelodyModel(path, device)


def models() -> list[dict[str, Any]]:
    """The shipped models: name, what they were trained on, size, held-out loss, evaluation."""
    return [about(folder) for folder in shipped_models().values()]


def prepare(
    sources: str | Path | Sequence[str | Path],
    out: str | Path,
    *,
    jobs: int = 0,
    limit: int = 0,
    on_progress: Callable[..., None] | None = None,
    **options: Any,
) -> Any:
    """Read music (folders, files, or ``"essen"``, ``"chorales"``, ``"oneills"``) into a
    prepared corpus at ``out``; ``options`` are ``prepare``'s (``encoding="notes"``,
    ``min_bars=4``...), with ``_`` for ``-``; ``styles={"irish": ["oneills"], ...}``
    labels each source's pieces instead (``sources`` then empty, see ``prepare --style``).
    Returns the report ``prepare`` prints."""
    from tunesmith.config import DataConfig, check_grid
    from tunesmith.corpus.prepare import prepare_corpus

    if "steps_per_quarter" in options:  # a grid asked for is used or refused
        check_grid(
            options["steps_per_quarter"],
            options.get("encoding", "steps"),
            options.get("durations", "default"),
        )
    if options.get("encoding") == "poly":
        options.setdefault("steps_per_quarter", 1)  # the chorale model's quarter-note frames
    styles = options.pop("styles", None)
    items = [str(sources)] if isinstance(sources, str | Path) else [str(s) for s in sources]
    config = DataConfig.from_dict(options)
    return prepare_corpus(
        items, out, config, jobs=jobs, limit=limit, on_progress=on_progress, styles=styles
    )


def train(
    data: str | Path,
    out: str | Path,
    *,
    model: dict[str, Any] | None = None,
    overwrite: bool = False,
    resume: bool = False,
    **options: Any,
) -> Any:
    """Train on a prepared corpus into the run folder ``out``: the chorale model on a poly
    corpus, else a melody model. ``model`` holds the model's options (``{"kind": "gru",
    "hidden_size": 512}``), ``options`` the training's (``epochs``, ``time_limit``,
    ``seed``...). Returns the training's result (epochs, best loss, seconds).

    ``resume`` continues the run in ``out`` where it stopped, with the options it was
    started with: ``epochs`` and ``time_limit`` may change, any other option given must be
    the run's own (a ConfigError names one that is not).
    """
    from tunesmith.corpus.poly_prepare import is_poly_corpus
    from tunesmith.learn.checkpoint import (
        RESUME_MAY_CHANGE,
        read_run_info,
        refuse_changes_on_resume,
        resumed_options,
    )

    out = Path(out)
    poly = is_poly_corpus(data)
    budget = {k: options[k] for k in RESUME_MAY_CHANGE if k in options}
    if resume:
        refuse_changes_on_resume({**(model or {}), **options}, resumed_options(out, poly))
    if poly:
        from tunesmith.learn.models.poly import PolyModelConfig
        from tunesmith.learn.poly_bench import train_poly_corpus
        from tunesmith.learn.train_poly import PolyTrainConfig

        if resume:
            return train_poly_corpus(data, out, None, None, resume=True, **budget)
        if "epochs" in options:
            options["max_epochs"] = options.pop("epochs")
        val_fraction = options.pop("val_fraction", 0.1)
        model_config = PolyModelConfig.from_dict(model or {})
        train_config = PolyTrainConfig.from_dict(options)
        return train_poly_corpus(
            data, out, model_config, train_config, val_fraction, overwrite=overwrite
        )
    from tunesmith.config import ModelConfig, TrainConfig
    from tunesmith.learn.train import train_model

    if resume:
        saved = TrainConfig.from_dict({**read_run_info(out)["train"], **budget})
        return train_model(data, out, None, saved, resume=True)
    return train_model(
        data,
        out,
        ModelConfig.from_dict(model or {}),
        TrainConfig.from_dict(options),
        overwrite=overwrite,
    )


def evaluate(
    run_or_name: str | Path,
    data: str | Path | None = None,
    *,
    samples: int = 100,
    seed: int = 0,
    copy_guard: float = 2.0,
) -> dict[str, Any]:
    """Judge a melody run as ``tunesmith evaluate`` does (held-out prediction, musical
    statistics, copying) and return the report's figures (what report.json holds)."""
    from tunesmith.judge.evaluate import evaluate_run

    path = resolve_run(run_or_name)
    return evaluate_run(path, data, samples=samples, seed=seed, copy_guard_bars=copy_guard)


__all__ = [
    "Chorale",
    "ChoraleModel",
    "Melodies",
    "Melody",
    "MelodyModel",
    "Note",
    "evaluate",
    "load",
    "models",
    "prepare",
    "train",
]
