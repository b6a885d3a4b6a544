"""The main job: dataset -> forward models -> large models -> inverse models -> report.

The pipeline is the list :data:`STAGES`; each stage (:mod:`amorphxas.pipeline.stages`) returns its
metrics and its report sections. Each runs on whatever the dataset holds; a stage with too little
data is reported as refused, with the reason, in ``metrics.json`` and in the report ("Not in this
report"), never filled in with anything made up. Bulky arrays go into ``arrays/*.npz`` beside
``metrics.json`` (:mod:`amorphxas.pipeline.arrays`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from amorphxas import __version__
from amorphxas.core.errors import AmorphxasError
from amorphxas.core.files import write_text_atomic
from amorphxas.dataset import Dataset
from amorphxas.pipeline import stages
from amorphxas.pipeline.arrays import externalise
from amorphxas.pipeline.stages import RunContext, StageResult
from amorphxas.pipeline.summary import _forward_rows, _inverse_rows, summary_rows, verdict

#: progress(done, total, name): called as each stage starts (done = stages finished) and once at
#: the end with done == total
Progress = Callable[[int, int, str], None]


def _always(ctx: RunContext) -> bool:
    return True


def _has_large_cells(ctx: RunContext) -> bool:
    from amorphxas.forward.large_cells import shipped_large_cells

    return bool(shipped_large_cells())


@dataclass(frozen=True)
class Stage:
    """One step of the run: ``run(ctx)`` -> :class:`StageResult`; skipped when ``applies(ctx)`` is
    false; the exceptions in ``refusable`` become a "not in this report" reason."""

    name: str
    run: Callable[[RunContext], StageResult]
    applies: Callable[[RunContext], bool] = _always
    refusable: tuple[type[BaseException], ...] = (AmorphxasError,)


STAGES: tuple[Stage, ...] = (
    Stage("dataset figures", stages.dataset_stage, refusable=()),
    Stage("forward models", stages.forward_stage),
    Stage("large models", stages.large_models_stage, applies=_has_large_cells),
    Stage("inverse models", stages.inverse_stage, refusable=(AmorphxasError, ImportError)),
    Stage("inverse models for measured spectra", stages.measured_stage,
          refusable=(AmorphxasError, ImportError)),
)


def _open(dataset: Path, out: Path, quick: bool) -> RunContext:
    """Open the dataset once (validated; a bad file raises a one-line DatasetError)."""
    data = Dataset.open(dataset)
    references = {}
    for name in ("diamond-si", "alpha-quartz"):
        try:
            references[name] = data.reference(name)
        except AmorphxasError:  # a dataset without that reference just lacks the curve
            continue
    return RunContext(dataset=Path(dataset), data=data, out=Path(out), quick=quick, summary=data.info(),
                      sites=data.sites, spectra=data.spectra(), references=references)


def run_pipeline(dataset: Path, out: Path, quick: bool = False, log=print,
                 progress: Progress | None = None) -> dict:
    """Run every stage of :data:`STAGES` on ``dataset`` into ``out`` (metrics.json, arrays/,
    figures/ with PNG + SVG, tables/, report.html); returns the metrics as saved.

    ``log`` is called with "<stage> ..." as each stage starts; ``progress`` (see :data:`Progress`)
    drives a progress bar."""
    from amorphxas.report.html import render

    start = time.perf_counter()
    ctx = _open(dataset, out, quick)
    ctx.figures.mkdir(parents=True, exist_ok=True)
    metrics: dict = {"amorphxas_version": __version__, "dataset": ctx.summary, "quick": quick}
    sections, missing = [], []
    todo = [stage for stage in STAGES if stage.applies(ctx)]
    total = len(todo) + 1  # + the report
    for done, stage in enumerate(todo):
        log(f"{stage.name} ...")
        if progress is not None:
            progress(done, total, stage.name)
        try:
            result = stage.run(ctx)
        except stage.refusable as exc:
            missing.append(f"{stage.name}: {exc}")
            continue
        metrics.update(result.metrics)
        sections.extend(result.sections)
        missing.extend(result.missing)
    log("report ...")
    if progress is not None:
        progress(total - 1, total, "report")
    metrics["missing"] = missing
    metrics["verdict"] = verdict(metrics)
    metrics["sections"] = sections
    metrics["seconds"] = time.perf_counter() - start
    slim = externalise(metrics, ctx.out)
    write_text_atomic(ctx.out / "metrics.json", json.dumps(slim, indent=1))
    render(ctx.out)
    if progress is not None:
        progress(total, total, "done")
    return slim


__all__ = ["STAGES", "Progress", "RunContext", "Stage", "StageResult", "_forward_rows",
           "_inverse_rows", "run_pipeline", "summary_rows", "verdict"]
