#!/usr/bin/env python3
"""Prints the PSS of every container supervisor: the parents of the benchmarks' `sleep 100000` processes.

Usage: supervisors.py        prints "COUNT TOTAL-KiB EACH-KiB" (EACH is the average, rounded)
"""

import os


def main():
    sups = set()
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{p}/cmdline", "rb").read() == b"sleep\x00100000\x00":
                sups.add(next(l.split()[1] for l in open(f"/proc/{p}/status") if l.startswith("PPid:")))
        except OSError:
            pass
    kib = 0
    for s in sups:
        kib += next(int(l.split()[1]) for l in open(f"/proc/{s}/smaps_rollup") if l.startswith("Pss:"))
    print(f"{len(sups)} {kib} {kib / max(1, len(sups)):.0f}")


if __name__ == "__main__":
    main()
