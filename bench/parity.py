#!/usr/bin/env python3
"""Runs the same CLI invocations against Docker and minotaur, normalises what must differ, reports the rest.

Run by bench/parity-box.sh inside the box, after both engines have the image `bb` (busybox):
    parity.py --docker CLIENT --minotaur BINARY --bind DIR --versions TEXT --out PREFIX

Each case is a shell command line in which `$E` is the engine (and `$BIND` a directory holding a file
`hello`). The whole list runs against Docker, then against minotaur, in order: cases build on each other
(`run -d` before `ps`). Setup steps run but are not compared. A case differs when its normalised stdout,
stderr or exit status differ; ACCEPTED says which differences are known and why (docs/parity.md).
"""

import argparse
import json
import os
import re
import subprocess
import sys

# (command, options). Options: setup (run, do not compare), pids (numbers are PIDs/times: normalised),
# json (stdout is JSON: compared field by field), table (stdout is an aligned table: compared cell by cell,
# since normalised values have other widths; cells are what is between runs of 3 or more spaces, which
# Docker's padding guarantees), images (the built-in `host` image is left out of minotaur's list).
CASES = [
    # images
    ("$E images", {"table": True, "images": True}),
    ("$E images -q", {}),
    ("$E images bb", {"table": True}),
    ("$E images --format '{{.Repository}}:{{.Tag}}'", {"images": True}),
    ("$E images --format 'table {{.Repository}}\\t{{.Tag}}'", {"table": True, "images": True}),
    ("$E images nosuch", {"table": True}),
    ("$E rmi nosuch", {}),
    # run: output, exit codes, errors
    ("$E run --rm bb echo hello", {}),
    ("$E run --rm bb sh -c 'exit 3'", {}),
    ("$E run --rm bb sh -c 'echo out; echo err >&2'", {}),
    ("$E run --rm bb nosuchcommand", {}),
    ("$E run --rm bb /etc", {}),
    ("$E run --rm -e FOO=bar bb sh -c 'echo $FOO'", {}),
    ("$E run --rm -e FOO=bar bb env", {}),
    ("$E run --rm -w /tmp bb pwd", {}),
    ("$E run --rm -u 65534 bb id", {}),
    ("$E run --rm --entrypoint echo bb hi there", {}),
    ("$E run --rm --hostname box bb hostname", {}),
    ("$E run --rm -v $BIND:/data bb cat /data/hello", {}),
    ("$E run --rm -v $BIND:/data:ro bb sh -c 'echo x > /data/x'", {}),
    ("$E run --rm --network none bb ip -o link", {}),
    ("$E run --rm --read-only bb touch /x", {}),
    ("$E run --rm nosuchimage", {}),
    ("$E run --rm -p 99999:80 bb true", {}),
    ("$E run --rm --nosuchflag bb true", {}),
    ("$E run", {}),
    ("$E run -d --name web -p 8080:80 bb sleep 1000", {}),
    ("$E run -d --name db -e ROLE=db --label tier=back bb sleep 1000", {}),
    ("$E run --name web bb true", {}),
    ("$E run --rm --name gone bb true", {}),
    ("$E ps -a --filter name=gone -q", {}),
    ("$E run -d --name quitter bb sh -c 'exit 7'", {}),
    ("$E wait quitter", {}),
    ("$E run -d --name logger bb sh -c 'for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2; sleep 1000'", {}),
    ("until $E logs logger 2>&1 | grep -q oops; do sleep 0.1; done", {"setup": True}),
    # ps
    ("$E ps", {"table": True}),
    ("$E ps -a", {"table": True}),
    ("$E ps -q", {}),
    ("$E ps -aq", {}),
    ("$E ps --no-trunc --format '{{.Command}}'", {}),
    ("$E ps --filter name=web", {"table": True}),
    ("$E ps --filter status=exited -a --format '{{.Names}} {{.Status}}'", {}),
    ("$E ps --filter label=tier=back --format '{{.Names}}'", {}),
    ("$E ps --filter nosuch=1", {}),
    ("$E ps --format '{{.Names}}'", {}),
    ("$E ps --format '{{.Names}}\\t{{.Image}}'", {}),
    ("$E ps --format 'table {{.Names}}\\t{{.Image}}\\t{{.Ports}}'", {"table": True}),
    ("$E ps --format 'table {{.ID}}\\t{{.Names}}\\t{{.Status}}\\t{{.Networks}}'", {"table": True}),
    ("$E ps --filter name=web --format '{{json .}}'", {}),
    ("$E ps --filter name=db --format json", {}),
    ("$E ps --format '{{.Names}} {{.Labels}} {{.Ports}}'", {}),
    ("$E ps --format '{{.Names}'", {}),
    # inspect
    ("$E inspect --format '{{.State.Pid}}' web", {"pids": True}),
    ("$E inspect -f '{{ .State.Pid }}' web", {"pids": True}),
    ("$E container inspect web --format '{{ .NetworkSettings.IPAddress }}'", {}),
    ("$E container inspect web --format '{{ .NetworkSettings.SandboxKey }}'", {}),
    ("$E inspect --format '{{.Name}}' web", {}),
    ("$E inspect --format '{{.Name | printf \"%q\"}}' web", {}),
    ("$E inspect --format '{{.HostConfig.PortBindings}}' web", {}),
    ("$E inspect --format '{{.NetworkSettings.Ports}}' web", {}),
    ("$E inspect --format '{{.HostConfig.NetworkMode}} {{.HostConfig.RestartPolicy}}' web", {}),
    ("$E inspect --format '{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}' web quitter", {}),
    ("$E inspect --format '{{.Config.Cmd}} {{.Config.Entrypoint}} {{.Path}} {{.Args}}' web", {}),
    ("$E inspect --format '{{.Config.Env}}' db", {}),
    ("$E inspect --format '{{json .Config.Labels}} {{.Config.Labels}}' db", {}),
    ("$E inspect --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}}{{end}}' web", {}),
    ("$E inspect --format '{{.Mounts}}' web", {}),
    ("$E inspect --format '{{.Config.ExposedPorts}}' web", {}),
    ("$E inspect --format '{{.Nope}}' web", {}),
    ("$E inspect --format '{{.State.Pid' web", {}),
    ("$E inspect --format '{{json .}}' web", {"json": True}),
    ("$E inspect web", {"json": True}),
    ("$E inspect nosuch", {}),
    ("$E inspect web nosuch --format '{{.Name}}'", {}),
    # logs, exec, top, port
    ("$E logs logger", {}),
    ("$E logs --tail 2 logger", {}),
    ("$E logs -t --tail 1 logger", {}),
    ("$E logs nosuch", {}),
    ("$E exec web echo hi", {}),
    ("$E exec web sh -c 'exit 4'", {}),
    ("$E exec web nosuchcmd", {}),
    ("$E exec -e A=1 -w /tmp web sh -c 'echo $A $PWD'", {}),
    ("$E exec nosuch true", {}),
    ("$E exec quitter true", {}),
    ("$E top web", {"table": True, "pids": True}),
    ("$E top nosuch", {}),
    ("$E port web", {}),
    ("$E port web 80", {}),
    ("$E port web 81", {}),
    ("$E port db", {}),
    # stop, kill, rm
    ("$E stop nosuch", {}),
    ("$E kill nosuch", {}),
    ("$E rm nosuch", {}),
    ("$E rm web", {}),
    ("$E kill quitter", {}),
    ("$E kill db", {}),
    ("$E stop -t 1 logger", {}),
    ("$E ps -a --format '{{.Names}} {{.Status}}'", {}),
    ("$E start logger", {}),
    ("$E rm -f web db logger quitter", {}),
    ("$E ps -a", {"table": True}),
    # networks
    ("$E network create testnet", {}),
    ("$E network create --internal internal", {}),
    ("$E network create testnet", {}),
    ("$E network create --subnet nonsense bad", {}),
    ("$E network ls", {"table": True}),
    ("$E network ls --format '{{.Name}} {{.Driver}} {{.Scope}}'", {}),
    ("$E network ls --filter name=testnet --format json", {}),
    ("$E network inspect testnet --format '{{.Name}} {{.Internal}} {{.Driver}} {{.Scope}} {{.EnableIPv6}}'", {}),
    ("$E network inspect internal --format '{{.Internal}} {{json .Labels}} {{.Options}}'", {}),
    ("$E network inspect --format '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}' testnet", {}),
    ("$E network inspect --format '{{.IPAM.Config}}' testnet", {}),
    ("$E network inspect nosuch", {}),
    ("$E run -d --name n1 --network testnet bb sleep 1000", {}),
    ("$E inspect --format '{{ .NetworkSettings.Networks.testnet.IPAddress }}' n1", {}),
    ("$E network inspect testnet --format '{{range .Containers}}{{.Name}} {{end}}'", {}),
    ("$E run --rm --network testnet bb ping -c 1 -W 2 n1", {}),
    ("$E run --rm --network nosuchnet bb true", {}),
    ("$E network rm testnet", {}),
    ("$E rm -f n1", {}),
    ("$E network rm testnet internal", {}),
    ("$E network rm nosuch", {}),
    ("$E network rm bridge", {}),
    # volumes
    ("$E volume create vol1", {}),
    ("$E volume ls", {"table": True}),
    ("$E volume inspect vol1 --format '{{.Name}} {{.Driver}}'", {}),
    ("$E run --rm -v vol1:/data bb sh -c 'echo x > /data/f && cat /data/f'", {}),
    ("$E volume rm vol1", {}),
    ("$E volume rm nosuch", {}),
    # registries (the box has no network: nothing can be reached)
    ("$E pull", {}),
    ("$E pull registry.invalid/nosuch:1", {}),
]

