"""The forward evaluation on a dataset for a chosen set of descriptors and seeds (what
``amorphxas run`` does with its fixed choice), with its figures; optionally the UR-picks map.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forward/bench_forward_evaluate.py [DATASET] \\
        --kinds soap-gto snap --preset fast --seeds 0 1 2 -o forward_eval.json --figures docs/figures \\
        [--ur-map soap-gto]

Refuses (exit 2, one line) below the forward models' minimum number of site spectra. Figures:
``forward_*.png`` with an SVG beside each (:mod:`amorphxas.report.forward_figures`);
``--ur-map KIND`` adds ``forward_ur_picks_<KIND>.png`` (first 40 UR vs random picks, study 1 Fig. 7a).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from amorphxas.core.errors import AmorphxasError
from amorphxas.forward.evaluate import evaluate_dataset, ur_map
from amorphxas.report.forward_figures import figures, plot_ur_map


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", nargs="?", default=None)
    parser.add_argument("--kinds", nargs="+", default=["soap-gto"])
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--no-curves", action="store_true")
    parser.add_argument("-o", "--output", default=None, help="JSON report")
    parser.add_argument("--figures", default=None, help="directory for forward_*.png/.svg")
    parser.add_argument("--ur-map", default=None, metavar="KIND", help="also the UR-picks map of KIND")
    args = parser.parse_args(argv)
    try:
        report = evaluate_dataset(args.dataset, args.kinds, args.preset, seeds=args.seeds,
                                  curves=not args.no_curves)
        picks = ur_map(args.dataset, args.ur_map, args.preset) if args.ur_map else None
    except AmorphxasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=1))
    if args.figures:
        figures(report, args.figures)
        if picks is not None:
            plot_ur_map(picks, Path(args.figures) / f"forward_ur_picks_{args.ur_map}.png")
    print(f"{report['n_spectra']} site spectra ({report['n_spectra_by_valence']}), "
          f"{report['n_cells']} cells, preset {args.preset}")
    for kind, entry in report["kinds"].items():
        for split, modes in entry["table"].items():
            for mode, m in modes.items():
                r, b = m["rmse_total"], m["baseline_rmse_total"]
                if r["mean"] is None:
                    print(f"{kind:14s} {split:6s} {mode:6s}: {m['runs'][0].get('error')}")
                    continue
                print(f"{kind:14s} {split:6s} {mode:6s} RMSE {r['mean']:.4f} +- {r['std']:.4f} "
                      f"(baseline {b['mean']:.4f}; n_train {m['n_train']}, n_test {m['n_test']}, "
                      f"1s {m['within_1sigma']['mean']:.2f}, 2s {m['within_2sigma']['mean']:.2f})")
        lc = entry.get("learning_curve", {})
        if "sizes" in lc:
            print(f"{kind}: UR beats random at training sizes {lc['ur_beats_random_at']} of {lc['sizes']}")
    if picks is not None:
        print(f"UR map {args.ur_map}: valence counts {picks['valence_counts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
