"""Real-data evaluation of the inverse models on whatever the dataset holds (re-run as data grow).

    OMP_NUM_THREADS=1 nice -n 15 .venv/bin/python benchmarks/inverse/bench_inverse.py [--dataset PATH]
        [--members 5] [--max-epochs 600] [--no-windows] [--out docs/figures]

Copies the dataset first (the campaign keeps writing the original), runs
:func:`amorphxas.inverse.evaluate_dataset` (valence, charge, rdf x random/cell split, averaged
spectra, windows a-h + low/high bands), writes ``inverse_results.json`` and, where a target was
trained, parity / RDF / window / averaged-spectrum figures ``inverse_*.png``. Targets with too few
sites are reported as refused, with the count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from amorphxas.dataset import embedded_path, info  # noqa: E402
from amorphxas.inverse import evaluate_dataset  # noqa: E402
from amorphxas.report.inverse_figures import plot_inverse  # noqa: E402


def timing(n_sites: int = 1000, epochs: int = 5) -> dict:
    """Seconds per epoch of the study-size networks on ``n_sites`` RANDOM arrays (shape only: this
    measures cost, not accuracy, and is no spectrum data), one thread, batch 128, one member."""
    from amorphxas.inverse import SpectrumToCharge, SpectrumToRDF

    rng = np.random.default_rng(0)
    X = rng.random((n_sites, 256))
    out = {"n_sites": n_sites, "epochs": epochs, "threads": 1}
    SpectrumToCharge(max_epochs=1, n_members=1, fit_baseline=False).fit(X[:20], X[:20, 0])  # warm-up
    for name, cls, y in (("charge_3x256", SpectrumToCharge, rng.random(n_sites)),
                         ("rdf_3x512", SpectrumToRDF, rng.random((n_sites, 256)))):
        t0 = time.perf_counter()
        cls(max_epochs=epochs, n_members=1, val_fraction=0.0, fit_baseline=False).fit(X, y)
        out[f"{name}_seconds_per_epoch"] = round((time.perf_counter() - t0) / epochs, 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(embedded_path()))
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--max-epochs", type=int, default=600)
    parser.add_argument("--no-windows", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/figures")
    parser.add_argument("--timing", action="store_true",
                        help="only measure seconds/epoch on random arrays; writes inverse_timing.json")
    args = parser.parse_args()
    if args.timing:
        result = timing()
        Path(args.out, "inverse_timing.json").write_text(json.dumps(result, indent=1))
        print(json.dumps(result, indent=1))
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "dataset_copy.h5"
        shutil.copyfile(args.dataset, copy)
        counts = info(copy)
        t0 = time.perf_counter()
        report = evaluate_dataset(copy, seed=args.seed, windows=not args.no_windows,
                                  n_members=args.members, max_epochs=args.max_epochs)
        report["wall_seconds"] = round(time.perf_counter() - t0, 1)
        report = json.loads(json.dumps(report).replace(str(copy), f"{args.dataset} (copy)"))
    report["dataset"] = args.dataset
    report["dataset_counts"] = {k: counts[k] for k in ("n_sites", "n_bader", "by_valence",
                                                       "by_composition", "n_cells")}
    report["settings"] = {"members": args.members, "max_epochs": args.max_epochs,
                          "threads": 1, "cores": os.cpu_count()}
    import torch

    report["torch"] = torch.__version__
    report["figures"] = [p.name for p in plot_inverse(report, out)]
    (out / "inverse_results.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({"counts": report["dataset_counts"], "wall_seconds": report["wall_seconds"],
                      **{t: (e.get("refused") or {s: {k: e[s].get(k) for k in
                                                      ("rmse", "r2", "baseline_rmse", "n_train",
                                                       "n_test")} if isinstance(e.get(s), dict)
                                                  else None for s in ("random", "cell")})
                         for t, e in report["targets"].items()}}, indent=1, default=str))


if __name__ == "__main__":
    main()