# Differences that are known, with the reason (docs/parity.md lists them). Keyed by the case's command.
IPV6 = ("Docker publishes each port on IPv4 and IPv6 (`0.0.0.0:8080` and `[::]:8080`); minotaur publishes "
        "on IPv4 only")
WORDING = ("the error says the same thing in minotaur's words (one lowercase line naming what failed); the "
           "exit status is Docker's")
SUBSET = ("minotaur's `inspect` document is a subset of Docker's: fields for features it lacks (AppArmor, "
          "blkio, graph driver data, exec IDs, …) are left out, not faked; nil lists are `[]`")
ACCEPTED = {
    "$E rmi nosuch": "Docker names the reference with its default tag (`nosuch:latest`); minotaur as given",
    "$E run --rm bb nosuchcommand": "runc's error chain vs the kernel's errno; both exit 127 " + "(" + WORDING + ")",
    "$E run --rm bb /etc": "runc's error chain vs the kernel's errno; both exit 126",
    "$E run --rm nosuchimage": "both try to pull the missing image from Docker Hub, which this box cannot reach; "
                               "the resolver's failure is worded by each engine's HTTP stack",
    "$E volume rm nosuch": WORDING + " (`no such volume: nosuch`, as minotaur names every missing object)",
    "$E pull": "usage errors are clap's, and exit 125 like every other usage error (Docker's CLI exits 1 for a "
               "missing argument)",
    "$E pull registry.invalid/nosuch:1": "both fail to resolve the registry's name in this box, which has no "
                                         "network; the resolver's failure is worded by each engine's HTTP stack",
    "$E run --rm -p 99999:80 bb true": WORDING,
    "$E run --rm --nosuchflag bb true": "usage errors are clap's, one line with a pointer to --help; both exit 125",
    "$E run": "usage errors are clap's, and exit 125 like every other usage error of `run` (Docker's CLI exits 1 "
              "for a missing argument but 125 for an unknown flag)",
    "$E run --name web bb true": WORDING,
    "$E ps": IPV6,
    "$E ps -a": IPV6,
    "$E ps --filter name=web": IPV6,
    "$E ps --filter nosuch=1": WORDING + "; minotaur lists the filters it knows",
    "$E ps --format 'table {{.Names}}\\t{{.Image}}\\t{{.Ports}}'": IPV6,
    "$E ps --filter name=web --format '{{json .}}'":
        IPV6 + "; Docker 28's client adds `Platform` (null from this daemon) and a virtual size it asks the "
               "daemon for; minotaur does not compute sizes",
    "$E ps --filter name=db --format json": "Docker 28's client adds `Platform`, null unless the daemon has API 1.46",
    "$E ps --format '{{.Names}} {{.Labels}} {{.Ports}}'": IPV6,
    "$E ps --format '{{.Names}'": "template errors are gtmpl's wording",
    "$E inspect --format '{{.State.Pid' web": "template errors are gtmpl's wording; Docker's inspect exits 64 "
                                              "on a template it cannot parse, minotaur 1",
    "$E container inspect web --format '{{ .NetworkSettings.SandboxKey }}'":
        "the namespace file lives where each engine keeps it (`/run/minotaur/netns/ID`)",
    "$E inspect --format '{{.NetworkSettings.Ports}}' web": IPV6,
    "$E inspect --format '{{.HostConfig.NetworkMode}} {{.HostConfig.RestartPolicy}}' web":
        SUBSET + "; the network mode is the network's name (`bridge`) where Docker says `default`",
    "$E inspect --format '{{.Config.ExposedPorts}}' web": SUBSET + " (no `ExposedPorts` for `-p` ports yet)",
    "$E inspect --format '{{.Nope}}' web": "an unknown field prints `<no value>` (Go's default); Docker fails "
                                           "because it retries on the raw JSON with missingkey=error",
    "$E inspect --format '{{json .}}' web": SUBSET,
    "$E inspect web": SUBSET,
    "$E exec web nosuchcmd": "Docker prints runc's error on stdout; minotaur prints its own on stderr; both exit 126",
    "$E exec quitter true": "Docker names the container by ID, minotaur by the name it was given; both exit 1",
    "$E port web": IPV6,
    "$E port web 80": IPV6,
    "$E kill nosuch": WORDING,
    "$E rm web": WORDING,
    "$E kill quitter": WORDING,
    "$E network create testnet": WORDING,
    "$E network create --subnet nonsense bad": WORDING,
    "$E network ls --filter name=testnet --format json":
        "Docker 28's client adds `IPv4` (false from this daemon, which predates it); minotaur does not guess it",
    "$E network inspect internal --format '{{.Internal}} {{json .Labels}} {{.Options}}'":
        "minotaur records the bridge it made in `com.docker.network.bridge.name`; Docker only when asked for one",
    "$E network rm testnet": WORDING + "; minotaur names the containers in the way",
    # Racy on both sides: lines written at once to stdout and stderr have no order between the streams.
    "$E logs --tail 2 logger": "lines written at once to stdout and stderr have no fixed order between the "
                               "streams, in either engine's log, so `--tail` may cut at another line",
    "$E logs -t --tail 1 logger": "see `logs --tail 2`",
}

TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
GO_TIME_RE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [+-]\d{4} [A-Z]+")
AGO_RE = re.compile(
    r"(Less than a second|About a minute|About an hour|\d+ (second|minute|hour|day|week|month|year)s?) ago")
UP_RE = re.compile(
    r"Up (Less than a second|About a minute|About an hour|\d+ (second|minute|hour|day|week|month|year)s?)")
IP_RE = re.compile(r"\b(?!0\.0\.0\.0\b)(?!127\.)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})\b")
MAC_RE = re.compile(r"\b[0-9a-f]{2}(:[0-9a-f]{2}){5}\b")
ID_RE = re.compile(r"\b(sha256:)?([0-9a-f]{64}|[0-9a-f]{12})\b")


class Ids:
    """Gives each distinct ID of one engine's run a stable name, in order of first appearance."""

    def __init__(self):
        self.names = {}

    def __call__(self, m):
        full = m.group(2)
        for known, name in self.names.items():
            if known.startswith(full) or full.startswith(known):
                return name
        self.names[full] = f"<ID{len(self.names) + 1}>"
        return self.names[full]


def normalise_text(text, ids, pids=False):
    text = TIME_RE.sub("<TIME>", text)
    text = GO_TIME_RE.sub("<TIME>", text)
    text = AGO_RE.sub("<AGO>", text)
    text = UP_RE.sub("Up <DUR>", text)
    text = MAC_RE.sub("<MAC>", text)
    text = IP_RE.sub("<IP>", text)
    text = ID_RE.sub(ids, text)
    text = re.sub(r"\b\d+\.\d+( ms\b|/)", r"<MS>\1", text)
    if pids:
        text = re.sub(r"\b\d\d:\d\d(:\d\d)?\b", "<T>", text)
        text = re.sub(r"\b\d+\b", "<N>", text)
    return text


