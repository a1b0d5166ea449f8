"""``report.html``: one self-contained page per run, for people.

It shows the scoring files' metadata, the match table of every score and sampleset with its
pass/fail, the distribution of each computed score (a histogram, from :data:`MIN_PLOT_SAMPLES`
samples up), the sections other steps add (:class:`ReportSection`: the ancestry step's plots),
and the software versions and parameters of the run.

The page makes no request of any kind: its CSS is inline (allowed by its hash in the page's
Content-Security-Policy, which forbids everything else: scripts, fonts, images, frames, forms),
its plots are inline SVG drawn here, and no element carries a ``style`` attribute. Every text
from the inputs is HTML-escaped. Rendering is pure (:func:`render_report`); :func:`write_report`
is the one place that touches the disk.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from vatti.pipelines.pgs.report import SUMMARY_COLUMNS

#: A score's distribution is drawn for a sampleset of at least this many samples (pgsc_calc's
#: threshold for mean imputation: below it a histogram says little and may identify people).
MIN_PLOT_SAMPLES = 50
#: The packages whose versions the report lists.
PACKAGES = ("vatti", "numpy", "polars", "pgenlib", "cyvcf2", "zstandard")

_PALETTE = ("#1f6f8b", "#e07a1f", "#3a9d5d", "#b8405e", "#6c5ba7", "#8c6d31", "#2b8cbe")
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:72rem;padding:0 1rem;color:#1d2329;background:#fff;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2rem;
border-bottom:1px solid #d0d7de;padding-bottom:.3rem}h3{font-size:1.05rem}
.muted{color:#57606a}table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.88rem}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#116329;font-weight:600}.fail{color:#a40e26;font-weight:600}
.badge{display:inline-block;padding:0 .4rem;border-radius:.6rem;font-size:.8rem}
.badge.pass{background:#dafbe1}.badge.fail{background:#ffebe9}
.plots{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0;border:1px solid #d0d7de;
padding:.5rem;border-radius:.3rem;max-width:390px}figcaption{font-size:.85rem;color:#57606a}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem;font-size:.9rem}
dl.meta dt{font-weight:600}dl.meta dd{margin:0}.scorefile{margin-bottom:1rem}
.overflow{overflow-x:auto}tr.failed td{background:#fff5f5}
"""


@dataclass(frozen=True)
class ScoreFileInfo:
    """What the report says of one scoring file."""

    accession: str
    file_name: str
    header: Mapping[str, str]
    n_variants: int
    dropped: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportSection:
    """A section a later step adds to the report (the ancestry step: its PCA and population
    plots, see :func:`scatter_svg`). ``html`` is trusted markup built by vatti itself (escape
    any input text with :func:`html.escape`): no scripts, no ``style`` attributes, no links to
    other resources, or the page's Content-Security-Policy blocks them."""

    title: str
    html: str


@dataclass(frozen=True)
class ReportInputs:
    """Everything the page shows."""

    scorefiles: Sequence[ScoreFileInfo]
    summary: pl.DataFrame
    #: the computed scores (``sampleset``, ``IID``, ``PGS``, ``SUM``, ...); empty when none passed
    scores: pl.DataFrame
    parameters: Mapping[str, object]
    sections: Sequence[ReportSection] = ()
    versions: Mapping[str, str] = field(default_factory=lambda: software_versions())


def software_versions() -> dict[str, str]:
    """The Python and package versions the run used."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high].

    >>> _nice_ticks(0.0, 1.0)
    [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
    """
    if not high > low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [k * step for k in range(first, last + 1)]


def _tick_label(value: float) -> str:
    return f"{value:.4g}"


_W, _H = 380, 230
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 12, 14, 40


