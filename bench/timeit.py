#!/usr/bin/env python3
"""Times commands side by side: alternating runs, medians and ratios.

Usage: timeit.py [-n RUNS] [-w WARMUP] --pair LABEL 'MINOTAUR CMD' 'PEER CMD' [--pair ...]

Each sample is one run of a command line (several commands joined by ' && ' run one after another, each
counted in the same sample). Within a pair the two commands alternate, so drift of the machine hits both
alike. Prints one row per pair: the medians, the ratio minotaur/peer, and the 10th/90th percentiles.
Not a test: it never fails on a slow result.
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time


def run_once(line):
    """Runs each command of LINE (split on ' && ') and returns the total wall time in milliseconds."""
    total = 0
    for part in line.split(" && "):
        argv = shlex.split(part)
        t0 = time.perf_counter_ns()
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        total += time.perf_counter_ns() - t0
        if r.returncode != 0:
            sys.exit(f"timeit: {part!r} exited {r.returncode}")
    return total / 1e6


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", "--runs", type=int, default=100)
    ap.add_argument("-w", "--warmup", type=int, default=5)
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--pair", nargs=3, action="append", metavar=("LABEL", "MINOTAUR", "PEER"), required=True)
    a = ap.parse_args()
    results = []
    print(f"{'benchmark':<28} {'minotaur ms':>12} {'peer ms':>9} {'ratio':>6}  (p10–p90 minotaur | peer), {a.runs} runs")
    for label, mine, peer in a.pair:
        for _ in range(a.warmup):
            run_once(mine)
            run_once(peer)
        xs, ys = [], []
        for i in range(a.runs):
            order = [(mine, xs), (peer, ys)] if i % 2 == 0 else [(peer, ys), (mine, xs)]
            for line, acc in order:
                acc.append(run_once(line))
        mx, my = statistics.median(xs), statistics.median(ys)
        print(f"{label:<28} {mx:>12.3f} {my:>9.3f} {mx / my:>6.2f}  "
              f"({pct(xs, 10):.2f}–{pct(xs, 90):.2f} | {pct(ys, 10):.2f}–{pct(ys, 90):.2f})")
        results.append({"benchmark": label, "minotaur": mine, "peer": peer, "median_ms": mx,
                        "peer_median_ms": my, "ratio": mx / my, "runs": a.runs})
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
