//! The runc and crun CVE history as tests: each test is named after the attack it pins, plays it from a
//! hostile image (a rootfs made here and loaded with `minotaur import`) or from inside a container, and
//! checks that it fails. Races run a bounded number of attempts.

mod common;

use common::{host, import_busybox, inspect, ok, wait_status, wait_until_ok};
use minotaur_testhost::TestHost;

/// A busybox image with the applets these tests use.
fn hostile(h: &TestHost, name: &str, extra: &str) {
    let applets = "for c in grep readlink stat tail test touch; do ln -s busybox $r/bin/$c; done";
    import_busybox(h, name, &format!("{applets}\n{extra}"));
}

/// The capability sets of a process as `/proc/PID/status` shows them, one `Name:\tHEX` per line.
fn cap_sets(h: &TestHost, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["grep", "^Cap[IPEA][nrfm][hmfb]:", "/proc/self/status"]);
    ok(h, &all)
}

const NO_CAPS: &str = "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapAmb:\t0000000000000000";

/// CVE-2022-24769: a process started as a user other than root must hold no capability, in any set, also
/// before its execve and in an init that stays as PID 1.
#[test]
fn cve_2022_24769_a_non_root_user_holds_no_capabilities() {
    let Some(h) = host() else { return };
    hostile(&h, "caps", "");
    assert_eq!(
        cap_sets(&h, &["run", "--rm", "-u", "1000", "caps"]),
        NO_CAPS
    );
    ok(
        &h,
        &[
            "run", "-d", "--name", "c", "-u", "1000", "caps", "sleep", "1000",
        ],
    );
    assert_eq!(cap_sets(&h, &["exec", "c"]), NO_CAPS);
    // PID 1 (the runtime's init, which stays to reap) runs as the user too, without capabilities.
    assert_eq!(
        ok(&h, &["exec", "c", "grep", "^CapPrm:", "/proc/1/status"]),
        "CapPrm:\t0000000000000000"
    );
    ok(&h, &["run", "-d", "--name", "r", "caps", "sleep", "1000"]);
    assert_eq!(cap_sets(&h, &["exec", "-u", "1000", "r"]), NO_CAPS);
    assert_eq!(cap_sets(&h, &["exec", "-u", "1000:1000", "r"]), NO_CAPS);
}

/// CVE-2022-29162: `exec` must not hand the container's capabilities down as inheritable (or ambient) ones,
/// so that a file with inheritable file capabilities gains nothing it would not have had from root.
#[test]
fn cve_2022_29162_exec_has_no_inheritable_capabilities() {
    let Some(h) = host() else { return };
    hostile(&h, "inh", "");
    ok(&h, &["run", "-d", "--name", "c", "inh", "sleep", "1000"]);
    let sets = cap_sets(&h, &["exec", "c"]);
    assert!(
        sets.contains("CapInh:\t0000000000000000\n") && sets.contains("CapAmb:\t0000000000000000"),
        "{sets}"
    );
    assert!(sets.contains("CapEff:\t00000000a80425fb"), "{sets}");
    let sets = cap_sets(&h, &["run", "--rm", "--cap-add", "ALL", "inh"]);
    assert!(
        sets.contains("CapInh:\t0000000000000000\n") && sets.contains("CapAmb:\t0000000000000000"),
        "{sets}"
    );
}

/// CVE-2024-21626: a descriptor of the runtime left open while it sets the working directory
/// (`-w /proc/self/fd/N`) would put the process in a directory outside the container's root, from which
/// `..` reaches the host's. Each N either fails or leaves the process inside its root.
#[test]
fn cve_2024_21626_working_directory_cannot_be_a_leaked_descriptor() {
    let Some(h) = host() else { return };
    hostile(&h, "cwd", "");
    let secret = format!("secret-{}", std::process::id());
    let marker = h.dir().join("cve-2024-21626");
    std::fs::write(&marker, &secret).unwrap();
    let up = "../".repeat(40);
    let probe = format!("cat {up}{} 2>/dev/null; pwd", marker.display());
    ok(&h, &["run", "-d", "--name", "c", "cwd", "sleep", "1000"]);
    for n in 3..=20 {
        let dir = format!("/proc/self/fd/{n}");
        for args in [
            vec!["run", "--rm", "-w", &dir, "cwd", "sh", "-c", &probe],
            vec!["exec", "-w", &dir, "c", "sh", "-c", &probe],
        ] {
            let out = h.mino(&args);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                !stdout.contains(&secret),
                "{args:?} read a host file: {out:?}"
            );
        }
    }
}