STDERR_DROP = [
    re.compile(r"^Run '.*--help' for more information$"),
    re.compile(r"^See '.*--help'\.?$"),
    re.compile(r"^\s*$"),
    # dockerd 20.10's libnetwork appends its helper's exit status to network errors.
    re.compile(r"^exit status \d+$"),
]
PREFIXES = ["docker: ", "minotaur: ", "Error response from daemon: ", "Error: ", "error: "]


def normalise_stderr(text, ids):
    lines = []
    for line in text.splitlines():
        if any(r.match(line) for r in STDERR_DROP):
            continue
        changed = True
        while changed:
            changed = False
            for p in PREFIXES:
                if line.startswith(p):
                    line = line[len(p):]
                    changed = True
        line = re.sub(r"\b(docker|minotaur)\b", "ENGINE", line)
        if line[:1].isupper() and line[1:2].islower():
            line = line[0].lower() + line[1:]
        lines.append(line)
    return normalise_text("\n".join(lines), ids)


def cells(text):
    return "".join(" | ".join(re.split(r" {3,}", l.rstrip())) + "\n" for l in text.splitlines())


def flatten(v, path="", out=None):
    out = {} if out is None else out
    if isinstance(v, dict):
        for k, x in v.items():
            flatten(x, f"{path}.{k}", out)
    elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        for i, x in enumerate(v):
            flatten(x, f"{path}[{i}]", out)
    else:
        out[path] = json.dumps(v, sort_keys=True)
    return out


