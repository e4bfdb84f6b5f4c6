"""Configs as dataclasses with JSON-native fields; defaults live here, not in the CLI."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import Any, Self

from tunesmith.errors import ConfigError, write_failed


class _Config:
    """Shared to_dict/from_dict/validation for the config dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            msg = (
                f"unknown {cls.__name__} key {unknown[0]!r}; known keys: {', '.join(sorted(known))}"
            )
            raise ConfigError(msg)
        obj = cls(**data)
        obj.validate()
        return obj

    def validate(self) -> None:
        """Raise ConfigError for a value out of range."""


def _check(ok: bool, name: str, value: Any, rule: str) -> None:
    if not ok:
        raise ConfigError(f"--{name.replace('_', '-')} must be {rule} (got {value!r})")


#: Note lengths of the notes and events encodings by default, in quarter notes: sixteenth to
#: whole note, dotted eighth, quarter and half, and triplets of sixteenths, eighths, quarters
#: and halves (the sixteenth-note triplets of ornaments keep folk tunes exact).
DEFAULT_DURATIONS = "1/6,1/4,1/3,1/2,2/3,3/4,1,4/3,3/2,2,3,4"
ENCODINGS = ("steps", "notes", "events", "poly")
MELODY_RULES = ("highest-mean", "skyline", "auto")


def parse_durations(text: str) -> list[Fraction]:
    """``"default"``, ``"none"`` (no durations: []) or lengths in quarter notes: ``"1/2,1,2"``."""
    if text == "none":
        return []
    if text == "default":
        text = DEFAULT_DURATIONS
    try:
        values = sorted({Fraction(v.strip()) for v in text.split(",") if v.strip()})
    except (ValueError, ZeroDivisionError):
        values = []
    if not values or values[0] <= 0 or values[-1] > 16:
        msg = (
            f"--durations must be 'default', 'none' or note lengths in quarter notes between "
            f"0 and 16 such as '1/4,1/2,1,2' (got {text!r})"
        )
        raise ConfigError(msg)
    return values


@dataclass
class DataConfig(_Config):
    """How pieces become token sequences (what `tunesmith prepare` does)."""

    encoding: str = "steps"  # steps (pitch at onset, "_" held, "r" rest) | notes | events | poly
    # Grid steps per quarter (4 = sixteenths). The notes and events encodings refine it so that
    # every length of --durations falls on it (12 with the default triplets).
    steps_per_quarter: int = 4
    durations: str = "default"  # notes/events: lengths a note may take; "none" = all equal
    melody: str = "auto"  # auto | highest-mean | skyline | track:NAME | track:N
    transpose: bool = True  # to C major / A minor by the piece's key
    augment_keys: bool = False  # also every other key that keeps a piece in pitch_range
    pitch_range: list[int] = field(default_factory=lambda: [36, 96])  # for --augment-keys
    min_notes: int = 8  # shorter melodies are skipped
    min_bars: float = 0  # shorter melodies are skipped (0 = no minimum)
    min_pitches: int = 1  # melodies with fewer distinct pitches are skipped
    max_gap_bars: float = 0  # a silence this long splits a melody in two (0 = never)
    max_steps: int = 4096  # longer melodies are cut (a run-away file must not fill memory)
    # Also read the chords under each melody (symbols, else found in the other parts), for
    # chord-conditioned models; a piece without any is skipped.
    chords: bool = False

    def __post_init__(self) -> None:
        if self.encoding in ("notes", "events") and isinstance(self.durations, str):
            with contextlib.suppress(ConfigError):  # validate() reports a bad value
                lengths = parse_durations(self.durations)
                self.steps_per_quarter = math.lcm(
                    self.steps_per_quarter, *(d.denominator for d in lengths)
                )

    @property
    def duration_set(self) -> list[Fraction]:
        return parse_durations(self.durations)

    def validate(self) -> None:
        _check(self.encoding in ENCODINGS, "encoding", self.encoding, " or ".join(ENCODINGS))
        _check(
            1 <= self.steps_per_quarter <= 48,
            "steps_per_quarter",
            self.steps_per_quarter,
            "between 1 and 48",
        )
        parse_durations(self.durations)
        _check(
            self.melody in MELODY_RULES
            or (self.melody.startswith("track:") and len(self.melody) > 6),
            "melody",
            self.melody,
            "highest-mean, skyline, auto, track:NAME or track:N",
        )
        lo_hi = self.pitch_range
        _check(
            len(lo_hi) == 2 and 0 <= lo_hi[0] < lo_hi[1] <= 127,
            "pitch_range",
            lo_hi,
            "two MIDI pitches, low then high",
        )
        _check(self.min_notes >= 1, "min_notes", self.min_notes, "at least 1")
        _check(self.min_bars >= 0, "min_bars", self.min_bars, ">= 0")
        _check(self.min_pitches >= 1, "min_pitches", self.min_pitches, "at least 1")
        _check(self.max_gap_bars >= 0, "max_gap_bars", self.max_gap_bars, ">= 0")
        _check(self.max_steps >= 16, "max_steps", self.max_steps, "at least 16")
        if self.chords:
            _check(
                self.encoding in ("steps", "notes"), "encoding", self.encoding,
                "steps or notes with --chords (a melody over chords)",
            )  # fmt: skip
            _check(
                self.melody != "skyline", "melody", self.melody,
                "a part, not the skyline, with --chords (the chords come from the others)",
            )  # fmt: skip