def histogram_svg(values: npt.NDArray[np.float64], label: str) -> str:
    """An inline SVG histogram of ``values`` (NaN left out), with axes and ticks."""
    data = values[np.isfinite(values)]
    bins = int(min(40, max(10, round(math.sqrt(data.size)))))
    low, high = float(data.min()), float(data.max())
    if high == low:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(data, bins=bins, range=(low, high))
    peak = int(counts.max())
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(value: float) -> float:
        return _LEFT + (value - low) / (high - low) * plot_w

    def y(count: float) -> float:
        return _TOP + plot_h - count / peak * plot_h

    parts = [
        f'<svg class="histogram" xmlns="http://www.w3.org/2000/svg" width="{_W}" '
        f'height="{_H}" viewBox="0 0 {_W} {_H}" role="img" aria-label="{_e(label)}">'
    ]
    for count, left, right in zip(counts, edges[:-1], edges[1:], strict=True):
        if count:
            parts.append(
                f'<rect class="bar" x="{x(left):.2f}" y="{y(count):.2f}" '
                f'width="{max(x(right) - x(left) - 0.6, 0.5):.2f}" '
                f'height="{_TOP + plot_h - y(count):.2f}" fill="{_PALETTE[0]}" '
                f'data-count="{int(count)}"/>'
            )
    parts.append(_axes(low, high, 0.0, float(peak), x, y, "SUM", "samples", integer_y=True))
    parts.append("</svg>")
    return "".join(parts)


def _axes(
    x_low: float,
    x_high: float,
    y_low: float,
    y_high: float,
    x: Callable[[float], float],
    y: Callable[[float], float],
    x_label: str,
    y_label: str,
    *,
    integer_y: bool = False,
) -> str:
    bottom, right = _H - _BOTTOM, _W - _RIGHT
    out = [
        f'<line x1="{_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#57606a"/>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}" stroke="#57606a"/>',
    ]
    for tick in _nice_ticks(x_low, x_high):
        at = x(tick)
        out.append(
            f'<line x1="{at:.2f}" y1="{bottom}" x2="{at:.2f}" y2="{bottom + 4}" '
            f'stroke="#57606a"/><text x="{at:.2f}" y="{bottom + 16}" font-size="10" '
            f'text-anchor="middle" fill="#1d2329">{_e(_tick_label(tick))}</text>'
        )
    y_ticks = _nice_ticks(y_low, y_high)
    if integer_y:
        y_ticks = sorted({round(t) for t in y_ticks})
    for tick in y_ticks:
        at = y(tick)
        out.append(
            f'<line x1="{_LEFT - 4}" y1="{at:.2f}" x2="{_LEFT}" y2="{at:.2f}" stroke="#57606a"/>'
            f'<text x="{_LEFT - 6}" y="{at + 3:.2f}" font-size="10" text-anchor="end" '
            f'fill="#1d2329">{_e(_tick_label(tick))}</text>'
        )
    out.append(
        f'<text x="{(_LEFT + right) / 2:.1f}" y="{_H - 6}" font-size="11" text-anchor="middle" '
        f'fill="#1d2329">{_e(x_label)}</text>'
        f'<text x="12" y="{(_TOP + bottom) / 2:.1f}" font-size="11" text-anchor="middle" '
        f'fill="#1d2329" transform="rotate(-90 12 {(_TOP + bottom) / 2:.1f})">'
        f"{_e(y_label)}</text>"
    )
    return "".join(out)


#: How the emphasised group of a scatter plot is drawn: dark rings, the points below visible.
_RING = 'fill="none" stroke="#1d2329" stroke-width="0.7" stroke-opacity="0.8"'


