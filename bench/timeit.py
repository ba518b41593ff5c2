#!/usr/bin/env python3
"""Times commands side by side: alternating runs, medians and ratios.

Usage: timeit.py [-n RUNS] [-w WARMUP] [--json FILE]
                 --pair LABEL 'MINOTAUR CMD' 'PEER CMD'   (repeatable; one row per pair)
                 --solo LABEL 'MINOTAUR CMD'               (repeatable; no peer to compare with)
                 --skip LABEL 'WHY'                        (repeatable; prints a "skipped" row)

Each sample is one run of a command line (several commands joined by ' && ' run one after another, each
counted in the same sample). Within a pair the two commands alternate, so drift of the machine hits both
alike. Rows come out in the order given on the command line: the medians, the ratio minotaur/peer, and the
10th/90th percentiles. Several peers for one minotaur command are several pairs with the same MINOTAUR CMD.
A pair whose command fails (in its first run, or later) prints "skipped: ..." with the failing command and the
last line of its standard error instead of figures, and the others still run.
Not a test: it never fails on a slow result.
"""

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time


class Failed(Exception):
    pass


def run_once(line, err):
    """Runs each command of LINE (split on ' && ') and returns the total wall time in milliseconds.
    Standard error goes to the file ERR (truncated first), so a failure can say why."""
    total = 0
    for part in line.split(" && "):
        argv = shlex.split(part)
        err.seek(0)
        err.truncate()
        t0 = time.perf_counter_ns()
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        except OSError as e:
            raise Failed(f"{part!r}: {e.strerror}")
        total += time.perf_counter_ns() - t0
        if r.returncode != 0:
            err.seek(0)
            lines = [x for x in err.read().decode(errors="replace").splitlines() if x.strip()]
            why = f": {lines[-1].strip()}" if lines else ""
            raise Failed(f"{part!r} exited {r.returncode}{why}")
    return total / 1e6


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def measure(lines, runs, warmup, err):
    """Alternates the command lines for RUNS rounds (the order flips every round) after WARMUP rounds.
    Returns one list of samples per line."""
    for _ in range(max(1, warmup)):
        for line in lines:
            run_once(line, err)
    samples = [[] for _ in lines]
    for i in range(runs):
        order = list(range(len(lines))) if i % 2 == 0 else list(reversed(range(len(lines))))
        for k in order:
            samples[k].append(run_once(lines[k], err))
    return samples


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", "--runs", type=int, default=100)
    ap.add_argument("-w", "--warmup", type=int, default=5)
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--pair", nargs=3, action="append", dest="rows", metavar=("LABEL", "MINOTAUR", "PEER"),
                    type=str, default=[])
    ap.add_argument("--solo", nargs=2, action="append", dest="rows", metavar=("LABEL", "MINOTAUR"))
    ap.add_argument("--skip", nargs=2, action="append", dest="rows", metavar=("LABEL", "WHY"))
    # --skip and --solo both take two values: tell them apart by the option actually used.
    kinds = [a for a in sys.argv[1:] if a in ("--pair", "--solo", "--skip")]
    a = ap.parse_args()
    if not a.rows:
        ap.error("nothing to time: give --pair or --solo")
    results = []
    print(f"{'benchmark':<36} {'minotaur ms':>12} {'peer ms':>9} {'ratio':>6}  "
          f"(p10–p90 minotaur | peer), {a.runs} runs", flush=True)
    with tempfile.TemporaryFile() as err:
        for kind, row in zip(kinds, a.rows):
            label = row[0]
            if kind == "--skip":
                print(f"{label:<36} skipped: {row[1]}", flush=True)
                results.append({"benchmark": label, "skipped": row[1]})
                continue
            lines = row[1:]
            try:
                samples = measure(lines, a.runs, a.warmup, err)
            except Failed as e:
                print(f"{label:<36} skipped: {e}", flush=True)
                results.append({"benchmark": label, "skipped": str(e)})
                continue
            xs = samples[0]
            mx = statistics.median(xs)
            res = {"benchmark": label, "minotaur": lines[0], "median_ms": mx, "runs": a.runs}
            if kind == "--solo":
                print(f"{label:<36} {mx:>12.3f} {'-':>9} {'-':>6}  ({pct(xs, 10):.2f}–{pct(xs, 90):.2f} | -)",
                      flush=True)
            else:
                ys = samples[1]
                my = statistics.median(ys)
                print(f"{label:<36} {mx:>12.3f} {my:>9.3f} {mx / my:>6.2f}  "
                      f"({pct(xs, 10):.2f}–{pct(xs, 90):.2f} | {pct(ys, 10):.2f}–{pct(ys, 90):.2f})",
                      flush=True)
                res.update({"peer": lines[1], "peer_median_ms": my, "ratio": mx / my})
            results.append(res)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
