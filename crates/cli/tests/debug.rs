//! `debug`: the tutorial's "debugging the Minotaur" in one command. A toolbox image with busybox, a target
//! with no tools at all (its image is one static binary, it runs read-only as nobody), and the host's or the
//! toolbox's tools run in the target's namespaces with its root at /target, changing nothing in it.

mod common;

use common::{box_processes, fails, host, import_busybox, ok, show, status, Host};

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

    // A terminal, as with exec: from a devpts instance of the session's own.
    let tty = h.sh_ok(&format!(
        "script -qec '{} debug -t web -- sh -c \"tty; ls -1 /dev/pts\"' /dev/null",
        env!("CARGO_BIN_EXE_minotaur")
    ));
    assert_eq!(tty.replace('\r', ""), "/dev/pts/0\n0\nptmx\n");

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

#[test]
fn debug_works_on_a_stopped_target_and_mixes_namespaces() {
    let Some(h) = host() else { return };
    import_busybox(&h, "toolbox", "");
    import_web(&h);
    let ip = run_web(&h);
    ok(
        &h,
        &["run", "-d", "--name", "tb", "toolbox", "sleep", "1000"],
    );
    let hostname = ok(&h, &["inspect", "-f", "{{.Config.Hostname}}", "web"]);

    // Another container's filesystem as the tools, the box's PID namespace, a named netns, a PID's UTS.
    h.sh_ok("ip netns add dbg");
    let web_pid = ok(&h, &["inspect", "-f", "{{.State.Pid}}", "web"]);
    let out = ok(
        &h,
        &[
            "debug", "--ns", "mnt=tb", "--ns", "pid=host", "--ns", "net=dbg", "--ns",
            &format!("uts={web_pid}"), "web", "--", "sh", "-c",
            "ls /bin/sh; cat /target/www/index.html; hostname; ls /sys/class/net; cat /proc/1/cmdline",
        ],
    );
    let init = h.sh_ok("cat /proc/1/cmdline");
    assert_eq!(
        out,
        format!("/bin/sh\nthe minotaur\n{hostname}\nlo\n{init}"),
        "the box's PID 1 is its init"
    );
    let out = ok(
        &h,
        &[
            "debug",
            "--ns",
            "net=/run/netns/dbg",
            "--ns",
            "uts=host",
            "web",
            "--",
            "sh",
            "-c",
            "hostname; ip -o link | wc -l",
        ],
    );
    assert_eq!(out, "minotaur-box\n1");

    // Stopped: its layers at /target, its network namespace (with its address) still there.
    let before = upper(&h, "web");
    ok(&h, &["kill", "web"]);
    common::wait_status(&h, "web", "exited");
    let mounts_before = mounts(&h);
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
    assert_eq!(ok(&h, &["debug", "web", "--", "hostname"]), hostname);
    assert_ne!(
        status(&h, &["debug", "web", "--", "touch", "/target/www/x"]),
        0,
        "a stopped target's root is read-only"
    );
    // No command: a shell, reading standard input.
    let out = h
        .minotaur()
        .args(["debug", "--image", "toolbox", "web"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(b"cat /target/www/index.html; exit 3\n")?;
            child.wait_with_output()
        })
        .expect("running debug");
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "the minotaur\n");
    assert_eq!(upper(&h, "web"), before);
    assert_eq!(mounts(&h), mounts_before);
    h.sh_ok("ip netns delete dbg");
}

#[test]
fn debug_refuses_bad_input_with_one_line() {
    let Some(h) = host() else { return };
    import_web(&h);
    run_web(&h);
    let err = fails(&h, &["debug", "nosuch", "--", "true"], 125);
    assert!(err.contains("nosuch"), "{err}");
    // A missing toolbox is pulled first, as `run` does; the box's registry lookup fails, naming it.
    let out = h.mino(&["debug", "--image", "nosuch", "web", "--", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Unable to find image 'nosuch:latest' locally"),
        "{err}"
    );
    assert!(
        err.lines().last().unwrap_or_default().contains("nosuch"),
        "{err}"
    );
    let err = fails(&h, &["debug", "--ns", "net", "web", "--", "true"], 125);
    assert!(err.contains("TYPE=SOURCE"), "{err}");
    let err = fails(
        &h,
        &["debug", "--ns", "user=host", "web", "--", "true"],
        125,
    );
    assert!(err.contains("user"), "{err}");
    let err = fails(
        &h,
        &["debug", "--ns", "net=nosuch", "web", "--", "true"],
        125,
    );
    assert!(err.contains("nosuch"), "{err}");
    let err = fails(
        &h,
        &["debug", "--ns", "pid=image:web", "web", "--", "true"],
        125,
    );
    assert!(err.contains("only a mount namespace"), "{err}");
    let err = fails(
        &h,
        &["debug", "--ns", "net=/etc/passwd", "web", "--", "true"],
        125,
    );
    assert!(err.contains("/etc/passwd"), "{err}");
    let err = fails(&h, &["debug", "web", "--", "no-such-tool"], 127);
    assert!(err.contains("no-such-tool"), "{err}");

    // A program that asks, through its file capabilities, for one the target does not have.
    h.sh_ok(
        "set -e; mount -t tmpfs tmpfs /mnt; cp \"$(command -v busybox)\" /mnt/true
         setcap cap_sys_module+ep /mnt/true",
    );
    let err = fails(&h, &["debug", "web", "--", "/mnt/true"], 126);
    assert!(
        err.contains("CAP_SYS_MODULE") && err.contains("--cap-add SYS_MODULE"),
        "{err}"
    );
    ok(
        &h,
        &["debug", "--cap-add", "SYS_MODULE", "web", "--", "/mnt/true"],
    );
    ok(&h, &["debug", "--privileged", "web", "--", "/mnt/true"]);
    h.sh_ok("umount /mnt");
}
