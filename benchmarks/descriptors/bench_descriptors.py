"""Descriptor benchmark: Table-I-like dimensions (before/after PCA), time and peak memory per 1,000 Si
sites, large replicated cells, and the PCA map of Si sites coloured by valence.

Run single-threaded and niced (the machine shares its 2 cores with a DFT campaign)::

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 nice -n 15 \
        .venv/bin/python benchmarks/descriptors/bench_descriptors.py

Each descriptor runs in its own child process so that its peak resident memory (VmHWM, minus the
resident size after imports and setup) is measured alone. Sites: every Si of
``runs/cells/*.extxyz`` (the ~100-atom SiOx cells) plus the two crystal references.
Large cells: a 100-atom cell replicated 3x3x3 (2,700 atoms) and 5x5x4 (10,000 atoms).
Writes ``benchmarks/descriptors/results_descriptors.json`` and ``docs/figures/descriptors_pca_<kind>.png``.
"""

from __future__ import annotations

import argparse
import glob
import json
import multiprocessing as mp
import os
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _load_sites(cell_glob: str):
    from amorphxas.sites import analyse
    from amorphxas.structures import build_reference, read_structure

    cells = []
    for path in sorted(glob.glob(cell_glob)):
        try:
            cells.append((Path(path).stem, read_structure(path)))
        except Exception as exc:  # noqa: BLE001 - skip a cell being written right now
            print(f"skip {path}: {exc}")
    cells += [(name, build_reference(name)) for name in ("alpha-quartz", "diamond-si")]
    valence, label = [], []
    for name, atoms in cells:
        a = analyse(atoms, with_rdf=False)
        valence.append(a.valence)
        label += [name] * len(a.valence)
    return cells, np.concatenate(valence), np.array(label)


def _child(kind, preset, structures, queue, keep_x):
    try:
        from amorphxas.descriptors import get_descriptor

        desc = get_descriptor(kind, preset)
        desc.compute(structures[-1], [0]) if len(structures[-1]) < 200 else None  # warm-up
        # peak resident memory: the parent samples this process's VmRSS every ~2 ms between
        # the "start" message and the result (VmHWM cannot be reset in every container, and a
        # sampling thread here would be blocked by backends that hold the GIL)
        queue.put({"start": _rss_kib("VmRSS")})
        t0 = time.perf_counter()
        X = desc.compute(structures)
        elapsed = time.perf_counter() - t0
        queue.put({"X": X if keep_x else None, "shape": X.shape, "seconds": elapsed,
                   "params": desc.parameters(), "end_rss": _rss_kib("VmRSS")})
    except Exception as exc:  # noqa: BLE001
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


def _proc_rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_child(kind, preset, structures, keep_x=True):
    """Compute in a forked child; return its result with ``peak_mib`` (RSS peak above start)."""
    import queue as queue_module

    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(kind, preset, structures, queue, keep_x))
    proc.start()
    first = queue.get()
    if "error" in first:
        proc.join()
        raise RuntimeError(f"{kind}: {first['error']}")
    base = peak = first["start"]
    while True:
        try:
            out = queue.get(timeout=0.002)
            break
        except queue_module.Empty:
            peak = max(peak, _proc_rss_kib(proc.pid))
    proc.join()
    if "error" in out:
        raise RuntimeError(f"{kind}: {out['error']}")
    out["peak_mib"] = max(peak, out["end_rss"]) / 1024 - base / 1024
    return out


