"""The report's first screen: what was run, what works and how well against the baselines, and
what does not, in plain sentences worded from ``metrics["verdict"]``
(:func:`amorphxas.pipeline.summary.verdict`); no number is typed in, each is printed from the
metrics and tagged with its key (``<span data-key="forward.cell.best.rmse">``)."""

from __future__ import annotations

import html


def _num(value: float, key: str, fmt: str) -> str:
    return f"<span class='num' data-key='{key}'>{format(value, fmt)}</span>"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def run_sentence(v: dict, dataset_name: str) -> str:
    """What was run on how many spectra and cells."""
    run = v["run"]
    kinds, targets = run["forward_kinds"], run["inverse_targets"]
    parts = [f"<code>amorphxas run{' --quick' if run['quick'] else ''}</code> on "
             f"{_num(run['n_spectra'], 'run.n_spectra', 'd')} DFT Si K-edge site spectra"
             + (f" ({_num(run['n_spectra_primary'], 'run.n_spectra_primary', 'd')} at the dataset's "
                f"k-converged protocol, {_num(run['n_spectra_screening'], 'run.n_spectra_screening', 'd')}"
                " Gamma-point screening spectra used only to train the forward model)"
                if run.get("n_spectra_screening") else "")
             + " from "
             f"{_num(run['n_cells'], 'run.n_cells', 'd')} cells ({run['n_si_sites']} Si sites analysed) "
             f"of {html.escape(dataset_name)}"]
    if kinds:
        parts.append(f"forward ridge models with {_plural(len(kinds), 'descriptor')} "
                     f"({html.escape(', '.join(kinds))}) x 3 modes, {_plural(run['forward_seeds'], 'seed')}")
    if targets:
        parts.append(f"inverse networks for {html.escape(', '.join(targets))}")
    if run["n_large_cells"]:
        parts.append(f"predicted spectra of {_plural(run['n_large_cells'], 'large cell')}")
    return "; ".join(parts) + "."


def _default(d: dict, works: list, fails: list) -> None:
    p = d["percent_vs_baseline"]
    sentence = (f"Forward (structure -> spectrum): the default model ({html.escape(d['name'])}) is "
                f"{_num(abs(p), 'forward.default.percent_vs_baseline', '.1f')} % "
                f"{'below' if p < 0 else 'above'} the valence-mean spectrum on unseen cells (whole "
                f"cells held out; RMSE {_num(d['rmse'], 'forward.default.rmse', '.4f')} against "
                f"{_num(d['baseline_rmse'], 'forward.default.baseline_rmse', '.4f')}, "
                f"{_plural(d['n_seeds'], 'seed')}); its 1-sigma / 2-sigma bands hold "
                f"{_num(d['within_1sigma'], 'forward.default.within_1sigma', '.2f')} / "
                f"{_num(d['within_2sigma'], 'forward.default.within_2sigma', '.2f')} of the held-out "
                "points (nominal 0.68 / 0.95).")
    (works if p < 0 else fails).append(sentence)


