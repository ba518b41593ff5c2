//! `minotaur nsenter` against util-linux's nsenter, on processes put in namespaces by hand inside the box.

use std::process::Output;

use minotaur_testhost::{wait_until, TestHost};

const BIN: &str = env!("CARGO_BIN_EXE_minotaur");

fn host() -> Option<TestHost> {
    TestHost::new(BIN)
}

/// Starts `cmd` in the background inside the box. `cmd` must write its PID (as the box sees it) to
/// `/tmp/NAME.pid` once its namespaces are ready; returns that PID.
fn spawn(h: &TestHost, name: &str, cmd: &str) -> i32 {
    h.sh_ok(&format!("{cmd} </dev/null >/dev/null 2>&1 &"));
    let file = h.dir().join(format!("tmp/{name}.pid"));
    wait_until(&format!("{name} to start"), || Ok(file.exists())).unwrap();
    std::fs::read_to_string(&file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A shell line that records the shell's PID for [`spawn`] and then sleeps as that PID.
fn ready(name: &str) -> String {
    format!(
        "echo $$ > /tmp/{name}.tmp && mv /tmp/{name}.tmp /tmp/{name}.pid && exec sleep infinity"
    )
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs the same `nsenter ARGS -- sh -c SCRIPT` with util-linux and with minotaur; both must succeed with
/// the same output, which is returned.
fn same(h: &TestHost, args: &str, script: &str) -> String {
    let theirs = h.sh_ok(&format!("nsenter {args} -- sh -c '{script}'"));
    let ours = h.sh_ok(&format!("{BIN} nsenter {args} -- sh -c '{script}'"));
    assert_eq!(ours, theirs, "nsenter {args} -- sh -c '{script}'");
    ours
}

#[test]
fn entering_net_and_uts_of_a_process_matches_util_linux() {
    let Some(h) = host() else { return };
    let p = spawn(
        &h,
        "a",
        &format!(
            "unshare -nu --fork sh -c 'hostname a-host && ip link add dummy-a type veth peer name dummy-a2 && {}'",
            ready("a")
        ),
    );
    let script = "hostname; ip -o link; readlink /proc/self/ns/net /proc/self/ns/uts";
    let both = same(&h, &format!("-t {p} -n -u"), script);
    assert!(both.starts_with("a-host\n"), "{both}");
    assert!(both.contains("dummy-a"), "{both}");
    assert!(!both.contains("uplink0"), "{both}");
    // -n alone takes only the network: the hostname stays the box's.
    let net = same(&h, &format!("-t {p} -n"), script);
    assert!(net.starts_with("minotaur-box\n"), "{net}");
    assert!(net.contains("dummy-a"), "{net}");
    same(&h, &format!("-t {p} -u"), script);
    same(
        &h,
        &format!("-t {p} --all"),
        "readlink /proc/self/ns/*; pwd",
    );
}

#[test]
fn entering_pid_and_mount_of_a_process_matches_util_linux() {
    let Some(h) = host() else { return };
    // The shell is PID 1 of its namespace, so it finds its box PID from outside: the child of unshare.
    let unshare: i32 = h
        .sh_ok(
            "unshare -mp --fork --mount-proc sh -c \
             'mount -t tmpfs none /mnt && echo from-b > /mnt/marker && touch /tmp/b.ready && exec sleep infinity' \
             </dev/null >/dev/null 2>&1 & echo $!",
        )
        .trim()
        .parse()
        .unwrap();
    let ready = h.dir().join("tmp/b.ready");
    wait_until("b to start", || Ok(ready.exists())).unwrap();
    let p = h
        .sh_ok(&format!("cat /proc/{unshare}/task/{unshare}/children"))
        .trim()
        .to_owned();
    let script =
        "readlink /proc/self/ns/pid /proc/self/ns/mnt; cat /mnt/marker; cat /proc/1/comm; pwd";
    let both = same(&h, &format!("-t {p} -m -p"), script);
    assert!(both.contains("from-b\nsleep\n"), "{both}");
    // With -r and -w the root and working directory are the target's (both `/`).
    same(&h, &format!("-t {p} -m -p -w"), "pwd; cat /mnt/marker");
    let theirs = h.sh_ok(&format!("nsenter -t {p} -m -r -- cat /mnt/marker"));
    let ours = h.sh_ok(&format!(
        "{BIN} nsenter -t {p} -m --root -- cat /mnt/marker"
    ));
    assert_eq!(ours, theirs);
}

#[test]
fn namespaces_may_come_from_different_targets() {
    let Some(h) = host() else { return };
    let a = spawn(
        &h,
        "toolbox",
        &format!(
            "unshare -m --propagation private sh -c 'mount -t tmpfs none /mnt && echo from-toolbox > /mnt/marker && {}'",
            ready("toolbox")
        ),
    );
    let b = spawn(
        &h,
        "web",
        &format!(
            "unshare -n sh -c 'ip link add dummy-web type veth peer name dummy-web2 && {}'",
            ready("web")
        ),
    );
    let script = "cat /mnt/marker; ip -o link";
    for args in [
        format!("--mount={a} --net={b}"),
        format!("--mount=/proc/{a}/ns/mnt --net={b}"),
        format!("-t {a} -m --net=/proc/{b}/ns/net"),
    ] {
        let out = h.mino(
            &[
                &["nsenter"][..],
                &args_split(&args),
                &["--", "sh", "-c", script],
            ]
            .concat(),
        );
        assert!(out.status.success(), "{args}: {}", stderr(&out));
        let out = text(&out);
        assert!(out.starts_with("from-toolbox\n"), "{args}: {out}");
        assert!(out.contains("dummy-web"), "{args}: {out}");
        assert!(!out.contains("uplink0"), "{args}: {out}");
    }
    // Neither half alone sees both.
    let out = text(&h.mino(&["nsenter", &format!("--net={b}"), "--", "sh", "-c", script]));
    assert!(
        !out.contains("from-toolbox") && out.contains("dummy-web"),
        "{out}"
    );
    let out = text(&h.mino(&["nsenter", &format!("--mount={a}"), "--", "sh", "-c", script]));
    assert!(
        out.contains("from-toolbox") && !out.contains("dummy-web"),
        "{out}"
    );
}

fn args_split(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

#[test]
fn a_named_network_namespace_is_a_target() {
    let Some(h) = host() else { return };
    h.sh_ok("ip netns add web && ip -n web link add dummy-named type veth peer name dummy-named2");
    let theirs = h.sh_ok("nsenter --net=/run/netns/web ip -o link");
    assert!(theirs.contains("dummy-named"), "{theirs}");
    for args in [
        &["--net=web"][..],
        &["--net=/run/netns/web"],
        &["-t", "web", "-n"],
    ] {
        let out = h.mino(&[&["nsenter"][..], args, &["ip", "-o", "link"]].concat());
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert_eq!(text(&out), theirs, "{args:?}");
    }
    // A netns name has no mount namespace.
    let out = h.mino(&["nsenter", "--mount=web", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no mnt namespace named \"web\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_input_fails_with_one_line_and_util_linux_exit_codes() {
    let Some(h) = host() else { return };
    let p = spawn(&h, "c", &format!("unshare -n sh -c '{}'", ready("c")));
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["-t", "999999", "-n", "true"],
            1,
            "no process with PID 999999",
        ),
        (
            &["--net=nosuch", "true"],
            1,
            "no net namespace named \"nosuch\"",
        ),
        (
            &["--net=/etc/hostname", "true"],
            1,
            "/etc/hostname is not a namespace file",
        ),
        (
            &["--net=/proc/self/ns/uts", "true"],
            1,
            "is a uts namespace, not a net namespace",
        ),
        (
            &["--net=/nonexistent/ns", "true"],
            1,
            "cannot open /nonexistent/ns",
        ),
        (
            &["-n", "true"],
            1,
            "no target specified for the net namespace",
        ),
        (&["-t", "1", "true"], 1, "no namespace specified"),
    ];
    for (args, code, msg) in cases {
        let out = h.mino(&[&["nsenter"][..], args].concat());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {err}");
        assert!(
            err.starts_with("minotaur: ") && err.contains(msg),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
    // Program not found / not executable / exit status, the same as util-linux.
    let p = p.to_string();
    for prog in [&["no-such-program"][..], &["/etc"], &["sh", "-c", "exit 7"]] {
        let theirs = h
            .command("nsenter")
            .args(["-t", &p, "-n", "--"])
            .args(prog)
            .output()
            .unwrap();
        let ours = h.mino(&[&["nsenter", "-t", &p, "-n", "--"][..], prog].concat());
        assert_eq!(
            ours.status.code(),
            theirs.status.code(),
            "{prog:?}: {}",
            stderr(&ours)
        );
        assert_ne!(ours.status.code(), Some(0));
    }
    let out = h.mino(&["nsenter", "-t", &p, "-n", "no-such-program"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(stderr(&out).starts_with("minotaur: failed to execute no-such-program:"));
    // Killed by a signal in a forked child: 128+9, as a shell reports it.
    let out = h.mino(&[
        "nsenter",
        "-t",
        &p,
        "-n",
        "-p",
        "--",
        "sh",
        "-c",
        "kill -9 $$",
    ]);
    assert_eq!(out.status.code(), Some(137));
}

#[test]
fn entering_without_privilege_names_the_namespace_and_process() {
    let Some(h) = host() else { return };
    let p = spawn(&h, "d", &format!("unshare -n sh -c '{}'", ready("d")));
    let theirs = h.sh(&format!(
        "setpriv --reuid=65534 --regid=65534 --clear-groups nsenter -t {p} -n true"
    ));
    let ours = h.sh(&format!(
        "setpriv --reuid=65534 --regid=65534 --clear-groups {BIN} nsenter -t {p} -n true"
    ));
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(ours.status.code(), Some(1));
    let err = stderr(&ours);
    assert!(
        err.contains(&format!("cannot join the net namespace of process {p}")),
        "{err}"
    );
    assert!(err.contains("EPERM"), "{err}");
}

#[test]
fn entering_an_unprivileged_user_namespace_matches_util_linux() {
    let Some(h) = host() else { return };
    // setpriv, unshare and sh all exec, so $! ends up as the sleep, in its own user and network namespaces.
    let p = h
        .sh_ok(
            "setpriv --reuid=65534 --regid=65534 --clear-groups unshare -U -r -n sh -c 'exec sleep infinity' \
             </dev/null >/dev/null 2>&1 & echo $!",
        )
        .trim()
        .to_owned();
    wait_until("the user namespace to be ready", || {
        Ok(h.sh(&format!("cat /proc/{p}/comm")).stdout == b"sleep\n")
    })
    .unwrap();
    let script = "id -u; id -g; ip -o link | wc -l; readlink /proc/self/ns/user";
    let root = same(&h, &format!("-t {p} -U -n"), script);
    assert!(root.starts_with("0\n0\n1\n"), "{root}");
    same(&h, &format!("-t {p} --all"), script);
    let kept = same(&h, &format!("-t {p} -U --preserve-credentials"), script);
    assert!(kept.starts_with("65534\n65534\n"), "{kept}");
}
