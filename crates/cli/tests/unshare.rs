//! `minotaur unshare` against util-linux's unshare, inside the box.

use std::process::Output;

use minotaur_testhost::TestHost;

const BIN: &str = env!("CARGO_BIN_EXE_minotaur");

fn host() -> Option<TestHost> {
    TestHost::new(BIN)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `unshare ARGS -- sh -c SCRIPT` with util-linux and with minotaur; both must succeed with the same
/// output, which is returned.
fn same(h: &TestHost, args: &str, script: &str) -> String {
    let theirs = h.sh_ok(&format!("unshare {args} -- sh -c '{script}'"));
    let ours = h.sh_ok(&format!("{BIN} unshare {args} -- sh -c '{script}'"));
    assert_eq!(ours, theirs, "unshare {args} -- sh -c '{script}'");
    ours
}

#[test]
fn a_new_network_namespace_has_only_a_loopback_that_is_down() {
    let Some(h) = host() else { return };
    let out = same(&h, "-n", "ip -o link");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("1: lo: <LOOPBACK>"), "{out}");
    // Without a program minotaur runs $SHELL.
    let out = h.sh_ok(&format!(
        "echo 'ip -o link' | SHELL=/bin/sh {BIN} unshare -n"
    ));
    assert!(
        out.starts_with("1: lo: <LOOPBACK>") && !out.contains("uplink0"),
        "{out}"
    );
}

#[test]
fn a_new_uts_namespace_keeps_the_hostname_change_inside() {
    let Some(h) = host() else { return };
    let out = same(&h, "-u", "hostname changed && hostname");
    assert_eq!(out, "changed\n");
    assert_eq!(h.sh_ok("hostname"), "minotaur-box\n");
}

#[test]
fn a_new_pid_namespace_with_fork_and_mount_proc_sees_itself_as_pid_1() {
    let Some(h) = host() else { return };
    let out = same(
        &h,
        "-p -f --mount-proc",
        // The shell counts the processes itself (a glob, no child): `ls /proc | grep -c` raced with grep's
        // own fork, and saw 2 or 3 processes.
        "echo $$; cat /proc/1/comm; set -- /proc/[0-9]*; echo $#",
    );
    assert_eq!(out, "1\nsh\n1\n");
    // The box's /proc is untouched.
    let box_procs = h.sh_ok("ls /proc | grep -c '^[0-9]'");
    assert!(box_procs.trim().parse::<u32>().unwrap() > 3, "{box_procs}");
}

#[test]
fn a_network_namespace_kept_on_a_file_outlives_its_program() {
    let Some(h) = host() else { return };
    // minotaur makes the file; util-linux nsenter enters it.
    h.sh_ok(&format!(
        "{BIN} unshare --net=/run/kept -- ip link add dummy-kept type veth peer name dummy-kept2"
    ));
    let seen = h.sh_ok("nsenter --net=/run/kept ip -o link");
    assert!(seen.contains("dummy-kept"), "{seen}");
    // util-linux makes it (on a file that exists, as it needs); minotaur enters it.
    h.sh_ok("touch /run/theirs && unshare --net=/run/theirs ip link add dummy-theirs type veth peer name dummy-theirs2");
    let out = h.mino(&["nsenter", "--net=/run/theirs", "ip", "-o", "link"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("dummy-theirs"));
    // Kept uts and a forked pid namespace too.
    h.sh_ok(&format!(
        "{BIN} unshare -f --uts=/run/uts --pid=/run/pid -- hostname kept-host"
    ));
    assert_eq!(h.sh_ok("nsenter --uts=/run/uts hostname"), "kept-host\n");
    // Its only process is gone, so nothing can fork into it any more, but it can still be entered.
    h.sh_ok("nsenter --pid=/run/pid -F -- true");
}

#[test]
fn a_failed_unshare_leaves_no_file_behind() {
    let Some(h) = host() else { return };
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["--net=/nonexistent-dir/ns", "true"],
            "cannot create /nonexistent-dir/ns",
            "",
        ),
        (&["--pid=/run/p", "true"], "needs --fork", "/run/p"),
    ];
    for (args, msg, file) in cases {
        let out = h.mino(&[&["unshare"][..], args].concat());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.starts_with("minotaur: ") && err.contains(msg),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        if !file.is_empty() {
            assert!(
                !h.sh(&format!("test -e {file}")).status.success(),
                "{file} left behind"
            );
        }
    }
    // Without the right to unshare (not root): one line, exit 1, no file, like util-linux's exit code.
    let nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups";
    h.sh_ok("mkdir -m 777 /run/open");
    let theirs = h.sh(&format!("{nobody} unshare -n true"));
    let ours = h.sh(&format!("{nobody} {BIN} unshare --net=/run/open/ns true"));
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(ours.status.code(), Some(1));
    let err = stderr(&ours);
    assert!(
        err.contains("cannot unshare the net namespace") && err.contains("EPERM"),
        "{err}"
    );
    assert!(
        !h.sh("test -e /run/open/ns").status.success(),
        "namespace file left behind"
    );
    // Program not found / not executable: 127 / 126, like util-linux.
    for prog in ["no-such-program", "/etc"] {
        let theirs = h.sh(&format!("unshare -n {prog}"));
        let ours = h.mino(&["unshare", "-n", prog]);
        assert_eq!(ours.status.code(), theirs.status.code(), "{prog}");
        assert!(stderr(&ours).starts_with(&format!("minotaur: failed to execute {prog}:")));
    }
}

#[test]
fn map_root_user_makes_an_unprivileged_user_root_in_a_new_user_namespace() {
    let Some(h) = host() else { return };
    let nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups";
    let script = "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map";
    let theirs = h.sh_ok(&format!("{nobody} unshare -r sh -c '{script}'"));
    let ours = h.sh_ok(&format!("{nobody} {BIN} unshare -r sh -c '{script}'"));
    assert_eq!(ours, theirs);
    assert!(ours.starts_with("0\n0\n"), "{ours}");
    assert!(ours.contains("65534"), "{ours}");
}
