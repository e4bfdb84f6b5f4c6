"""The JSON the web API takes and gives; the ranges here are what OpenAPI documents."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tunesmith.make.copying import MAX_GUARD_BARS
from tunesmith.make.generate import MAX_LENGTH
from tunesmith.make.sample import MAX_ENDINGS
from tunesmith.web.studio import MAX_BARS


class GenerateRequest(BaseModel):
    """One melody to generate. Empty strings mean "not given"."""

    model_config = ConfigDict(extra="forbid")

    run: str = Field(..., max_length=100, description="A run's name, as GET /api/runs lists it.")
    bars: int = Field(
        8, ge=1, le=MAX_BARS, description="Length in bars of its metre (4/4 from seed notes)."
    )
    temperature: float = Field(0.9, gt=0, le=10, description="Below 1: safer; above 1: bolder.")
    top_k: int = Field(0, ge=0, le=MAX_LENGTH, description="Sample from the K likeliest (0: off).")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass (1: off).")
    endings: int | None = Field(
        None,
        ge=1,
        le=MAX_ENDINGS,
        description="The best of this many endings (form models; default 8, others 1).",
    )
    tempo: float = Field(120.0, ge=10, le=400, description="Beats per minute.")
    key: str | None = Field(
        None, max_length=20, description="Tonic to move the result to: G, 'F# minor', Bbm."
    )
    instrument: str = Field(
        "piano", min_length=1, max_length=40, description="General MIDI name or number."
    )
    seed_notes: str | None = Field(
        None,
        max_length=400,
        description="Start from these notes, as the CLI reads them: '60,62,64' or 'C4 D4 E4'.",
    )
    seed: int | None = Field(None, ge=0, lt=2**31, description="Random seed (none: drawn).")
    score: bool = Field(True, description="Also write MusicXML.")
    copy_guard: float = Field(
        2.0,
        ge=0,
        le=MAX_GUARD_BARS,
        description="Never copy this many bars verbatim from training (0: off).",
    )
    style: str | None = Field(
        None, max_length=40, description="A style run's style, one its RunInfo lists."
    )
    chords: str | None = Field(
        None,
        max_length=400,
        description="A chord run's chords, as the CLI reads them: 'C G Am F' (one a bar) or "
        "'C:2 G:2' (beats); repeated for the melody's length.",
    )

    @field_validator("key", "seed_notes", "chords", "style")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value if value and value.strip() else None


class RunInfo(BaseModel):
    name: str
    encoding: str | None = None
    model: str | None = None
    hidden_size: int | None = None
    num_layers: int | None = None
    parameters: int | None = None
    train_pieces: int | None = None
    epochs: int | None = None
    best_val_loss: float | None = None
    shipped: bool = False  # installed with tunesmith (tunesmith models), not in --runs
    chords: bool = False  # writes melodies over given chords (GenerateRequest.chords)
    styles: list[str] = []  # the styles GenerateRequest.style takes


class NoteOut(BaseModel):
    """A note as Web Audio plays it: MIDI pitch, start and length in seconds."""

    pitch: int
    name: str
    start: float
    duration: float


class Files(BaseModel):
    """Links to the files written; ``wav`` is null without FluidSynth, ``musicxml`` if not
    asked for."""

    midi: str
    pianoroll: str
    wav: str | None = None
    musicxml: str | None = None


class GenerateResponse(BaseModel):
    run: str
    seed: int
    summary: str
    key: str | None
    tempo: float
    time_signature: tuple[int, int] = Field(
        description="The metre, the opening's (4/4 from seed notes)."
    )
    seconds: float
    notes: list[NoteOut]
    files: Files
    warning: str | None = Field(None, description="Why there is no WAV, when there is none.")
    copy_guard: float = Field(
        0.0,
        description="The copy guard it was sampled under, in bars (0: none; a run that "
        "keeps no training tokens has none).",
    )
