"""The evaluation's report as files: ``report.json``, ``report.md`` and its pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunesmith.config import write_json


def write_report(report: dict[str, Any], out: str | Path) -> Path:
    """``report.json``, ``report.md`` and ``features.png`` in ``out``."""
    from tunesmith.export.plots import plot_features, plot_self_similarity

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "report.json", report)
    plot_features(
        {k: (v["generated"], v["held_out"]) for k, v in report["features"].items()},
        out / "features.png",
    )
    if report.get("form", {}).get("self_similarity"):
        plot_self_similarity(
            {f"{k}: bars against bars": v for k, v in report["form"]["self_similarity"].items()},
            out / "form.png",
        )
    (out / "report.md").write_text(report_markdown(report), encoding="utf-8")
    return out


def report_markdown(report: dict[str, Any]) -> str:
    p = report["prediction"]
    lines = [
        f"# Evaluation of {report['run']}",
        "",
        f"Held-out data: {p['tokens']:,} tokens of {report['data']}.",
        "",
        "| | loss (nats) | accuracy | share of tokens |",
        "|---|---|---|---|",
        f"| all tokens | {p['loss']:.4f} (perplexity {p['perplexity']:.3f}) | "
        f"{p['accuracy']:.3f} | 1.000 |",
    ]
    for name in ("onset", "hold", "rest"):
        if f"{name}_loss" in p:
            lines.append(
                f"| {name}s | {p[f'{name}_loss']:.4f} | {p[f'{name}_accuracy']:.3f} | "
                f"{p[f'{name}_share']:.3f} |"
            )
    lines += [
        f"| reference: always hold | | {p['always_hold_accuracy']:.3f} | |",
        f"| reference: bigram | | {p['bigram_accuracy']:.3f} | |",
        "",
        "Generated vs held-out melodies (overlap of histograms; 1 = identical). The "
        "reference is held-out vs training, what a perfect model would reach.",
        "",
        "| feature | overlap | reference | share of reference | KL(held-out ‖ generated) |",
        "|---|---|---|---|---|",
    ]
    for name, f in report["features"].items():
        lines.append(
            f"| {name} | {f['overlap']:.3f} | {f['reference_overlap']:.3f} | "
            f"{f['share_of_reference']:.0%} | {f['kl']:.3f} |"
        )
    c = report["copying"]
    guard = report.get("settings", {}).get("copy_guard_bars", 0)
    how = f"sampled under a copy guard of {guard:g} bars" if guard else "no copy guard"
    lines += [
        "",
        f"Copying ({how}): longest run shared with a training piece {c['max_bars']:.1f} bars "
        f"(mean {c['mean_bars']:.2f}); samples copying two bars or more: "
        f"{c['share_two_bars']:.0%}; held-out pieces doing the same (the reference): "
        f"{c['reference_share_two_bars']:.0%}.",
        "",
        "![features](features.png)",
        "",
    ]
    if "form" in report:
        lines += form_markdown(report["form"])
    return "\n".join(lines)


def form_markdown(form: dict[str, Any]) -> list[str]:
    """The form table: bar repeats and endings, generated beside held-out pieces."""
    lines = [
        "Form, in each melody's own metre: the share of bars that repeat the bar LAG bars "
        "before them (mean over bars: generated / held-out / training), and the overlap of "
        "the per-melody histograms as above.",
        "",
        "| statistic | generated | held-out | training | overlap | reference | share of ref. |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, f in form.items():
        if "means" not in f:
            continue
        g, h, t = f["means"]
        lines.append(
            f"| {name} | {g:.3f} | {h:.3f} | {t:.3f} | {f['overlap']:.3f} | "
            f"{f['reference_overlap']:.3f} | {f['share_of_reference']:.0%} |"
        )
    e = form["endings"]
    lines += [
        f"| endings (tonic, strong beat) | {e['on_tonic_strong'][0]:.3f} | "
        f"{e['on_tonic_strong'][1]:.3f} | | {e['overlap']:.3f} | {e['reference_overlap']:.3f} | "
        f"{e['share_of_reference']:.0%} |",
        f"| ends on the tonic | {e['on_tonic'][0]:.3f} | {e['on_tonic'][1]:.3f} | | | | |",
        "",
        "![self-similarity](form.png)",
        "",
    ]
    return lines
