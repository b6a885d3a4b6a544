"""Melt-quench schedule vs network quality (coordination, density, Si-O-Si angles).

    nice -n 5 env OMP_NUM_THREADS=1 \
        .venv/bin/python benchmarks/studies/quench_schedule/bench_quench_schedule.py run \
        --x 2 --atoms 99 --schedules dataset study1 slow hold --seeds 0 1
    .venv/bin/python benchmarks/studies/quench_schedule/bench_quench_schedule.py shipped  # dataset's cells
    .venv/bin/python benchmarks/studies/quench_schedule/bench_quench_schedule.py table

Each run is one random-melt cell (amorphxas.structures.melt_quench, Munetoh Tersoff, one LAMMPS
process); the statistics come from amorphxas.structures.network.network_statistics. Results are
appended to docs/figures/quench_schedule.json (resumable); cells go to runs/quench/.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "docs" / "figures" / "quench_schedule.json"
CELLS = ROOT / "runs" / "quench"

# name -> (random-melt preset, overrides); durations in ps
SCHEDULES: dict[str, tuple[str, dict]] = {
    "dataset": ("dataset", {}),  # 40 ps 5000 K, 20 ps -> 3000 K, 20 ps -> 300 K, 10 ps
    "study1": ("study1", {}),  # 200 / 100 / 100 / 20 ps
    "slow": ("dataset", dict(cool1_ps=100.0, cool2_ps=400.0, relax_ps=20.0)),
    "hold": ("dataset", dict(cool1_ps=40.0, hold_ps=100.0, cool2_ps=200.0, relax_ps=20.0)),
    "slower": ("dataset", dict(cool1_ps=200.0, cool2_ps=1000.0, relax_ps=20.0)),
    # cooled at the start density (NVT) through the glass transition, NpT only below t_mid
    "nvt1000": ("dataset", dict(t_mid=1000.0, cool1_ps=100.0, cool2_ps=50.0, relax_ps=20.0)),
    "nvt1000-slow": ("dataset", dict(t_mid=1000.0, cool1_ps=400.0, cool2_ps=50.0, relax_ps=20.0)),
    # NVT all the way at the start density (2.20 g/cm3 at x = 2), fixed-volume minimisation
    "nvt-fixed": ("dataset", dict(t_mid=1000.0, cool1_ps=100.0, cool2_ps=50.0, relax_ps=20.0,
                                  fixed_volume=1.0)),
    "nvt-fixed-2.3": ("dataset", dict(t_mid=1000.0, cool1_ps=100.0, cool2_ps=50.0,
                                      relax_ps=20.0, fixed_volume=1.0, density=2.3)),
    "network": ("network", {}),
    # fast to 3000 K, slowly through the window where defects freeze in (NVT at the start
    # density), fast below 1000 K: 2.5 K/ps and 1 K/ps
    "window2.5": ("dataset", dict(window_ps=800.0, t_low=1000.0, cool2_ps=50.0, relax_ps=20.0)),
    "window1": ("dataset", dict(window_ps=2000.0, t_low=1000.0, cool2_ps=50.0, relax_ps=20.0)),
}


def _load() -> list[dict]:
    return json.loads(OUT.read_text()) if OUT.exists() else []


def _save(rows: list[dict]) -> None:
    OUT.write_text(json.dumps(rows, indent=0))


def run(args) -> None:
    from amorphxas.structures import melt_quench, write_structure
    from amorphxas.structures.network import network_statistics

    rows = _load()
    done = {(r["schedule"], r["x"], r["n_atoms"], r["seed"]) for r in rows}
    CELLS.mkdir(parents=True, exist_ok=True)
    for x in args.x:
        for name in args.schedules:
            preset, overrides = SCHEDULES[name]
            for seed in args.seeds:
                if (name, x, args.atoms, seed) in done:
                    continue
                cpu, wall = time.process_time(), time.perf_counter()
                atoms = melt_quench(x, args.atoms, preset=preset, seed=seed, progress=False,
                                    **overrides)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                write_structure(atoms, CELLS / f"{name}_x{x:.2f}_n{args.atoms}_s{seed}.extxyz")
                stats = network_statistics(atoms)
                # the nominal x wins over the measured one in stats (kept as measured_x)
                row = {**stats, "schedule": name, "preset": preset, "overrides": overrides, "x": x,
                       "n_atoms": args.atoms, "seed": seed, "cpu_s": round(cpu, 1),
                       "wall_s": round(wall, 1), "md_ps": _md_ps(atoms),
                       "measured_x": stats["x"]}
                rows.append(row)
                _save(rows)
                print(_line(row), flush=True)


def _md_ps(atoms) -> float:
    protocol = json.loads(atoms.info["protocol"])
    return round(sum(s["duration_ps"] for s in protocol["stages"]), 1)


def shipped(args) -> None:
    """Statistics of the cells of a dataset (default: the embedded one), labelled
    'shipped-<preset>' (the schedule each cell was built with)."""
    import h5py

    from amorphxas.dataset import embedded_path, load_structure
    from amorphxas.structures.network import network_statistics

    path = Path(args.dataset) if args.dataset else embedded_path()
    rows = [r for r in _load() if not r["schedule"].startswith("shipped")]
    with h5py.File(path, "r") as h5:
        cells = {c: json.loads(h5["structures"][c].attrs["provenance"]) for c in h5["structures"]}
    for cell_id, prov in sorted(cells.items()):
        stats = network_statistics(load_structure(path, cell_id))
        row = {"schedule": f"shipped-{prov.get('preset')}", "preset": prov.get("preset"),
               "cell_id": cell_id,
               **stats, "x": float(prov.get("x_target", stats["x"])), "measured_x": stats["x"],
               "n_atoms": stats["n_si"] + stats["n_o"], "seed": None}
        rows.append(row)
        print(_line(row))
    _save(rows)


def _line(r: dict) -> str:
    return (f"{r['schedule']:8s} x={r['x']:.2f} N={r['n_atoms']:3d} seed={r['seed']} "
            f"rho={r['density_g_cm3']:.3f} Si4={r['frac_si4']:.3f} Si>4={r['frac_si_over']:.3f} "
            f"O2={r['frac_o2']:.3f} SiOSi={r['sio_si_angle_mean']:.1f}+-{r['sio_si_angle_std']:.1f} "
            f"Si-coord={r['si_coordination']} O-coord={r['o_coordination']} "
            f"cpu={r.get('cpu_s', '-')}s")


def table(args) -> None:
    """Mean (min-max) over seeds per (schedule, x, n_atoms), as Markdown."""
    rows = _load()
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["schedule"], r["x"], r["n_atoms"]), []).append(r)
    print("| schedule | x | atoms | cells | MD ps | CPU s/cell | density g/cm3 | 4-fold Si | "
          ">4-fold Si | 2-fold O | Si-O-Si deg (mean +- sd) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (name, x, n), g in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        def col(key, fmt="{:.3f}", g=g):
            v = np.array([r[key] for r in g], float)
            return fmt.format(v.mean()) + (f" ({fmt.format(v.min())}-{fmt.format(v.max())})"
                                           if len(v) > 1 else "")
        cpu = np.mean([r["cpu_s"] for r in g]) if "cpu_s" in g[0] else float("nan")
        md = g[0].get("md_ps", "-")
        cpu = "-" if not np.isfinite(cpu) else f"{cpu:.0f}"
        print(f"| {name} | {x:.2f} | {n} | {len(g)} | {md} | {cpu} | {col('density_g_cm3')} | "
              f"{col('frac_si4')} | {col('frac_si_over')} | {col('frac_o2')} | "
              f"{np.mean([r['sio_si_angle_mean'] for r in g]):.1f} +- "
              f"{np.mean([r['sio_si_angle_std'] for r in g]):.1f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--x", type=float, nargs="+", default=[2.0])
    r.add_argument("--atoms", type=int, default=99)
    r.add_argument("--schedules", nargs="+", default=["dataset", "study1", "slow", "hold"],
                   choices=sorted(SCHEDULES))
    r.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    s = sub.add_parser("shipped")
    s.add_argument("--dataset", default=None)
    sub.add_parser("table")
    args = p.parse_args()
    {"run": run, "shipped": shipped, "table": table}[args.cmd](args)


if __name__ == "__main__":
    main()
