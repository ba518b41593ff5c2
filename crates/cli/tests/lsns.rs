//! `minotaur lsns` against util-linux `lsns` on the same box: the same rows for every namespace a process
//! is in, plus the namespaces only a bind mount holds, with what each is called.

use std::process::Command;

use minotaur_testhost::{wait_until, TestHost};

const BIN: &str = env!("CARGO_BIN_EXE_minotaur");

fn host() -> Option<TestHost> {
    TestHost::new(BIN)
}

/// Starts a shell command in the background inside the box and returns its PID (in the box) once it has
/// become the `sleep` it ends in, so that its namespaces and mounts are all in place.
fn spawn_sleeper(h: &TestHost, cmd: &str) -> String {
    let pid = h
        .sh_ok(&format!("{cmd} >/dev/null 2>&1 & echo $!"))
        .trim()
        .to_owned();
    wait_until(&format!("{cmd} to settle"), || {
        Ok(h.sh(&format!("cat /proc/{pid}/comm")).stdout == b"sleep\n")
    })
    .unwrap();
    pid
}

/// The inode of a namespace file in the box.
fn ino(h: &TestHost, path: &str) -> String {
    h.sh_ok(&format!("stat -L -c %i {path}")).trim().to_owned()
}

/// Runs util-linux's lsns and then minotaur's with the same arguments in one shell, so both see the same
/// processes (each sees the shell and itself). Returns both outputs.
fn both(h: &TestHost, lsns_args: &str, mino_args: &str) -> (String, String) {
    let out = h.sh_ok(&format!(
        "lsns {lsns_args}; echo ===; {BIN} lsns {mino_args}"
    ));
    let (ul, mino) = out.split_once("===\n").unwrap();
    (ul.to_owned(), mino.to_owned())
}

/// The rows of a table, each as its whitespace-separated words.
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// A box with a network namespace held by a process, one held by a process and a bind mount, a UTS+IPC
/// pair, and a network namespace held only by `ip netns add`. Returns the PIDs and inodes.
struct Scene {
    net_pid: String,
    net_ino: String,
    held_pid: String,
    held_ino: String,
    blue_ino: String,
}

fn scene(h: &TestHost) -> Scene {
    let net_pid = spawn_sleeper(h, "unshare -n sleep 1000");
    h.sh_ok("touch /run/held");
    let held_pid = spawn_sleeper(h, "unshare --net=/run/held sleep 1000");
    spawn_sleeper(h, "unshare -u -i sleep 1000");
    h.sh_ok("ip netns add blue");
    Scene {
        net_ino: ino(h, &format!("/proc/{net_pid}/ns/net")),
        held_ino: ino(h, "/run/held"),
        blue_ino: ino(h, "/run/netns/blue"),
        net_pid,
        held_pid,
    }
}

#[test]
fn lsns_lists_the_rows_util_linux_lists_plus_bind_mount_only_namespaces() {
    let Some(h) = host() else { return };
    let s = scene(&h);
    let cols = "-n -o NS,TYPE,NPROCS,PID";
    let (ul, mino) = both(&h, &format!("-l {cols}"), cols);
    let (ul, mino) = (rows(&ul), rows(&mino));
    let (with_procs, without): (Vec<_>, Vec<_>) = mino.into_iter().partition(|r| r[2] != "0");
    assert_eq!(with_procs, ul, "rows with processes differ from lsns");
    assert_eq!(
        without,
        vec![vec![s.blue_ino.clone(), "net".into(), "0".into()]],
        "bind-mount-only namespaces"
    );
    // The scene's namespaces are there, with their one process each.
    for (ino, pid) in [(&s.net_ino, &s.net_pid), (&s.held_ino, &s.held_pid)] {
        let row = with_procs
            .iter()
            .find(|r| &r[0] == ino)
            .expect("namespace listed");
        assert_eq!(row[1..], ["net".to_owned(), "1".into(), pid.clone()]);
    }
    assert!(with_procs.iter().any(|r| r[1] == "uts" && r[2] == "1"));
}

#[test]
fn lsns_json_matches_util_linux_json_list() {
    let Some(h) = host() else { return };
    let s = scene(&h);
    let cols = "-o NS,TYPE,PATH,NPROCS,PID,PPID,COMMAND,UID,USER,NETNSID,NSFS,PNS,ONS";
    let (ul, mino) = both(&h, &format!("-J -l {cols}"), &format!("-J {cols}"));
    let ul: serde_json::Value = serde_json::from_str(&ul).unwrap();
    let mut mino: serde_json::Value = serde_json::from_str(&mino).unwrap();
    let list = mino["namespaces"].as_array_mut().unwrap();
    let blue = list
        .iter()
        .position(|r| r["nprocs"] == 0)
        .expect("the ip netns namespace is listed");
    let blue = list.remove(blue);
    assert_eq!(blue["ns"].to_string(), s.blue_ino);
    assert_eq!(blue["nsfs"], "/run/netns/blue");
    assert_eq!(blue["pid"], serde_json::Value::Null);
    assert_eq!(blue["command"], serde_json::Value::Null);
    assert_eq!(blue["user"], "root");
    assert_eq!(mino, ul);
    let held = ul["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ns"] == s.held_ino.parse::<u64>().unwrap())
        .expect("held namespace in lsns -J");
    assert_eq!(held["nsfs"], "/run/held");
    assert_eq!(held["command"], "sleep 1000");
}

