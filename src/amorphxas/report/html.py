"""A self-contained HTML report (figures embedded as base64 PNG, no network) from a run directory.

The report renders what ``amorphxas run`` saved (``metrics.json``, ``figures/*.png`` with their
``.svg``); it computes nothing new. It opens with the verdict (:mod:`amorphxas.report.verdict`),
then one provenance block (dataset file, DFT protocol hash and settings, amorphxas version); each
figure caption says what is plotted and ends with the short data tag :func:`provenance`. Every
section table is also written as ``tables/<section>.csv`` (unrounded); the HTML tables are rounded.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import json
import re
from pathlib import Path

from amorphxas.core.errors import AmorphxasError
from amorphxas.core.files import atomic_open, write_text_atomic
from amorphxas.report.verdict import verdict_html

STYLE = """body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:1em 0;font-size:90%}td,th{border:1px solid #bbb;padding:3px 8px}
td{text-align:right}th{background:#eee}img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}
.note{color:#555;font-size:90%}#verdict{border:2px solid #0072B2;padding:0.2em 1.2em;margin:1em 0}
#verdict h2{margin-top:0.5em}#verdict li{margin:0.3em 0}.provenance{font-size:85%;color:#444}
figcaption{font-size:92%}"""


def _fmt(value) -> str:
    """Rounded for reading: energies (>= 100, eV) with 2 decimals, other floats with 3 significant
    digits, per-seed lists as one value (all equal) or a range, missing values as a dash."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        return f"{value:.2f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            lo, hi = min(value), max(value)
            return _fmt(lo) if lo == hi else f"{_fmt(lo)}-{_fmt(hi)}"
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p class='note'>(none)</p>"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_csv(rows: list[dict], path: Path) -> Path:
    """One section table as CSV (columns in first-seen order, unrounded values)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def protocol_hash(metrics: dict) -> str:
    """First 8 hex digits of the SHA-256 of the dataset's DFT settings (sorted JSON)."""
    settings = json.dumps(metrics.get("dataset", {}).get("settings", {}), sort_keys=True)
    return hashlib.sha256(settings.encode()).hexdigest()[:8]


def provenance(metrics: dict) -> str:
    """The data tag that ends every figure caption: 'Source: FILE, N DFT site spectra.' (the full
    provenance is the report's one provenance block, :func:`provenance_block`)."""
    dataset = metrics.get("dataset", {})
    name = Path(str(dataset.get("path", "?"))).name
    return f"Source: {name}, {dataset.get('n_sites', 0)} DFT site spectra."


def _setting(value) -> str:
    """A DFT setting for reading: vectors as '2 2 2', lists of vectors separated by ';'."""
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (list, tuple)) for v in value):
            return "; ".join(_setting(v) for v in value)
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_setting(v)}" for k, v in value.items())
    return str(value)


def provenance_block(metrics: dict) -> str:
    """Dataset file and counts, DFT engine, protocol hash and settings, amorphxas version, run time."""
    dataset = metrics.get("dataset", {})
    seconds = metrics.get("seconds")
    parts = [f"<div class='provenance'><h2>Provenance</h2><p>Dataset "
             f"<code>{html.escape(Path(str(dataset.get('path', '?'))).name)}</code>: "
             f"{dataset.get('n_sites', 0)} DFT site spectra in {dataset.get('n_cells', 0)} cells, "
             f"{dataset.get('n_bader', 0)} Bader charges; engine "
             f"{html.escape(str(dataset.get('engine', '')))}; DFT protocol {protocol_hash(metrics)}; "
             f"amorphxas {html.escape(str(metrics.get('amorphxas_version', '')))}"
             + (f"; run time {seconds:.0f} s" if isinstance(seconds, (int, float)) else "")
             + (" (quick mode)" if metrics.get("quick") else "") + ".</p>"]
    settings = dataset.get("settings", {})
    if settings:
        rows = [{"setting": k, "value": _setting(v)} for k, v in settings.items()]
        parts.append("<details><summary>DFT settings</summary>" + _table(rows) + "</details>")
    parts.append("</div>")
    return "\n".join(parts)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


def _figure(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    svg = path.with_suffix(".svg")
    link = (f" <a href='{html.escape(path.parent.name)}/{html.escape(svg.name)}'>SVG</a>"
            if svg.is_file() else "")
    return (f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{html.escape(caption)}{link}</figcaption></figure>")


def _counts(dataset: dict) -> str:
    by_valence = dataset.get("by_valence", {})
    by_x = dataset.get("by_composition", {})
    return ("<h2>Dataset</h2><p>Site spectra per valence and per composition x (SiO<sub>x</sub>).</p>"
            + _table([{"valence": "Si0" if k == "0" else f"Si{k}+", "site spectra": v}
                      for k, v in by_valence.items()])
            + _table([{"x": k, "site spectra": v} for k, v in by_x.items()]))


def render(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` from ``run_dir/metrics.json`` and ``run_dir/figures``."""
    run_dir = Path(run_dir)
    metrics_file = run_dir / "metrics.json"
    if not metrics_file.is_file():
        raise AmorphxasError(f"{run_dir}: no metrics.json; run `amorphxas run -o {run_dir}` first")
    try:
        metrics = json.loads(metrics_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AmorphxasError(f"{metrics_file}: not a metrics file ({exc})") from None
    dataset = metrics.get("dataset", {})
    parts = [f"<html><head><meta charset='utf-8'><title>amorphxas report</title>"
             f"<style>{STYLE}</style></head><body><h1>amorphxas report</h1>",
             verdict_html(metrics, Path(str(dataset.get("path", "?"))).name),
             provenance_block(metrics), _counts(dataset)]
    origin = provenance(metrics)
    for section in metrics.get("sections", []):
        parts.append(f"<h2>{html.escape(section['title'])}</h2>")
        if section.get("text"):
            parts.append(f"<p>{html.escape(section['text'])}</p>")
        if section.get("table"):
            table = write_csv(section["table"], run_dir / "tables" / f"{_slug(section['title'])}.csv")
            parts.append(_table(section["table"]))
            parts.append(f"<p class='note'>table as CSV (unrounded): <a href='tables/{table.name}'>"
                         f"tables/{html.escape(table.name)}</a></p>")
        for figure in section.get("figures", []):
            path = run_dir / figure["file"]
            if path.is_file():
                parts.append(_figure(path, f"{figure.get('caption', figure['file'])} {origin}"))
    missing = metrics.get("missing", [])
    if missing:
        parts.append("<h2>Not in this report</h2><ul>" +
                     "".join(f"<li>{html.escape(m)}</li>" for m in missing) + "</ul>")
    parts.append("</body></html>")
    out = run_dir / "report.html"
    write_text_atomic(out, "\n".join(parts))  # a kill mid-write leaves the old report
    return out