def json_diff(docker, mino, ids_d, ids_m):
    """A field-by-field comparison of two JSON outputs: lines naming what is missing, extra or different."""
    try:
        d = json.loads(docker) if docker.strip() else None
        m = json.loads(mino) if mino.strip() else None
    except json.JSONDecodeError as e:
        return [f"not JSON: {e}"]
    fd = {k: normalise_text(v, ids_d) for k, v in flatten(d).items()}
    fm = {k: normalise_text(v, ids_m) for k, v in flatten(m).items()}
    missing = sorted(k for k in fd if k not in fm)
    extra = sorted(k for k in fm if k not in fd)
    differ = sorted(k for k in fd if k in fm and fd[k] != fm[k])
    out = []
    if missing:
        out.append(f"{len(missing)} fields only in Docker's: {', '.join(missing)}")
    if extra:
        out.append(f"{len(extra)} fields only in minotaur's: {', '.join(extra)}")
    for k in differ:
        out.append(f"{k}: Docker {fd[k]}, minotaur {fm[k]}")
    return out


def run_all(engine, bind):
    env = dict(os.environ, E=engine, BIND=bind)
    results = []
    for cmd, opts in CASES:
        try:
            p = subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL)
            results.append((p.stdout, p.stderr, p.returncode))
        except subprocess.TimeoutExpired as e:
            results.append((e.stdout or "", (e.stderr or "") + "\n(timed out)", -1))
    return results


