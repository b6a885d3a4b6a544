"""The user documentation cannot rot: quoted numbers equal their results files, no page reads like
a development log, every link and repository path resolves, and the light commands of the quick
start and the tutorial run.

Numbers: a page quotes a result as ``<!-- measure: NAME -->0.88`` (or ``0.14-0.17``,
``23/23/23/24/23``); ``docs/results/measures.json`` holds NAME's value, the command that produced
it, the dataset it rests on and where its results file keeps it. A quoted number must be the value
rounded to the digits shown, and the value must be the results file's number rounded likewise.
Commands: a fenced code block right after ``<!-- tutorial-test -->`` runs with bash in a temporary
directory (blocks of one page share the directory, in page order) and must exit 0.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MEASURES_FILE = ROOT / "docs" / "results" / "measures.json"
MEASURES = json.loads(MEASURES_FILE.read_text())["measures"]

_NUM = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_NUMBERS = rf"{_NUM}(?:(?:\s*(?:-|/|\.\.)\s*|\s+vs\s+){_NUM})*"
MARKER = re.compile(rf"<!--\s*measure:\s*([\w.-]+)\s*-->\s*(?:\*\*)?\s*({_NUMBERS})")
MARKER_ANY = re.compile(r"<!--\s*measure:")
TUTORIAL_BLOCK = re.compile(r"<!--\s*tutorial-test\s*-->\s*\n```(?:bash|sh|console)?\n(.*?)\n```", re.S)

# a user page says what the tool does now; development history goes to CHANGELOG.md
DEV_LOG = re.compile(
    r"\bsessions?\b|\bwork[ -]periods?\b|\bperiods? \d+\b|\bmilestones? \d+\b|\bissues? #?\d+\b"
    r"|\b(?:since|until|in|from|before|after) (?:the )?(?:run|snapshot|version) \d+\b", re.I)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
REPO_PREFIXES = ("benchmarks/", "docs/", "scripts/", "src/", "tests/")
GENERATED = {"benchmarks/cells/"}  # written by a benchmark, not in git (the page says so)


def _page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _numbers(text: str) -> list[tuple[float, int]]:
    """(value, decimals shown) of each number in a quoted group such as '0.14-0.17'."""
    out = []
    for match in re.finditer(_NUM, text):
        token = match.group(0)
        if out and token.startswith("-"):
            token = token[1:]  # '0.14-0.17': the '-' is the separator, not a sign
        decimals = len(token.split(".")[1]) if "." in token else 0
        out.append((float(token.replace(",", "")), decimals))
    return out


def _agrees(quoted: float, decimals: int, value: float) -> bool:
    """``quoted`` is ``value`` rounded to ``decimals`` digits."""
    return abs(quoted - value) <= 0.5 * 10.0 ** -decimals + 1e-9


def _values(name: str) -> list[float]:
    value = MEASURES[name]["value"]
    return [float(v) for v in (value if isinstance(value, list) else [value])]


def _resolve(node, key: list):
    """The number at ``key`` (a path of mapping keys / list indices; '*' = every item)."""
    for i, part in enumerate(key):
        if part == "*":
            items = node.values() if isinstance(node, dict) else node
            return [(item, _resolve(item, key[i + 1:])) for item in items]
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _source_value(source: dict, key: list) -> float:
    data = json.loads((ROOT / source["file"]).read_text())
    found = _resolve(data, key)
    if isinstance(found, list):
        rows = [(item, v) for item, v in found
                if all(item.get(k) == want for k, want in source.get("where", {}).items())]
        reduce = source["reduce"]
        if reduce == "max":
            number = max(v for _, v in rows)
        elif reduce == "min":
            number = min(v for _, v in rows)
        elif reduce == "ratio_of_sums":
            number = sum(v for _, v in rows) / sum(item[source["denominator"]] for item, _ in rows)
        else:
            raise AssertionError(f"unknown reduce {reduce!r}")
    else:
        number = float(found)
    return number * source.get("scale", 1)


def _markers(path: Path) -> list[tuple[str, str]]:
    text = path.read_text()
    found = MARKER.findall(text)
    assert len(found) == len(MARKER_ANY.findall(text)), \
        f"{_page_id(path)}: a measure marker is not directly followed by a number"
    return found


def test_quoted_numbers_equal_the_results_json():
    seen = {}
    for path in PAGES:
        for name, quoted in _markers(path):
            where = f"{_page_id(path)}: measure {name!r}"
            assert name in MEASURES, f"{where} is not in docs/results/measures.json"
            numbers, values = _numbers(quoted), _values(name)
            assert len(numbers) == len(values), f"{where}: quotes {quoted!r}, the JSON has {values}"
            for (q, decimals), v in zip(numbers, values):
                assert _agrees(q, decimals, v), f"{where}: quotes {quoted!r}, the JSON has {values}"
            seen.setdefault(_page_id(path), set()).add(name)
    # the pages that carry the headline numbers do quote them through the JSON
    assert len(seen.get("README.md", ())) >= 15, seen.get("README.md")
    assert {"forward_default_cell_ratio", "forward_seeds"} <= seen.get("docs/forward.md", set())
    assert {"lcf_mean_valence_rmse", "mixture_nn_mean_valence_rmse"} <= seen.get("docs/inverse.md", set())


@pytest.mark.parametrize("name", sorted(MEASURES))
def test_measure_has_its_provenance_and_equals_its_results_file(name):
    entry = MEASURES[name]
    assert entry.get("what") and entry.get("command") and entry.get("dataset"), name
    source = entry.get("source")
    if source is None:  # measured by a command that writes no results file: quoted as measured
        return
    keys = source["key"] if isinstance(source["key"][0], list) else [source["key"]]
    raw = entry["value"] if isinstance(entry["value"], list) else [entry["value"]]
    assert len(keys) == len(raw), name
    for key, value in zip(keys, raw):
        number = _source_value(source, key)
        decimals = len(repr(float(value)).split(".")[1]) if isinstance(value, float) else 0
        assert math.isfinite(number) and _agrees(float(value), decimals, number), \
            f"{name}: measures.json {value}, {source['file']} {number}"


def test_readme_results_column_quotes_only_measured_numbers():
    text = (ROOT / "README.md").read_text()
    section = text.split("## What it measures now", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|") and not line.startswith("|---")]
    assert len(rows) >= 6, "the measures table is missing"
    for row in rows[1:]:
        result = row.split("|")[2]
        rest = MARKER.sub("", result)
        rest = re.sub(r"Si\d\+?|\d+-sigma|\d+ %(?= interval)", "", rest)
        assert not re.search(r"\d", rest), f"README measures table: unmarked number in {result.strip()!r}"


def test_live_dataset_holds_at_least_the_quoted_counts():
    """The quoted counts are of a snapshot; the embedded dataset only grows."""
    from amorphxas.dataset import embedded_path, info

    now = info(embedded_path())
    assert now["n_sites"] >= MEASURES["dataset_site_spectra"]["value"]
    assert now["n_cells"] >= MEASURES["dataset_cells"]["value"]
    assert now["n_bader"] >= MEASURES["dataset_bader"]["value"]


@pytest.mark.parametrize("path", PAGES, ids=_page_id)
def test_user_page_is_not_a_development_log(path):
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = DEV_LOG.search(line)
        assert match is None, f"{_page_id(path)}:{number}: {match.group(0)!r} ({line.strip()[:80]})"


@pytest.mark.parametrize("path", PAGES, ids=_page_id)
def test_links_and_repository_paths_resolve(path):
    text = path.read_text()
    missing = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        if not (path.parent / target.split("#")[0]).exists():
            missing.append(target)
    for span in CODE_SPAN.findall(text):
        for token in span.split():
            token = token.strip("\"'(),;:")
            if not token.startswith(REPO_PREFIXES) or token in GENERATED \
                    or re.search(r"[<>{}\[\]$|=]|\.\.\.", token):
                continue
            token, _, test_name = token.partition("::")  # tests/test_x.py::test_name
            if test_name and (ROOT / token).is_file():
                if f"def {test_name}(" not in (ROOT / token).read_text():
                    missing.append(f"{token}::{test_name}")
                continue
            if "*" in token:
                if not list(ROOT.glob(token)):
                    missing.append(token)
            elif not (ROOT / token).exists():
                missing.append(token)
    assert not missing, f"{_page_id(path)}: {sorted(set(missing))}"


def _tutorial_blocks() -> list[tuple[Path, list[str]]]:
    out = []
    for path in PAGES:
        blocks = TUTORIAL_BLOCK.findall(path.read_text())
        if blocks:
            out.append((path, blocks))
    return out


def test_tutorial_pages_mark_their_light_commands():
    pages = {_page_id(path) for path, _ in _tutorial_blocks()}
    assert {"README.md", "docs/tutorial.md"} <= pages, pages


@pytest.mark.parametrize("path,blocks", _tutorial_blocks(),
                         ids=lambda v: _page_id(v) if isinstance(v, Path) else "")
def test_tutorial_light_commands_run(path, blocks, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", NO_COLOR="1", COLUMNS="100",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    for block in blocks:
        done = subprocess.run(["bash", "-e", "-c", block], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, \
            f"{_page_id(path)}:\n{block}\n-> exit {done.returncode}\n{done.stderr[-2000:]}"


def test_cli_reference_is_generated_from_the_current_cli():
    """docs/cli.md is what scripts/cli_reference.py writes from the typer app (re-run it after a
    CLI change)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "scripts" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.render()
    assert "## `amorphxas invert`" in text and "`--reference-material`" in text
    assert (ROOT / "docs" / "cli.md").read_text() == text, \
        "docs/cli.md is out of date: run scripts/cli_reference.py"