def check_grid(steps_per_quarter: int, encoding: str, durations: str) -> None:
    """A grid the user asked for is used or refused, never silently refined: ConfigError
    when it cannot hold the note lengths of the notes and events encodings."""
    if encoding not in ("notes", "events") or not isinstance(steps_per_quarter, int):
        return
    try:
        need = math.lcm(*(d.denominator for d in parse_durations(durations)))
    except ConfigError:  # validate() reports bad durations
        return
    if steps_per_quarter % need:
        raise ConfigError(
            f"--steps-per-quarter {steps_per_quarter} cannot hold the note lengths of "
            f"--durations (they need a multiple of {need}); use "
            f"{math.lcm(steps_per_quarter, need)} or leave it out"
        )


@dataclass
class ModelConfig(_Config):
    """The network's shape (the seeds' defaults).

    For the Transformer, ``hidden_size`` is the model width (its embedding is tied to the
    output layer, so ``embedding_dim`` is not used), ``num_layers`` the number of blocks.
    """

    kind: str = "lstm"  # lstm | gru | transformer
    embedding_dim: int = 128
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.3
    num_heads: int = 4  # transformer: attention heads (hidden_size must divide by it)
    context: int = 256  # transformer: positions a token attends to (itself included)
    positions: str = "rotary"  # transformer: rotary (relative) | learned (absolute)
    # metric position, bars left and the lookback tokens as inputs, and the copy head
    # (tunesmith.corpus.context); a run saved before they existed has none
    form: bool = True
    # with form: the time to the end in the last bar and the key's mode as inputs, so that a
    # melody can place its cadence (tunesmith.corpus.context); runs saved before have none
    cadence: bool = True
    # The chord sounding at each step as an input (a corpus prepared with --chords); needs
    # the form inputs, which carry it. None: as the corpus (training decides).
    chords: bool | None = None
    # Style labels the model tells apart (a corpus prepared with --style): 0 none; None: as
    # the corpus (training decides).
    styles: int | None = None

    def validate(self) -> None:
        _check(
            self.kind in ("lstm", "gru", "transformer"),
            "model",
            self.kind,
            "'lstm', 'gru' or 'transformer'",
        )
        _check(not self.chords or self.form, "chords", self.chords, "off without --form")
        _check(
            self.styles is None or (isinstance(self.styles, int) and 0 <= self.styles <= 256),
            "styles", self.styles, "a count of style labels, 0-256",
        )  # fmt: skip
        for name in ("embedding_dim", "hidden_size", "num_layers", "num_heads"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 1, name, value, "a whole number >= 1")
        _check(0.0 <= self.dropout < 1.0, "dropout", self.dropout, "in [0, 1)")
        _check(isinstance(self.context, int) and self.context >= 2, "context", self.context, ">= 2")
        _check(
            self.positions in ("rotary", "learned"),
            "positions",
            self.positions,
            "'rotary' or 'learned'",
        )
        _check(
            not (self.form and self.kind == "transformer" and self.positions == "learned"),
            "positions",
            self.positions,
            "'rotary' for a Transformer with form inputs (or train with --no-form)",
        )
        if self.kind == "transformer":
            head_dim = self.hidden_size // self.num_heads
            _check(
                self.hidden_size % self.num_heads == 0 and head_dim % 2 == 0,
                "hidden_size",
                self.hidden_size,
                f"a multiple of 2 x --num-heads ({self.num_heads})",
            )


