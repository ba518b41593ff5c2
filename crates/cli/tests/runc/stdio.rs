//! The container's stdio: the console socket protocol, `--preserve-fds` and `LISTEN_FDS`.

use super::*;

#[test]
fn console_socket_receives_the_terminal_master() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b5", |spec| {
        spec["process"]["terminal"] = Value::Bool(true);
        spec["process"]["args"] = serde_json::json!(["sh", "-c", "echo hello-from-tty; tty"]);
    });
    let sock = h.dir().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    // Without a socket, a terminal spec is refused.
    assert!(!runc(&h, &["create", "--bundle", s(&b), "t0"])
        .status
        .success());

    let mut create = runc_cmd(
        &h,
        &[
            "create",
            "--bundle",
            s(&b),
            "--console-socket",
            s(&sock),
            "t1",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        std::os::fd::AsRawFd::as_raw_fd(&conn),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .unwrap();
    let mut master = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            master = fds.first().map(|fd| take_received(*fd));
        }
    }
    let master = master.expect("no descriptor on the console socket");
    let status = create.wait().unwrap();
    assert!(status.success(), "create: {status}");
    ok(&h, &["start", "t1"]);
    let mut out = Vec::new();
    let mut f = std::fs::File::from(master);
    // The master reads until the slave's last holder exits (EIO).
    let mut chunk = [0u8; 256];
    while let Ok(n) = f.read(&mut chunk) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("hello-from-tty"), "{text:?}");
    assert!(
        text.contains("/dev/"),
        "tty should name a terminal: {text:?}"
    );
    wait_status(&h, "t1", "stopped");
    ok(&h, &["delete", "t1"]);
}

/// Takes a descriptor received over SCM_RIGHTS as an owned one: a copy made with pidfd_getfd(2) on this
/// process, the received number closed.
fn take_received(fd: std::os::fd::RawFd) -> OwnedFd {
    let me = minotaur_sys::pidfd_open(nix::unistd::getpid()).expect("pidfd_open self");
    let owned = minotaur_sys::pidfd_getfd(&me, fd).expect("pidfd_getfd of the terminal master");
    let _ = nix::unistd::close(fd);
    owned
}

#[test]
fn preserve_fds_and_listen_fds_reach_the_container() {
    let Some(h) = host() else { return };
    let b = bundle(&h, "b6", |spec| {
        spec["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "echo \"fds=$LISTEN_FDS pid=$LISTEN_PID\"; cat <&3"
        ]);
    });
    let file = h.dir().join("passed.txt");
    std::fs::write(&file, "passed-along\n").unwrap();
    let link = h.dir().join("minotaur-runc");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_minotaur"), &link).unwrap();
    }
    let root = h.dir().join("runc-state");
    let run = |env: &str, flags: &str, id: &str| {
        h.sh_ok(&format!(
            "exec 3<{f}; {env} {l} --root {r} run --bundle {b} {flags} {id}",
            f = file.display(),
            l = link.display(),
            r = root.display(),
            b = b.display()
        ))
    };
    assert_eq!(
        run("", "--preserve-fds 1", "p1"),
        "fds= pid=\npassed-along\n"
    );
    assert_eq!(run("LISTEN_FDS=1", "", "p2"), "fds=1 pid=1\npassed-along\n");
    // Without either, descriptor 3 is closed in the container.
    let out = h.sh(&format!(
        "exec 3<{f}; {l} --root {r} run --bundle {b} p3",
        f = file.display(),
        l = link.display(),
        r = root.display(),
        b = b.display()
    ));
    assert!(!out.status.success(), "fd 3 leaked into the container");
}
