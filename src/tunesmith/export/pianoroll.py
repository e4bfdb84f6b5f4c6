"""Piano-roll pictures of melodies, drawn with matplotlib's Agg canvas."""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from tunesmith.files import write_atomically
from tunesmith.keys import pitch_name
from tunesmith.melody import Melody

DPI = 120
_HEIGHT = 3.5
_MIN_WIDTH, _MAX_WIDTH = 10.0, 24.0
_NOTE_COLOR = "#3b6ea8"
_NOTE_EDGE = "#1f3f66"
_BLACK_KEYS = {1, 3, 6, 8, 10}


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` as a PNG atomically: to a temporary file beside ``path``, then moved.

    :param fig: the figure; an Agg canvas is attached if it has none.
    :param path: the PNG to write; missing parent folders are created.
    :return: the path written.
    """
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    return write_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI))


def _pitch_ticks(low: int, high: int) -> list[int]:
    """The lowest and highest pitch, plus every C not crowding them."""
    ticks = {low, high}
    for pitch in range(low, high + 1):
        if pitch % 12 == 0 and all(abs(pitch - t) >= 3 or pitch == t for t in (low, high)):
            ticks.add(pitch)
    return sorted(ticks)


def _bar_step(bars: float) -> int:
    """How many bars apart to label the x axis so that labels do not crowd."""
    for step in (1, 2, 4, 8, 16, 32, 64):
        if bars / step <= 24:
            return step
    return 128


def write_pianoroll(melody: Melody, path: str | Path, *, title: str | None = None) -> Path:
    """Draw ``melody`` as a piano roll (:func:`pianoroll_figure`) and save it as a PNG."""
    return save_figure(pianoroll_figure(melody, title=title), path)


def pianoroll_png(melody: Melody, *, title: str | None = None) -> bytes:
    """The piano roll as PNG bytes, for a notebook or a web page."""
    buffer = io.BytesIO()
    pianoroll_figure(melody, title=title).savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def pianoroll_figure(melody: Melody, *, title: str | None = None) -> Figure:
    """Draw ``melody`` as a piano roll.

    Notes are bars on a grid of bar lines (beat lines fainter); the y axis names the
    lowest and highest pitch and every C. Long melodies get a wider picture, up to a cap.
    A melody without notes still gives a picture, which says so.

    :param melody: the melody to draw.
    :param title: the heading; defaults to the melody's name.
    """
    heading = melody.name if title is None else title
    spb = melody.steps_per_bar
    bars = max(melody.length, 1) / spb
    width = min(_MAX_WIDTH, max(_MIN_WIDTH, 0.4 * bars + 3.0))
    fig = Figure(figsize=(width, _HEIGHT), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if heading:
        ax.set_title(heading, loc="left", fontsize=11)
    details = []
    if melody.key is not None:
        details.append(melody.key.name)
    details.append("{}/{}".format(*melody.time_signature))
    details.append(f"{melody.tempo:g} bpm")
    ax.set_title(" · ".join(details), loc="right", fontsize=9, color="#555555")

    if not melody.notes:
        ax.text(0.5, 0.5, "no notes", ha="center", va="center", fontsize=14, color="#777777")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color("#cccccc")
        return fig

    low = min(melody.pitches)
    high = max(melody.pitches)
    pad = 2
    ax.set_ylim(low - pad - 0.5, high + pad + 0.5)
    ax.set_xlim(0, bars)

    for pitch in range(low - pad, high + pad + 1):
        if pitch % 12 in _BLACK_KEYS:
            ax.axhspan(pitch - 0.5, pitch + 0.5, color="#f4f4f4", zorder=0, linewidth=0)

    den = melody.time_signature[1]
    beat_steps = melody.steps_per_quarter * 4 / den if den > 0 else 0
    beats_per_bar = spb / beat_steps if beat_steps else 0
    if bars <= 64 and beats_per_bar > 1 and float(beats_per_bar).is_integer():
        for beat in range(1, int(bars * beats_per_bar) + 1):
            if beat % int(beats_per_bar):
                x = beat / beats_per_bar
                ax.axvline(x, color="#e4e4e4", linewidth=0.6, zorder=1)
    for bar in range(1, int(bars) + 1):
        ax.axvline(bar, color="#c8c8c8", linewidth=0.9, zorder=1)

    for note in melody.notes:
        ax.add_patch(
            Rectangle(
                (note.start / spb, note.pitch - 0.4),
                note.duration / spb,
                0.8,
                facecolor=_NOTE_COLOR,
                edgecolor=_NOTE_EDGE,
                linewidth=0.6,
                zorder=2,
            )
        )

    step = _bar_step(bars)
    positions = list(range(0, int(bars) + 1, step))
    if positions and positions[-1] >= bars:
        positions.pop()
    ax.set_xticks(positions, [str(p + 1) for p in positions])
    ax.set_xlabel("bar", fontsize=9)
    ticks = _pitch_ticks(low, high)
    ax.set_yticks(ticks, [pitch_name(p) for p in ticks])
    ax.tick_params(labelsize=8, length=2)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    return fig