#[test]
fn lsns_type_task_and_namespace_filters_match_util_linux() {
    let Some(h) = host() else { return };
    let s = scene(&h);
    // A veth to the first namespace makes the kernel give that namespace an ID in the box's.
    h.sh_ok(&format!(
        "ip link add lsv0 type veth peer name lsv1 netns {}",
        s.net_pid
    ));
    let cols = "-n -o NS,TYPE,NPROCS,PID,NETNSID,NSFS";
    let (ul, mino) = both(&h, &format!("-l -t net {cols}"), &format!("-t net {cols}"));
    let mino: Vec<_> = rows(&mino)
        .into_iter()
        .filter(|r| r[0] != s.blue_ino)
        .collect();
    assert_eq!(mino, rows(&ul));
    assert!(mino.iter().all(|r| r[1] == "net"));
    assert!(mino.contains(&vec![
        s.held_ino.clone(),
        "net".into(),
        "1".into(),
        s.held_pid.clone(),
        "unassigned".into(),
        "/run/held".into()
    ]));
    // (The world behind the box's uplink took the first ID.)
    let veth_peer = mino.iter().find(|r| r[0] == s.net_ino).unwrap();
    assert_eq!(
        veth_peer[1..4],
        ["net".to_owned(), "1".into(), s.net_pid.clone()]
    );
    assert!(veth_peer[4].parse::<u32>().is_ok(), "{veth_peer:?}");

    let task = format!("-n -o NS,TYPE,NPROCS,PID -p {}", s.net_pid);
    let (ul, mino) = both(&h, &format!("-l {task}"), &task);
    assert_eq!(rows(&mino), rows(&ul));
    assert_eq!(rows(&mino).len(), 8, "one row per namespace of the process");
    assert!(rows(&mino).iter().any(|r| r[0] == s.net_ino));

    let raw = "-r -t uts -o NS,TYPE,NPROCS,PID,COMMAND";
    let (ul, mino) = both(&h, &format!("-l {raw}"), raw);
    assert_eq!(mino, ul, "raw output, byte for byte");
    assert!(mino.contains(" sleep\\x201000\n"), "{mino}");
    let exact = "-t uts -t ipc -o NS,TYPE,NPROCS,PID,USER,COMMAND";
    let (ul, mino) = both(&h, &format!("-l {exact}"), exact);
    assert_eq!(mino, ul, "util-linux's columns, byte for byte");

    let procs = format!("-n -o PID,PPID,USER,COMMAND {}", s.held_ino);
    let (ul, mino) = both(&h, &format!("-l {procs}"), &procs);
    assert_eq!(rows(&mino), rows(&ul));
    assert_eq!(
        rows(&mino),
        vec![vec![
            s.held_pid.clone(),
            "1".into(),
            "root".into(),
            "sleep".into(),
            "1000".into()
        ]]
    );
}

#[test]
fn lsns_name_shows_the_netns_name_and_bind_mount_paths_in_any_mount_namespace() {
    let Some(h) = host() else { return };
    let s = scene(&h);
    // A network namespace bind-mounted inside another mount namespace, with no process in it.
    let inner_pid = spawn_sleeper(
        &h,
        "unshare -m --propagation private sh -c \
         'touch /tmp/inner && unshare --net=/tmp/inner true && exec sleep 1000'",
    );
    let inner_ino = ino(&h, &format!("/proc/{inner_pid}/root/tmp/inner"));
    assert_ne!(inner_ino, ino(&h, "/tmp/inner"), "the mount is not ours");

    let out = h.sh_ok(&format!("{BIN} lsns -t net -n -o NS,NPROCS,NAME"));
    let table = rows(&out);
    let name_of = |ino: &str| {
        let r = table
            .iter()
            .find(|r| r[0] == ino)
            .unwrap_or_else(|| panic!("{ino} not listed:\n{out}"));
        (r[1].clone(), r.get(2).cloned().unwrap_or_default())
    };
    assert_eq!(name_of(&s.blue_ino), ("0".into(), "blue".into()));
    assert_eq!(name_of(&s.held_ino), ("1".into(), "/run/held".into()));
    assert_eq!(name_of(&s.net_ino), ("1".into(), String::new()));
    let inner_path = format!("/proc/{inner_pid}/root/tmp/inner");
    assert_eq!(name_of(&inner_ino), ("0".into(), inner_path.clone()));
    // The NAME of a namespace in another mount namespace is a path that opens it from here.
    assert_eq!(ino(&h, &inner_path), inner_ino);

    // The default output ends with NAME.
    let out = h.sh_ok(&format!("{BIN} lsns -t net"));
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header[header.len() - 2..], ["COMMAND", "NAME"], "{out}");
}

#[test]
fn lsns_bad_input_is_one_line_and_exit_1_like_util_linux() {
    for (args, msg) in [
        (&["-o", "NS,FOO"][..], "unknown column: FOO"),
        (&["-t", "network"], "unknown namespace type"),
        (&["-p", "abc"], "invalid PID argument: 'abc'"),
        (&["12x"], "invalid namespace argument: '12x'"),
    ] {
        let ul = Command::new("lsns").args(args).output();
        let mino = Command::new(BIN).arg("lsns").args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&mino.stderr);
        assert_eq!(mino.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with(&format!("minotaur: {msg}")), "{stderr}");
        assert!(mino.stdout.is_empty());
        if let Ok(ul) = ul {
            assert_eq!(ul.status.code(), Some(1), "util-linux lsns {args:?}");
        }
    }
}