def scatter_svg(
    x_values: Sequence[float],
    y_values: Sequence[float],
    groups: Sequence[str],
    x_label: str,
    y_label: str,
    *,
    emphasised: str | None = None,
) -> str:
    """An inline SVG scatter plot, one colour per group with a legend (the ancestry step's PC
    plots: reference samples by population, targets as their own group). The points of the
    ``emphasised`` group are drawn last, larger and outlined."""
    xs, ys = np.asarray(x_values, dtype=float), np.asarray(y_values, dtype=float)
    names = list(dict.fromkeys(groups))
    x_low, x_high = float(np.nanmin(xs)), float(np.nanmax(xs))
    y_low, y_high = float(np.nanmin(ys)), float(np.nanmax(ys))
    x_high = x_high if x_high > x_low else x_low + 1
    y_high = y_high if y_high > y_low else y_low + 1
    plot_w, plot_h = _W - _LEFT - _RIGHT - 70, _H - _TOP - _BOTTOM

    def x(value: float) -> float:
        return _LEFT + (value - x_low) / (x_high - x_low) * plot_w

    def y(value: float) -> float:
        return _TOP + plot_h - (value - y_low) / (y_high - y_low) * plot_h

    parts = [
        f'<svg class="scatter" xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img" aria-label="{_e(y_label)} by {_e(x_label)}">'
    ]
    later = []
    for px, py, group in zip(xs, ys, groups, strict=True):
        if np.isfinite(px) and np.isfinite(py):
            colour = _PALETTE[names.index(group) % len(_PALETTE)]
            if group == emphasised:
                later.append(
                    f'<circle class="emphasised" cx="{x(px):.2f}" cy="{y(py):.2f}" r="2.4" '
                    f"{_RING}/>"
                )
            else:
                parts.append(
                    f'<circle cx="{x(px):.2f}" cy="{y(py):.2f}" r="2" fill="{colour}" '
                    f'fill-opacity="0.7"/>'
                )
    parts.extend(later)
    parts.append(_axes(x_low, x_high, y_low, y_high, x, y, x_label, y_label))
    for k, name in enumerate(names):
        top = _TOP + 4 + 14 * k
        marker = _RING if name == emphasised else f'fill="{_PALETTE[k % len(_PALETTE)]}"'
        short = name if len(name) <= 11 else name[:10] + "\u2026"
        parts.append(
            f'<circle cx="{_W - 74}" cy="{top}" r="4" {marker}/>'
            f'<text x="{_W - 66}" y="{top + 4}" font-size="10" fill="#1d2329">{_e(short)}'
            f"<title>{_e(name)}</title></text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _cell(name: str, value: object) -> str:
    if isinstance(value, bool):
        word, css = ("passed", "pass") if value else ("failed", "fail")
        return f'<td data-col="{name}"><span class="badge {css}">{word}</span></td>'
    if isinstance(value, float):
        return f'<td class="num" data-col="{name}">{value:.6g}</td>'
    if isinstance(value, int):
        return f'<td class="num" data-col="{name}">{value}</td>'
    return f'<td data-col="{name}">{_e("" if value is None else value)}</td>'


#: The match table's first columns: the verdict before the counts behind it.
_FIRST_COLUMNS = ("sampleset", "accession", "passed", "match_rate", "min_overlap")


def _summary_table(summary: pl.DataFrame) -> str:
    present = [c for c in summary.columns if c in SUMMARY_COLUMNS]
    columns = [c for c in _FIRST_COLUMNS if c in present]
    columns += [c for c in present if c not in columns]
    head = "".join(
        f'<th scope="col" title="{_e(SUMMARY_COLUMNS[c])}">{_e(c)}</th>' for c in columns
    )
    rows = []
    for row in summary.iter_rows(named=True):
        cells = "".join(_cell(c, row[c]) for c in columns)
        verdict = "passed" if row["passed"] else "failed"
        rows.append(
            f'<tr class="{verdict}" data-sampleset="{_e(row["sampleset"])}" '
            f'data-accession="{_e(row["accession"])}">{cells}</tr>'
        )
    return (
        '<div class="overflow"><table class="summary"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


#: Header keys shown for a scoring file, in this order, with their label.
_HEADER_KEYS = {
    "pgs_name": "name",
    "trait_reported": "trait reported",
    "trait_mapped": "trait mapped",
    "trait_efo": "trait EFO",
    "genome_build": "genome build",
    "HmPOS_build": "harmonized build",
    "weight_type": "weight type",
    "variants_number": "variants (header)",
    "pgp_id": "publication",
    "citation": "citation",
    "license": "licence",
}


def _scorefile_block(info: ScoreFileInfo) -> str:
    items = [("accession", info.accession), ("file", info.file_name)]
    items += [
        (label, info.header[key]) for key, label in _HEADER_KEYS.items() if key in info.header
    ]
    items.append(("variants read", str(info.n_variants)))
    for reason, count in info.dropped.items():
        items.append((f"rows dropped ({reason})", str(count)))
    body = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    return (
        f'<div class="scorefile" data-accession="{_e(info.accession)}">'
        f"<h3>{_e(info.accession)}</h3>"
        f'<dl class="meta">{body}</dl></div>'
    )


def _distributions(scores: pl.DataFrame, summary: pl.DataFrame) -> str:
    if scores.height == 0:
        return '<p class="muted">No score was computed.</p>'
    figures, notes = [], []
    for (sampleset, pgs), group in scores.group_by("sampleset", "PGS", maintain_order=True):
        values = group["SUM"].cast(pl.Float64).to_numpy()
        label = f"{pgs} in {sampleset}"
        if group.height < MIN_PLOT_SAMPLES:
            notes.append(
                f"<li>{_e(label)}: {group.height} samples, fewer than {MIN_PLOT_SAMPLES}: "
                "no distribution shown</li>"
            )
            continue
        finite = values[np.isfinite(values)]
        if finite.size < MIN_PLOT_SAMPLES:
            notes.append(f"<li>{_e(label)}: {finite.size} samples with a score: no plot</li>")
            continue
        stats = (
            f"n = {finite.size}, mean {finite.mean():.4g}, SD {finite.std(ddof=1):.4g}, "
            f"range {finite.min():.4g} to {finite.max():.4g}"
        )
        figures.append(
            f'<figure data-sampleset="{_e(sampleset)}" data-accession="{_e(pgs)}">'
            f"{histogram_svg(values, label)}<figcaption><strong>{_e(label)}</strong>: "
            f"{_e(stats)}</figcaption></figure>"
        )
    out = f'<div class="plots">{"".join(figures)}</div>' if figures else ""
    if notes:
        out += f"<ul>{''.join(notes)}</ul>"
    failed = summary.filter(~pl.col("passed"))
    if failed.height:
        out += (
            '<p class="muted">Not computed (failed): '
            + _e(
                ", ".join(
                    f"{r['accession']} in {r['sampleset']}" for r in failed.iter_rows(named=True)
                )
            )
            + ".</p>"
        )
    return out


def _key_values(table_class: str, values: Mapping[str, object]) -> str:
    rows = "".join(
        f'<tr><th scope="row">{_e(k)}</th><td data-key="{_e(k)}">{_e(v)}</td></tr>'
        for k, v in values.items()
    )
    return f'<table class="{table_class}"><tbody>{rows}</tbody></table>'


def content_security_policy() -> str:
    """The page's policy: nothing but its own inline stylesheet."""
    digest = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'none'; "
        "script-src 'none'; base-uri 'none'; form-action 'none'"
    )


def render_report(inputs: ReportInputs) -> str:
    """The whole page, as text."""
    summary = inputs.summary
    n_failed = int((~summary["passed"]).sum()) if summary.height else 0
    n_passed = summary.height - n_failed
    samplesets = list(dict.fromkeys(summary["sampleset"].to_list()))
    overview = (
        f'<p class="overview">{n_passed} score(s) <span class="pass">passed</span> and '
        f'{n_failed} <span class="fail">failed</span> in {len(samplesets)} sampleset(s): '
        f"{_e(', '.join(samplesets))}.</p>"
    )
    sections = [
        ("Scoring files", "".join(_scorefile_block(f) for f in inputs.scorefiles)),
        (
            "Variant matching",
            '<p class="muted">One row per sampleset and score; hover a column name for its '
            "meaning. A score below min_overlap fails and is not computed.</p>"
            + _summary_table(summary),
        ),
        ("Score distributions", _distributions(inputs.scores, summary)),
        *((s.title, s.html) for s in inputs.sections),
        ("Parameters", _key_values("parameters", inputs.parameters)),
        ("Software", _key_values("versions", inputs.versions)),
    ]
    body = "".join(
        f'<section id="{_e(_slug(title))}"><h2>{_e(title)}</h2>{content}</section>'
        for title, content in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(content_security_policy())}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Polygenic score report</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>Polygenic score report</h1>"
        f"{overview}{body}</body></html>\n"
    )


def _slug(title: str) -> str:
    return "-".join(title.lower().split())


def write_report(path: Path, inputs: ReportInputs) -> Path:
    """Write the page to ``path``."""
    path.write_text(render_report(inputs), encoding="utf-8")
    return path
