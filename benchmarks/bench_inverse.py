"""Real-data evaluation of the inverse models on whatever the dataset holds (re-run as data grow).

    OMP_NUM_THREADS=1 nice -n 15 .venv/bin/python benchmarks/bench_inverse.py [--dataset PATH]
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


def _figures(report: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for target in ("valence", "charge"):
        entry = report["targets"].get(target, {})
        panels = [(s, entry[s]) for s in ("random", "cell") if "parity" in entry.get(s, {})]
        if not panels:
            continue
        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4), squeeze=False)
        for ax, (split, m) in zip(axes[0], panels):
            p = m["parity"]
            ax.scatter(p["train_true"], p["train_pred"], s=8, c="0.7", label="train")
            ax.errorbar(p["test_true"], p["test_pred"], yerr=p["test_std"], fmt="o", ms=4,
                        c="tab:orange", label="test")
            lo = min(p["train_true"] + p["test_true"]) - 0.3
            hi = max(p["train_true"] + p["test_true"]) + 0.3
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            ax.set(xlabel=f"true {target}", ylabel=f"predicted {target}",
                   title=f"{split} split: RMSE {m['rmse']:.3f}, R2 {m['r2']:.3f}\n"
                         f"n_train {m['n_train']}, n_test {m['n_test']} "
                         f"(baseline {m.get('baseline_rmse', float('nan')):.3f})")
            ax.title.set_fontsize(8)
            ax.legend(fontsize=7)
        fig.tight_layout()
        path = out / f"inverse_parity_{target}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path.name)
    rdf = report["targets"].get("rdf", {}).get("random", {})
    if "rdf_examples" in rdf:
        ex = rdf["rdf_examples"]
        r = np.asarray(ex["r"])
        n = len(ex["true"])
        fig, axes = plt.subplots(1, n + 1, figsize=(3 * (n + 1), 3))
        axes[0].plot(rdf["per_site_rmse_sorted"], "o-", ms=3)
        axes[0].set(xlabel="test site (sorted)", ylabel="RDF RMSE", title="sorted RMSE")
        for ax, t, p, s in zip(axes[1:], ex["true"], ex["pred"], ex["std"]):
            p, s = np.asarray(p), np.asarray(s)
            ax.plot(r, t, c="lightcoral", label="true")
            ax.plot(r, p, c="darkred", label="predicted")
            ax.fill_between(r, p - s, p + s, color="darkred", alpha=0.2)
            ax.set(xlabel="R (Angstrom)", ylabel="g(R)")
        axes[1].legend(fontsize=7)
        fig.tight_layout()
        path = out / "inverse_rdf.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path.name)
    for target in ("valence", "charge", "rdf"):
        rows = report["targets"].get(target, {}).get("windows")
        if not isinstance(rows, list):
            continue
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar([w["window"] for w in rows], [w["rmse"] for w in rows])
        ax.set(ylabel="test RMSE", title=f"{target}: energy windows (random split)")
        fig.tight_layout()
        path = out / f"inverse_windows_{target}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path.name)
    return written


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
    report["figures"] = _figures(report, out)
    (out / "inverse_results.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({"counts": report["dataset_counts"], "wall_seconds": report["wall_seconds"],
                      **{t: (e.get("refused") or {s: {k: e[s].get(k) for k in
                                                      ("rmse", "r2", "baseline_rmse", "n_train",
                                                       "n_test")} if isinstance(e.get(s), dict)
                                                  else None for s in ("random", "cell")})
                         for t, e in report["targets"].items()}}, indent=1, default=str))


if __name__ == "__main__":
    main()
