#!/usr/bin/env python3
"""Starts containers one after another and times each start.

Usage: launch.py --log FILE --from I --to J 'COMMAND WITH {i}'

Runs COMMAND for i = I..J (inclusive; `{i}` is replaced by i), stopping at the first failure, and appends one
line per start (i and milliseconds) to FILE. Then prints, for everything FILE holds so far: how many starts,
the first and the last start's time, and the medians of the first ten and the last ten (and of the first and
last hundred, from 200 starts on), so that the cost of the Nth container can be compared with the first's
across several calls.
"""

import argparse
import shlex
import statistics
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--from", dest="first", type=int, required=True)
    ap.add_argument("--to", dest="last", type=int, required=True)
    ap.add_argument("--label", default="run -d")
    ap.add_argument("command")
    a = ap.parse_args()
    with open(a.log, "a") as log:
        for i in range(a.first, a.last + 1):
            argv = shlex.split(a.command.replace("{i}", str(i)))
            t0 = time.perf_counter_ns()
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            ms = (time.perf_counter_ns() - t0) / 1e6
            if r.returncode != 0:
                sys.exit(f"launch: {' '.join(argv)!r} exited {r.returncode} (start {i})")
            log.write(f"{i} {ms:.3f}\n")
    with open(a.log) as log:
        rows = [(int(i), float(ms)) for i, ms in (line.split() for line in log if line.strip())]
    times = [ms for _, ms in sorted(rows)]
    n = len(times)
    head, tail = statistics.median(times[:10]), statistics.median(times[-10:])
    line = (f"{a.label}: {n} started; 1st {times[0]:.1f} ms, {n}th {times[-1]:.1f} ms; "
            f"median of first 10 {head:.1f} ms, of last 10 {tail:.1f} ms (ratio {tail / head:.2f})")
    if n >= 200:
        # Ten samples are few where single starts stall (a cgroup v1 migration may wait a whole RCU grace
        # period, 10-15 ms): the same with 100.
        head, tail = statistics.median(times[:100]), statistics.median(times[-100:])
        line += f"; of first/last 100 {head:.1f}/{tail:.1f} ms (ratio {tail / head:.2f})"
    print(line, flush=True)


if __name__ == "__main__":
    main()
