"""A stand-in for pw.x and xspectra.x (test tooling: a hand-made engine stub, never data).

``write_stub_engine(directory, seconds)`` writes two executables that read the input named
by ``-inp`` like QE does, sleep (``seconds[program]`` or ``seconds[program + ":" + prefix]``),
then print what amorphxas parses from a QE log (total energy, Fermi level, clock lines);
the xspectra stand-in writes a Lorentzian ``xanes.dat``. Each start and end is appended to a
journal with the batch job and step ids, so a test can see where a site ran.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCRIPT = r'''#!{python}
import json, os, re, sys, time
from pathlib import Path

CONFIG = json.loads(Path({config!r}).read_text())
program = Path(sys.argv[0]).name
text = Path(sys.argv[sys.argv.index("-inp") + 1]).read_text()
prefix = re.search(r"prefix\s*=\s*'([^']+)'", text).group(1)
job = os.environ.get("SLURM_JOB_ID", "-") + "." + os.environ.get("SLURM_STEP_ID", "-")

def journal(event):
    with open(CONFIG["journal"], "a") as out:
        out.write(f"{{time.time():.3f}} {{job}} {{program}} {{event}} {{os.getcwd()}} {{prefix}}\n")

journal("start")
seconds = CONFIG["seconds"]
time.sleep(seconds.get(program + ":" + prefix, seconds.get(program, 0.0)))
if program == "pw.x":
    print("!    total energy              =    -100.00000000 Ry")
    print("     the Fermi energy is     5.0000 ev")
    print("     convergence has been achieved in   5 iterations")
    print("     PWSCF        :      1.00s CPU      1.00s WALL")
else:
    name = re.search(r"xanes_file\s*=\s*'([^']+)'", text).group(1)
    value = lambda key: float(re.search(key + r"\s*=\s*(-?[\d.]+)", text).group(1))
    lines = []
    n = int(value("xnepoint"))
    for k in range(n):
        e = value("xemin") + (value("xemax") - value("xemin")) * k / (n - 1)
        lines.append(f"{{e:.4f}} {{1.0 / (1.0 + ((e - 12.0) / 2.0) ** 2):.6e}}")
    Path(name).write_text("# E sigma\n" + "\n".join(lines) + "\n")
    print("     xanes        :      1.00s CPU      1.00s WALL")
journal("end")
'''


def write_stub_engine(directory: Path, seconds: dict[str, float]) -> dict[str, Path]:
    """Write ``pw.x`` and ``xspectra.x`` stand-ins into ``directory``; returns their paths and
    the journal's (key "journal")."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "stub.json"
    journal = directory / "journal.txt"
    config.write_text(json.dumps({"seconds": seconds, "journal": str(journal)}))
    paths = {"journal": journal}
    for name in ("pw.x", "xspectra.x"):
        path = directory / name
        path.write_text(SCRIPT.format(python=sys.executable, config=str(config)))
        path.chmod(0o755)
        paths[name] = path
    return paths


def read_journal(path: Path) -> list[dict]:
    """The journal's events: time, job ("<job id>.<step id>"), program, event, cwd, prefix."""
    if not Path(path).is_file():
        return []
    keys = ("time", "job", "program", "event", "cwd", "prefix")
    return [dict(zip(keys, line.split())) for line in Path(path).read_text().splitlines()]
