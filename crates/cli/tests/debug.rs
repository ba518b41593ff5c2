//! `debug`: the tutorial's "debugging the Minotaur" in one command. A toolbox image with busybox, a target
//! with no tools at all (its image is one static binary, it runs read-only as nobody), and the host's or the
//! toolbox's tools run in the target's namespaces with its root at /target, changing nothing in it.

mod common;

use common::{box_processes, fails, host, import_busybox, ok, status, Host};

/// Imports `web`: an image with nothing but busybox named `httpd` (so it runs only the httpd applet: no
/// shell, no tools) and a page.
fn import_web(h: &Host) {
    h.sh_ok(
        "set -e; r=/tmp/root-web; mkdir -p $r/www
         cp \"$(command -v busybox)\" $r/httpd
         echo 'the minotaur' > $r/www/index.html
         tar -C $r -cf $r.tar .",
    );
    ok(h, &["import", "/tmp/root-web.tar", "web"]);
}

/// Runs the target: read-only, as nobody, serving on 8080; returns its address once it answers.
fn run_web(h: &Host) -> String {
    ok(
        h,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "--read-only",
            "-u",
            "65534",
            "-p",
            "8080:8080",
            "web",
            "/httpd",
            "-f",
            "-p",
            "8080",
            "-h",
            "/www",
        ],
    );
    let ip = ok(
        h,
        &[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            "web",
        ],
    );
    common::wait_until_ok(h, &format!("curl -sf http://{ip}:8080/ >/dev/null"));
    ip
}

/// What a container's writable layer holds, with sizes: the same before and after a debug session.
fn upper(h: &Host, c: &str) -> String {
    let id = ok(h, &["inspect", "-f", "{{.Id}}", c]);
    let dir = h.dir().join("state/containers").join(id).join("upper");
    h.sh_ok(&format!(
        "cd {} && find . -printf '%p %s %y\\n' | sort",
        dir.display()
    ))
}

/// Mounts of the box (mount points only): a session leaves none.
fn mounts(h: &Host) -> String {
    h.sh_ok("awk '{print $5}' /proc/self/mountinfo | sort")
}

#[test]
fn debug_runs_host_and_toolbox_tools_in_a_target_without_tools() {
    let Some(h) = host() else { return };
    import_busybox(&h, "toolbox", "");
    import_web(&h);
    let ip = run_web(&h);
    let (before, mounts_before, procs_before) = (upper(&h, "web"), mounts(&h), box_processes(&h));

    // The host's tools, in the target's network, PID and UTS namespaces, its root at /target.
    assert_eq!(
        ok(&h, &["debug", "web", "--", "cat", "/target/www/index.html"]),
        "the minotaur"
    );
    let addrs = ok(
        &h,
        &[
            "debug", "web", "--", "ip", "-o", "-4", "addr", "show", "eth0",
        ],
    );
    assert!(addrs.contains(&format!("{ip}/")), "{addrs}");
    assert_eq!(
        ok(&h, &["debug", "web", "--", "cat", "/proc/1/cmdline"]),
        "/httpd\0-f\0-p\08080\0-h\0/www\0"
    );
    let hostname = ok(&h, &["inspect", "-f", "{{.Config.Hostname}}", "web"]);
    assert_eq!(ok(&h, &["debug", "web", "--", "hostname"]), hostname);
    // The host's curl reaches the target's own localhost.
    assert_eq!(
        ok(
            &h,
            &[
                "debug",
                "web",
                "--",
                "curl",
                "-sf",
                "http://127.0.0.1:8080/"
            ]
        ),
        "the minotaur"
    );
    // The tools are read-only, as the host image is; /tmp is the session's.
    assert_ne!(status(&h, &["debug", "web", "--", "touch", "/usr/x"]), 0);
    ok(&h, &["debug", "web", "--", "touch", "/tmp/x"]);

    // The toolbox's tools: busybox's sh, which the target does not have.
    let out = ok(
        &h,
        &[
            "debug",
            "--image",
            "toolbox",
            "web",
            "--",
            "sh",
            "-c",
            "ls /target/httpd; cat /target/www/index.html; hostname; ls /bin/sh",
        ],
    );
    assert_eq!(
        out,
        format!("/target/httpd\nthe minotaur\n{hostname}\n/bin/sh")
    );
    // Exit codes pass through; the capabilities are the target's.
    assert_eq!(status(&h, &["debug", "web", "--", "sh", "-c", "exit 7"]), 7);
    assert_eq!(
        ok(
            &h,
            &[
                "debug",
                "web",
                "--",
                "grep",
                "^CapBnd:",
                "/proc/self/status"
            ]
        ),
        "CapBnd:\t00000000a80425fb"
    );

    // Nothing changed in the target, and nothing is left of the sessions.
    assert_eq!(upper(&h, "web"), before);
    assert_eq!(mounts(&h), mounts_before);
    assert_eq!(box_processes(&h), procs_before);
    assert_eq!(ok(&h, &["ps", "-a", "-q"]).lines().count(), 1);
    assert_eq!(
        h.sh_ok(&format!("curl -sf http://{ip}:8080/")).trim(),
        "the minotaur"
    );
}