def pca_figure(kind, Z, ratio, valence, label, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.6), dpi=130)
    top = max(4, int(valence.max()))
    cmap = plt.get_cmap("viridis", top + 1)
    sc = ax.scatter(Z[:, 0], Z[:, 1] if Z.shape[1] > 1 else np.zeros(len(Z)), c=valence,
                    cmap=cmap, vmin=-0.5, vmax=top + 0.5, s=9, edgecolors="none")
    cb = fig.colorbar(sc, ax=ax, ticks=range(top + 1))
    y = Z[:, 1] if Z.shape[1] > 1 else np.zeros(len(Z))
    for name, marker in (("diamond-si", "D"), ("alpha-quartz", "*")):
        sel = label == name
        if sel.any():
            ax.scatter(Z[sel, 0][:1], y[sel][:1], marker=marker, s=90, facecolors="none",
                       edgecolors="red", linewidths=1.2, label=name)
    ax.legend(loc="best", fontsize=7, frameon=False)
    cb.set_label("Si valence (O neighbours)")
    r2 = ratio[1] if len(ratio) > 1 else 0.0
    ax.set_xlabel(f"PC1 ({100 * ratio[0]:.1f} %)")
    ax.set_ylabel(f"PC2 ({100 * r2:.1f} %)")
    ax.set_title(kind)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    from amorphxas.descriptors import KINDS, TABLE_I, fit_pca

    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", default=str(ROOT / "runs" / "cells" / "*.extxyz"))
    parser.add_argument("--preset", default="study1")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--large-kinds",
                        default="soap-gto,soap-poly,soap-featomic,lmbtr,snap,qsnap,acsf-fast")
    parser.add_argument("--large", default="3x3x3,5x5x4")
    parser.add_argument("--out", default=str(HERE / "results_descriptors.json"))
    parser.add_argument("--figures", default=str(ROOT / "docs" / "figures"))
    args = parser.parse_args()

    cells, valence, label = _load_sites(args.cells)
    structures = [a for _, a in cells]
    n_site = len(valence)
    print(f"{len(cells)} cells, {n_site} Si sites, valence counts {np.bincount(valence, minlength=5)}")
    # merge into an existing result file (re-running a subset keeps the other rows)
    results = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    results.setdefault("kinds", {})
    results.setdefault("large", {})
    if args.kinds:
        results.update({"n_cells": len(cells), "cells": [n for n, _ in cells],
                        "n_si_sites": int(n_site), "preset": args.preset,
                        "valence_counts": np.bincount(valence, minlength=5).tolist()})
    Path(args.figures).mkdir(parents=True, exist_ok=True)
    for kind in [k for k in args.kinds.split(",") if k]:
        out = run_child(kind, args.preset, structures)
        X = out["X"]
        pipe = fit_pca(X, 0.999, parameters=out["params"])
        Z = pipe.transform(X)
        amorphous = ~np.isin(label, ["alpha-quartz", "diamond-si"])
        pipe_a = fit_pca(X[amorphous], 0.999) if amorphous.sum() > 2 else None
        pca_figure(kind, Z, pipe.explained_variance_ratio, valence, label,
                   Path(args.figures) / f"descriptors_pca_{kind}.png")
        row = {"before": int(X.shape[1]), "after": pipe.n_components,
               "after_amorphous_only": pipe_a.n_components if pipe_a else None,
               "table_i_before": TABLE_I.get(kind), "seconds": out["seconds"],
               "seconds_per_1000_si": 1000 * out["seconds"] / n_site, "peak_mib": out["peak_mib"],
               "pc1_pc2_variance": [float(v) for v in pipe.explained_variance_ratio[:2]]}
        results["kinds"][kind] = row
        print(kind, json.dumps(row))

    # the study's large model is a-SiO: replicate the x = 1.00 cell if there is one
    src = next((a for n, a in cells if "x1.00" in n),
               next((a for n, a in cells if n.startswith("siox")), structures[0]))
    for rep in [r for r in args.large.split(",") if r]:
        reps = tuple(int(v) for v in rep.split("x"))
        big = src.repeat(reps)
        n_si = int((big.numbers == 14).sum())
        for spec in [k for k in args.large_kinds.split(",") if k]:
            kind, preset = (spec[:-5], "fast") if spec.endswith("-fast") else (spec, args.preset)
            out = run_child(kind, preset, [big], keep_x=False)
            key = f"{kind}[{preset}]@{len(big)}"
            results["large"][key] = {"atoms": len(big), "si_sites": n_si, "seconds": out["seconds"],
                                     "seconds_per_1000_si": 1000 * out["seconds"] / n_si,
                                     "peak_mib": out["peak_mib"], "features": int(out["shape"][1])}
            print(key, json.dumps(results["large"][key]))
    Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
