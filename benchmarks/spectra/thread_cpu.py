"""CPU used by each thread of a running process (e.g. the campaign's `amorphxas compute`).

    .venv/bin/python benchmarks/spectra/thread_cpu.py PID [--seconds 120]

Samples utime + stime of /proc/PID/task/*/stat at the start and end of the interval and prints
each thread's share of one core over it (threads that did not run are left out). Used to measure
the Dask orchestration overhead beside the DFT jobs (docs/spectra.md).
"""

import argparse
import os
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def thread_ticks(pid: int) -> dict[str, tuple[str, int]]:
    """{tid: (name, utime + stime in clock ticks)} of every thread of ``pid``."""
    ticks = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        ticks[task.name] = (name, int(fields[11]) + int(fields[12]))
    return ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pid", type=int)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    before = thread_ticks(args.pid)
    time.sleep(args.seconds)
    after = thread_ticks(args.pid)
    total = 0.0
    for tid, (name, ticks) in sorted(after.items()):
        used = (ticks - before.get(tid, (name, 0))[1]) / TICKS / args.seconds
        total += used
        if used > 0:
            print(f"{tid:>8s} {name:20s} {100 * used:6.2f} % of a core")
    print(f"process {args.pid}: {100 * total:.2f} % of a core over {args.seconds:.0f} s")


if __name__ == "__main__":
    main()