def _forward(v: dict | None, works: list, fails: list) -> None:
    if v and v.get("default"):
        _default(v["default"], works, fails)
    if not v or "cell" not in v:
        return
    best = v["cell"]["best"]
    p = best["percent_vs_baseline"]
    sentence = (f"Of Hirai et al.'s ridge models on descriptors, the best on unseen cells, "
                f"{html.escape(best['kind'])} {html.escape(best['mode'])}, is "
                f"{_num(abs(p), 'forward.cell.best.percent_vs_baseline', '.1f')} % "
                f"{'below' if p < 0 else 'above'} the valence-mean spectrum (RMSE "
                f"{_num(best['rmse'], 'forward.cell.best.rmse', '.4f')} against "
                f"{_num(best['baseline_rmse'], 'forward.cell.best.baseline_rmse', '.4f')}, "
                f"{_plural(best['n_seeds'], 'seed')}, {best['n_test']} test sites).")
    (works if p < 0 else fails).append(sentence)
    if "random" in v:
        r = v["random"]["best"]
        q = r["percent_vs_baseline"]
        works_random = (f"With a random split (other sites of the same cells in training) the best, "
                        f"{html.escape(r['kind'])} {html.escape(r['mode'])}, is "
                        f"{_num(abs(q), 'forward.random.best.percent_vs_baseline', '.1f')} % "
                        f"{'below' if q < 0 else 'above'} the baseline: the random split flatters "
                        "every model.")
        (works if q < 0 else fails).append(works_random)
    worse = v["cell"]["not_better_than_baseline"]
    n = v["cell"]["n_models"]
    if worse:
        fails.append(f"Forward: {len(worse)} of {n} "
                     "descriptor/mode combinations do not beat the valence-mean spectrum on unseen "
                     f"cells ({html.escape(', '.join(worse))}).")
    for kind, al in v.get("active_learning", {}).items():
        sentence = (f"Active learning ({html.escape(kind)}): uncertainty reduction beats random "
                    f"training-set growth at {al['n_ur_better']} of {al['n_sizes']} training sizes.")
        (works if al["n_ur_better"] > al["n_sizes"] / 2 else fails).append(sentence)


NAMES = {"network": "network", "LCF": "linear-combination fit (LCF)",
         "heuristic": "heuristic (white line and edge)"}


def _inverse(v: dict | None, works: list, fails: list) -> None:
    if not v:
        return
    for target, unit, fmt in (("valence", "O neighbours", ".2f"), ("charge", "e", ".3f")):
        a = v.get(f"{target}_averaged")
        if a:
            key = f"inverse.{target}_averaged.rmse"
            methods = ", ".join(f"{NAMES[m]} {_num(value, f'{key}.{m}', fmt)}"
                                for m, value in sorted(a["rmse"].items(), key=lambda kv: kv[1]))
            what = "Si valence" if target == "valence" else "Bader charge of the Si sites"
            sentence = (f"Inverse (spectrum -> mean {what}) on the cell-averaged spectra of "
                        f"{_num(a['n_cells'], f'inverse.{target}_averaged.n_cells', 'd')} held-out "
                        f"cells ({a['n_sites']} sites), RMSE in {unit}: {methods}; best: "
                        f"{NAMES[a['best']]}.")
            (works if a["best"] == "network" else fails).append(sentence)
            if a["best"] != "network":
                fails.append(f"The {target} network does not beat the {NAMES[a['best']]} on "
                             "cell-averaged spectra of unseen cells.")
        s = v.get(f"{target}_sites")
        if s:
            heuristic = s.get("heuristic_rmse")
            better = heuristic is None or s["rmse"] < heuristic
            sentence = (f"Per site on unseen cells, {target}: network RMSE "
                        f"{_num(s['rmse'], f'inverse.{target}_sites.rmse', fmt)} {unit}"
                        + (f", R<sup>2</sup> {s['r2']:.2f}" if s.get("r2") is not None else "")
                        + (f" (heuristic {_num(heuristic, f'inverse.{target}_sites.heuristic_rmse', fmt)})"
                           if heuristic is not None else "") + f", {s['n_test']} test sites.")
            (works if better else fails).append(sentence)


def verdict_html(metrics: dict, dataset_name: str) -> str:
    """The ``<section id='verdict'>`` of the report (empty string without a verdict)."""
    v = metrics.get("verdict")
    if not v:
        return ""
    works: list[str] = []
    fails: list[str] = []
    _forward(v.get("forward"), works, fails)
    _inverse(v.get("inverse"), works, fails)
    fails.extend(f"Not run: {html.escape(reason)}" for reason in v.get("not_run", []))
    parts = ["<section id='verdict'><h2>Verdict</h2>",
             f"<p class='run'>{run_sentence(v, dataset_name)}</p>"]
    for title, items in (("What works", works), ("What does not (yet)", fails)):
        parts.append(f"<h3>{title}</h3>")
        parts.append("<ul>" + "".join(f"<li>{s}</li>" for s in items) + "</ul>" if items
                     else "<p class='note'>(nothing)</p>")
    parts.append("</section>")
    return "\n".join(parts)
