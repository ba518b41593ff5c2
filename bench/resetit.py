#!/usr/bin/env python3
"""Times commands that need a reset before each sample (a cold pull, a push to an empty registry).

Usage: resetit.py [-n RUNS] [--json FILE]
                  --pair LABEL 'MINOTAUR CMD' 'MINOTAUR RESET' 'PEER CMD' 'PEER RESET'   (repeatable)
                  --solo LABEL 'MINOTAUR CMD' 'MINOTAUR RESET'                           (repeatable)

Like timeit.py (alternating rounds whose order flips every round; medians, the ratio minotaur/peer and the
10th/90th percentiles), except that each command's RESET (a shell line; may be empty) runs untimed before each
of its samples, and that the peak resident set size of each timed command (its largest process, from
wait4's rusage) is reported too, with the median CPU time each command used (user and system, its own and
its descendants': on a shared machine a steadier measure of the work than the wall time). Commands are shell lines, so a pipeline (`curl URL | gzip -dc >/dev/null`)
is one sample. A command that fails prints "skipped: ..." for its row. Not a test: it never fails on a slow
result.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


class Failed(Exception):
    pass


def sh(line):
    r = subprocess.run(["bash", "-c", line], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        tail = [x for x in r.stderr.decode(errors="replace").splitlines() if x.strip()]
        raise Failed(f"{line!r} exited {r.returncode}" + (f": {tail[-1].strip()}" if tail else ""))


def timed(line):
    """Runs LINE; returns (milliseconds, peak RSS in KiB of its largest descendant, CPU milliseconds of it and
    its descendants)."""
    t0 = time.perf_counter_ns()
    p = subprocess.Popen(["bash", "-c", line], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    ms = (time.perf_counter_ns() - t0) / 1e6
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = [x for x in err.splitlines() if x.strip()]
        raise Failed(f"{line!r} exited {code}" + (f": {tail[-1].strip()}" if tail else ""))
    return ms, usage.ru_maxrss, (usage.ru_utime + usage.ru_stime) * 1e3


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--json")
    ap.add_argument("--pair", nargs=5, action="append", default=[])
    ap.add_argument("--solo", nargs=3, action="append", default=[])
    a = ap.parse_args()
    rows = [(p[0], [(p[1], p[2]), (p[3], p[4])]) for p in a.pair]
    rows += [(s[0], [(s[1], s[2])]) for s in a.solo]
    out = {}
    print(f"{'':44} {'minotaur':>10} {'peer':>10} {'ratio':>7}   p10-p90 (ms)   CPU (ms)   peak RSS (KiB)")
    for label, cmds in rows:
        samples = [[] for _ in cmds]
        rss = [[] for _ in cmds]
        cpu = [[] for _ in cmds]
        try:
            for r in range(a.n):
                order = range(len(cmds)) if r % 2 == 0 else reversed(range(len(cmds)))
                for i in order:
                    cmd, reset = cmds[i]
                    if reset:
                        sh(reset)
                    ms, kib, cpu_ms = timed(cmd)
                    samples[i].append(ms)
                    rss[i].append(kib)
                    cpu[i].append(cpu_ms)
        except Failed as e:
            print(f"{label:44} skipped: {e}")
            sys.stdout.flush()
            continue
        med = [statistics.median(s) for s in samples]
        ratio = f"{med[0] / med[1]:7.2f}" if len(med) == 2 and med[1] else " " * 7
        peer = f"{med[1]:10.1f}" if len(med) == 2 else " " * 10
        spread = " / ".join(f"{pct(s, 10):.0f}-{pct(s, 90):.0f}" for s in samples)
        peaks = " / ".join(str(max(x)) for x in rss)
        cpus = " / ".join(f"{statistics.median(x):.0f}" for x in cpu)
        print(f"{label:44} {med[0]:10.1f} {peer} {ratio}   {spread}   {cpus}   {peaks}")
        sys.stdout.flush()
        out[label] = {"medians_ms": med, "samples_ms": samples, "peak_rss_kib": [max(x) for x in rss],
                      "cpu_ms": cpu}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
