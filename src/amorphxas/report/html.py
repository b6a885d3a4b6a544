"""A self-contained HTML report (figures embedded as base64 PNG, no network) from a run directory.

The report renders what ``amorphxas run`` saved (``metrics.json`` and ``figures/*.png``); it
computes nothing new. Every section table is also written as ``tables/<section>.csv``, and every
figure caption ends with the dataset's provenance (file, spectra count, DFT protocol hash).
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
from amorphxas.core.files import write_text_atomic

STYLE = """body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:90%}td,th{border:1px solid #bbb;padding:3px 8px}
th{background:#eee}img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}
.note{color:#555;font-size:90%}"""


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p class='note'>(none)</p>"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(row.get(c, '')))}</td>" for c in columns) + "</tr>"
        for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value) -> str:
    """Floats with 4 significant digits, but energies (>= 100, eV) with 2 decimals."""
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) >= 100 else f"{value:.4g}"
    return str(value)


def write_csv(rows: list[dict], path: Path) -> Path:
    """One section table as CSV (columns in first-seen order, unrounded values)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def provenance(metrics: dict) -> str:
    """'dataset FILE: N site spectra, DFT protocol HASH, amorphxas VERSION' for captions."""
    dataset = metrics.get("dataset", {})
    settings = json.dumps(dataset.get("settings", {}), sort_keys=True)
    return (f"dataset {Path(str(dataset.get('path', '?'))).name}: {dataset.get('n_sites', 0)} site "
            f"spectra, DFT protocol {hashlib.sha256(settings.encode()).hexdigest()[:8]}, amorphxas "
            f"{metrics.get('amorphxas_version', '?')}")


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


def _figure(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption class='note'>{html.escape(caption)}</figcaption></figure>")


def render(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` from ``run_dir/metrics.json`` and ``run_dir/figures``."""
    run_dir = Path(run_dir)
    metrics_file = run_dir / "metrics.json"
    if not metrics_file.is_file():
        raise AmorphxasError(f"{run_dir}: no metrics.json; run `amorphxas run --out {run_dir}` first")
    metrics = json.loads(metrics_file.read_text())
    parts = [f"<html><head><meta charset='utf-8'><title>amorphxas report</title>"
             f"<style>{STYLE}</style></head><body><h1>amorphxas report</h1>"]
    dataset = metrics.get("dataset", {})
    parts.append("<h2>Dataset</h2>")
    parts.append(f"<p>{dataset.get('n_sites', 0)} DFT site spectra in {dataset.get('n_cells', 0)} "
                 f"cells, {dataset.get('n_bader', 0)} Bader charges; engine: "
                 f"{html.escape(str(dataset.get('engine', '')))}; amorphxas "
                 f"{html.escape(str(metrics.get('amorphxas_version', '')))}.</p>")
    parts.append(_table([{"valence": f"Si{k}+", "sites": v}
                         for k, v in dataset.get("by_valence", {}).items()]))
    parts.append(_table([{"x": k, "sites": v} for k, v in dataset.get("by_composition", {}).items()]))
    settings = dataset.get("settings", {})
    if settings:
        parts.append("<details><summary>DFT settings</summary>" + _table([settings]) + "</details>")
    origin = provenance(metrics)
    for section in metrics.get("sections", []):
        parts.append(f"<h2>{html.escape(section['title'])}</h2>")
        if section.get("text"):
            parts.append(f"<p>{html.escape(section['text'])}</p>")
        if section.get("table"):
            table = write_csv(section["table"], run_dir / "tables" / f"{_slug(section['title'])}.csv")
            parts.append(_table(section["table"]))
            parts.append(f"<p class='note'>table as CSV: <a href='tables/{table.name}'>"
                         f"tables/{html.escape(table.name)}</a></p>")
        for figure in section.get("figures", []):
            path = run_dir / figure["file"]
            if path.is_file():
                parts.append(_figure(path, f"{figure.get('caption', figure['file'])}. {origin}"))
    missing = metrics.get("missing", [])
    if missing:
        parts.append("<h2>Not in this report</h2><ul>" +
                     "".join(f"<li>{html.escape(m)}</li>" for m in missing) + "</ul>")
    parts.append("</body></html>")
    out = run_dir / "report.html"
    write_text_atomic(out, "\n".join(parts))  # a kill mid-write leaves the old report
    return out