@dataclass
class TrainConfig(_Config):
    """The optimisation: Adam, clipping, schedule, early stopping, checkpoints."""

    epochs: int = 50
    # 16 windows of 64 tokens are 1,024 targets a step (a tutorial's batch of 64 windows has 64
    # targets). On 300 Essen tunes, 2-core CPU, 90 s: batch 16 reaches 0.38 nats/token, batch 64
    # only 0.59 (more, smaller steps win while the corpus is small; see README).
    batch_size: int = 16
    sequence_length: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 1.0  # max gradient norm; 0 turns clipping off
    lr_schedule: str = "plateau"  # plateau | cosine | constant
    lr_factor: float = 0.5  # plateau: multiply the rate by this when validation stalls
    lr_patience: int = 1  # plateau: epochs without improvement before the rate drops
    early_stopping: int = 5  # stop after this many epochs without improvement; 0 = never
    val_fraction: float = 0.1  # share of pieces held out for validation
    seed: int = 0
    save_every: int = 0  # also checkpoint every N steps inside an epoch; 0 = epoch ends only
    time_limit: float = 0.0  # seconds; stop (and save) after this long; 0 = no limit
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    # batch_size windows make one step whatever the number of processes (torchrun); each
    # process splits its share into grad_accum micro-batches (less memory, same step).
    grad_accum: int = 1
    amp: bool = True  # CUDA only: bf16 autocast where supported, else fp16 with a scaler
    compile: bool = False  # CUDA only: torch.compile the model

    def validate(self) -> None:
        for name in ("epochs", "batch_size", "sequence_length", "grad_accum"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 1, name, value, "a whole number >= 1")
        _check(self.learning_rate > 0, "learning_rate", self.learning_rate, "positive")
        _check(self.grad_clip >= 0, "grad_clip", self.grad_clip, ">= 0")
        _check(
            self.lr_schedule in ("plateau", "cosine", "constant"),
            "lr_schedule",
            self.lr_schedule,
            "'plateau', 'cosine' or 'constant'",
        )
        _check(0 < self.lr_factor < 1, "lr_factor", self.lr_factor, "in (0, 1)")
        _check(0.0 < self.val_fraction < 0.9, "val_fraction", self.val_fraction, "in (0, 0.9)")
        _check(self.early_stopping >= 0, "early_stopping", self.early_stopping, ">= 0")
        _check(self.save_every >= 0, "save_every", self.save_every, ">= 0")
        _check(self.time_limit >= 0, "time_limit", self.time_limit, ">= 0")


def load_toml(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a TOML config with optional ``[model]`` and ``[train]`` tables."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    extra = sorted(set(data) - {"model", "train"})
    if extra:
        raise ConfigError(f"{path}: unknown table [{extra[0]}]; use [model] and [train]")
    return {k: dict(v) for k, v in data.items()}


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically: a crash leaves the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # a full disk: the old file stays, the half-written one goes
        tmp.unlink(missing_ok=True)
        raise write_failed(path, exc) from exc


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))