def fence(text):
    return "```\n" + (text if text.endswith("\n") or not text else text + "\n") + "```\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docker", required=True)
    ap.add_argument("--minotaur", required=True)
    ap.add_argument("--bind", required=True)
    ap.add_argument("--versions", default="")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    docker = run_all(a.docker, a.bind)
    mino = run_all(a.minotaur, a.bind)
    compared = 0
    diffs = []  # (number, command, [what], details, accepted reason or None)
    for i, ((cmd, opts), d, m) in enumerate(zip(CASES, docker, mino), 1):
        if opts.get("setup"):
            continue
        compared += 1
        # IDs are named per invocation, in order of appearance: one engine may show IDs the other has not
        # shown before (endpoints, sandboxes).
        ids_d, ids_m = Ids(), Ids()
        what = []
        details = ""
        if opts.get("json") and d[2] == 0 and m[2] == 0:
            lines = json_diff(d[0], m[0], ids_d, ids_m)
            if lines:
                what.append("stdout")
                details += "stdout, field by field:\n" + fence("\n".join(lines))
        else:
            so_d = normalise_text(d[0], ids_d, opts.get("pids", False))
            so_m = normalise_text(m[0], ids_m, opts.get("pids", False))
            if opts.get("table"):
                so_d, so_m = cells(so_d), cells(so_m)
            if opts.get("images"):
                # The built-in `host` image has no Docker counterpart (docs/parity.md).
                so_m = "".join(l for l in so_m.splitlines(True)
                               if not re.match(r"^host(:latest)?$|^host \| latest( \||$)|^host\s+latest\s+host\s", l))
            if so_d != so_m:
                what.append("stdout")
                details += "stdout, Docker:\n" + fence(so_d) + "stdout, minotaur:\n" + fence(so_m)
        se_d = normalise_stderr(d[1], ids_d)
        se_m = normalise_stderr(m[1], ids_m)
        if se_d != se_m:
            what.append("stderr")
            details += "stderr, Docker:\n" + fence(se_d) + "stderr, minotaur:\n" + fence(se_m)
        if d[2] != m[2]:
            what.append("exit")
            details += f"exit: Docker {d[2]}, minotaur {m[2]}\n"
        if what:
            diffs.append((i, cmd, what, details, ACCEPTED.get(cmd)))

    accepted = [x for x in diffs if x[4]]
    unexplained = [x for x in diffs if not x[4]]
    with open(a.out + ".md", "w") as f:
        f.write("# Docker parity run\n\n")
        f.write(f"{a.versions}\n\n")
        f.write(f"{compared} invocations compared; {len(diffs)} differ: {len(accepted)} accepted, "
                f"{len(unexplained)} unexplained.\n\n")
        for title, group in (("Unexplained", unexplained), ("Accepted", accepted)):
            f.write(f"## {title} ({len(group)})\n\n")
            for i, cmd, what, details, reason in group:
                f.write(f"### {i}. `{cmd}` ({', '.join(what)})\n\n")
                if reason:
                    f.write(f"Accepted: {reason}\n\n")
                f.write(details + "\n")
    with open(a.out + ".json", "w") as f:
        json.dump({"compared": compared, "differ": len(diffs), "accepted": len(accepted),
                   "unexplained": len(unexplained),
                   "cases": [{"n": i, "command": c, "differs_in": w, "accepted": r} for i, c, w, _, r in diffs]},
                  f, indent=1)
    print(f"{compared} invocations compared; {len(diffs)} differ: {len(accepted)} accepted, "
          f"{len(unexplained)} unexplained")
    for i, cmd, what, _, reason in diffs:
        print(f"  {'accepted' if reason else 'DIFFERS '} {i:3}. {cmd}  ({', '.join(what)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
