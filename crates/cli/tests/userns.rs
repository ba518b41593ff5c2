//! `--userns=auto`: each container gets a user namespace of its own over a range of the box's subordinate
//! IDs (files written in the box and named with `--subuid`/`--subgid`, never the real host's), its image's
//! files appear as root's inside through idmapped layers, and `rm` gives the range back.

mod common;

use common::{fails, host, import_busybox, inspect, ok};
use minotaur_testhost::TestHost;

const SUBUID: &str = "/tmp/userns-subuid";
const SUBGID: &str = "/tmp/userns-subgid";

/// Writes the box's subordinate ID files: the `containers` user owns 100000..300000 and 500000..700000.
fn subids(h: &TestHost) {
    h.sh_ok(&format!(
        "printf 'alice:10000:5000\\ncontainers:100000:200000\\n' > {SUBUID}
         printf 'containers:500000:200000\\n' > {SUBGID}"
    ));
}

/// minotaur with the box's subordinate ID files.
fn args<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--subuid", SUBUID, "--subgid", SUBGID];
    all.extend_from_slice(rest);
    all
}

/// A file of /proc as one line with its columns separated by single spaces.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The uid_map of a running container's PID 1, and the real uid its `/proc/PID/status` shows outside.
fn outside(h: &TestHost, c: &str) -> (String, String) {
    let pid = inspect(h, c, "{{.State.Pid}}");
    let map = h.sh_ok(&format!("cat /proc/{pid}/uid_map"));
    let gid_map = h.sh_ok(&format!("cat /proc/{pid}/gid_map"));
    let status = h.sh_ok(&format!("grep -E '^(Uid|Gid):' /proc/{pid}/status"));
    (
        format!("{} / {}", squeeze(&map), squeeze(&gid_map)),
        squeeze(&status),
    )
}

#[test]
fn auto_ranges_are_disjoint_root_inside_and_freed_by_rm() {
    let Some(h) = host() else { return };
    subids(&h);
    import_busybox(
        &h,
        "bb",
        "for c in id stat touch; do ln -s busybox $r/bin/$c; done; chmod 700 $r/etc",
    );
    ok(
        &h,
        &args(&[
            "run",
            "-d",
            "--name",
            "a",
            "--userns=auto",
            "bb",
            "sleep",
            "1000",
        ]),
    );
    ok(
        &h,
        &args(&[
            "run",
            "-d",
            "--name",
            "b",
            "--userns",
            "auto:size=1000",
            "bb",
            "sleep",
            "1000",
        ]),
    );
    ok(&h, &["run", "-d", "--name", "plain", "bb", "sleep", "1000"]);
    assert_eq!(inspect(&h, "a", "{{.HostConfig.UsernsMode}}"), "auto");
    assert_eq!(
        inspect(&h, "b", "{{.HostConfig.UsernsMode}}"),
        "auto:size=1000"
    );
    assert_eq!(inspect(&h, "plain", "{{.HostConfig.UsernsMode}}"), "");

    // Outside: the ranges, one after the other, and the processes' IDs are the ranges' first.
    assert_eq!(
        outside(&h, "a"),
        (
            "0 100000 65536 / 0 500000 65536".to_owned(),
            "Uid: 100000 100000 100000 100000 Gid: 500000 500000 500000 500000".to_owned()
        )
    );
    assert_eq!(
        outside(&h, "b"),
        (
            "0 165536 1000 / 0 565536 1000".to_owned(),
            "Uid: 165536 165536 165536 165536 Gid: 565536 565536 565536 565536".to_owned()
        )
    );
    // Nothing of it looks out of place to the store's checker.
    ok(&h, &["system", "check"]);
    // Without --userns nothing changes: the host's IDs.
    assert_eq!(outside(&h, "plain").0, "0 0 4294967295 / 0 0 4294967295");

    // Inside: root, its own map, and the image's files (the host root's) are root's, also a directory
    // only root may enter; what root writes is root's.
    assert_eq!(ok(&h, &["exec", "a", "id", "-u"]), "0");
    assert_eq!(
        squeeze(&ok(&h, &["exec", "a", "cat", "/proc/self/uid_map"])),
        "0 100000 65536"
    );
    assert_eq!(
        ok(
            &h,
            &[
                "exec",
                "a",
                "stat",
                "-c",
                "%u:%g",
                "/bin/busybox",
                "/etc",
                "/"
            ]
        ),
        "0:0\n0:0\n0:0"
    );
    assert_eq!(
        ok(&h, &["exec", "a", "cat", "/etc/passwd"]),
        "root:x:0:0:root:/root:/bin/sh"
    );
    assert_eq!(
        ok(
            &h,
            &[
                "exec",
                "a",
                "sh",
                "-c",
                "touch /etc/new && stat -c %u:%g /etc/new"
            ]
        ),
        "0:0"
    );
    // On disk the container's own files have the range's IDs, and the host's files it is lent are
    // nobody's inside: its root is not the host's.
    let id = inspect(&h, "a", "{{.Id}}");
    assert_eq!(
        h.sh_ok(&format!(
            "stat -c %u:%g $MINOTAUR_ROOT/containers/{id}/upper/etc/new"
        ))
        .trim(),
        "100000:500000"
    );
    h.sh_ok("echo secret > /tmp/userns-host-file; chmod 644 /tmp/userns-host-file");
    ok(
        &h,
        &args(&[
            "run",
            "-d",
            "--name",
            "lent",
            "--userns=auto",
            "-v",
            "/tmp/userns-host-file:/h",
            "bb",
            "sleep",
            "1000",
        ]),
    );
    assert_eq!(ok(&h, &["exec", "lent", "stat", "-c", "%u", "/h"]), "65534");
    let out = h.mino(&["exec", "lent", "sh", "-c", "echo owned > /h"]);
    assert!(!out.status.success(), "{}", common::show(&out));
    assert_eq!(h.sh_ok("cat /tmp/userns-host-file").trim(), "secret");
    ok(&h, &["rm", "-f", "lent"]);

    // rm frees the range: the next container gets a's.
    ok(&h, &["rm", "-f", "a"]);
    ok(
        &h,
        &args(&[
            "run",
            "-d",
            "--name",
            "c",
            "--userns=auto",
            "bb",
            "sleep",
            "1000",
        ]),
    );
    assert_eq!(outside(&h, "c").0, "0 100000 65536 / 0 500000 65536");
    // A stopped container keeps its range, and starts again in it, its files still its root's.
    ok(&h, &["stop", "-t", "0", "c"]);
    ok(&h, &["exec", "b", "true"]);
    ok(&h, &["start", "c"]);
    assert_eq!(outside(&h, "c").0, "0 100000 65536 / 0 500000 65536");
    assert_eq!(
        ok(
            &h,
            &[
                "exec",
                "c",
                "sh",
                "-c",
                "touch /f && stat -c %u:%g /f /bin/busybox"
            ]
        ),
        "0:0\n0:0"
    );
    let ids: Vec<String> = ["b", "c", "plain"]
        .iter()
        .map(|c| inspect(&h, c, "{{.Id}}"))
        .collect();
    ok(&h, &["rm", "-f", "b", "c", "plain"]);
    common::assert_clean(&h, &ids);
}

#[test]
fn concurrent_creates_get_disjoint_ranges() {
    let Some(h) = host() else { return };
    subids(&h);
    import_busybox(&h, "bb", "");
    let ids: Vec<String> = std::thread::scope(|s| {
        let jobs: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    ok(
                        &h,
                        &args(&[
                            "create",
                            "--userns",
                            "auto:size=40000",
                            "bb",
                            "sleep",
                            "1000",
                        ]),
                    )
                })
            })
            .collect();
        jobs.into_iter().map(|j| j.join().unwrap()).collect()
    });
    let mut starts = Vec::new();
    for id in &ids {
        ok(&h, &["start", id]);
        let map = outside(&h, id).0;
        let fields: Vec<u32> = map
            .split([' ', '/'])
            .filter(|f| !f.is_empty())
            .map(|f| f.parse().unwrap())
            .collect();
        assert_eq!(fields[2], 40000, "{map}");
        starts.push(fields[1]);
    }
    starts.sort_unstable();
    assert_eq!(starts, [100000, 140000, 180000, 220000]);
    ok(&h, &["rm", "-f", &ids[0], &ids[1], &ids[2], &ids[3]]);
    common::assert_clean(&h, &ids);
}

#[test]
fn a_missing_subuid_entry_is_one_line_and_leaves_no_container() {
    let Some(h) = host() else { return };
    import_busybox(&h, "bb", "");
    h.sh_ok(&format!(
        "printf 'alice:100000:65536\\n' > {SUBUID}; printf 'containers:100000:65536\\n' > {SUBGID}"
    ));
    let err = fails(&h, &args(&["run", "--userns=auto", "bb", "true"]), 125);
    assert!(
        err.contains(SUBUID) && err.contains("\"containers\""),
        "{err}"
    );
    h.sh_ok(&format!("rm {SUBUID}"));
    let err = fails(&h, &args(&["create", "--userns=auto", "bb", "true"]), 125);
    assert!(
        err.contains(SUBUID) && err.contains("\"containers\""),
        "{err}"
    );
    // Not enough IDs for the size asked.
    subids(&h);
    let err = fails(
        &h,
        &args(&["create", "--userns=auto:size=300000", "bb", "true"]),
        125,
    );
    assert!(err.contains("no free range of 300000"), "{err}");
    let err = fails(
        &h,
        &args(&["create", "--userns=keep-id", "bb", "true"]),
        125,
    );
    assert!(err.contains("keep-id"), "{err}");
    // No record, directory, namespace file or mount is left, also by the range found full inside the
    // transaction that would have recorded the container.
    common::assert_clean(&h, &[]);
}

#[test]
fn the_host_image_is_idmapped_too() {
    let Some(h) = host() else { return };
    subids(&h);
    // The box's mount points, less the engine's own under the run root (the container's netns file, the
    // mount template and the bpffs, which outlive the container).
    let mounts =
        || h.sh_ok("awk '{print $5}' /proc/self/mountinfo | grep -v '^/run/minotaur' | sort");
    let before = mounts();
    let run = [
        "run",
        "-d",
        "--name",
        "h",
        "--userns=auto",
        "host",
        "sleep",
        "1000",
    ];
    ok(&h, &args(&run));
    // The root's clone was a peer of the box's shared mounts: nothing of the container reached them.
    assert_eq!(mounts(), before);
    assert_eq!(
        outside(&h, "h").1,
        "Uid: 100000 100000 100000 100000 Gid: 500000 500000 500000 500000"
    );
    assert_eq!(ok(&h, &["exec", "h", "id", "-u"]), "0");
    ok(&h, &["system", "check"]);
    // The host's files are root's inside, and stay read-only. The box's /etc is an overlayfs, which
    // cannot be idmapped: its files show as nobody's (readable all the same).
    let sh = h.sh_ok("readlink -f \"$(command -v sh)\"");
    let stat = [
        "exec",
        "h",
        "stat",
        "-c",
        "%u:%g",
        "/",
        "/usr/bin",
        sh.trim(),
        "/etc/passwd",
    ];
    assert_eq!(ok(&h, &stat), "0:0\n0:0\n0:0\n65534:65534");
    assert!(ok(&h, &["exec", "h", "cat", "/etc/passwd"]).starts_with("root:"));
    let out = h.mino(&["exec", "h", "touch", "/etc/userns-test"]);
    assert!(!out.status.success(), "{}", common::show(&out));
    assert_eq!(h.sh("test -e /etc/userns-test").status.code(), Some(1));
    let id = inspect(&h, "h", "{{.Id}}");
    ok(&h, &["rm", "-f", "h"]);
    common::assert_clean(&h, &[id]);
    assert_eq!(mounts(), before);
}

/// The uid, with no user or process of its own anywhere, that the pipe test's containers run as.
const PIPE_UID: u32 = 54321;

/// Holds enough pipes to pass the soft limit of pipe pages (`fs.pipe-user-pages-soft`), then says the size
/// of one more pipe (F_GETPIPE_SZ) and keeps them until it is killed.
const FILL_PIPES: &str = r#"$| = 1; my @held;
for (1 .. $ARGV[0]) { pipe(my $r, my $w) or die "pipe: $!\n"; push @held, $r, $w }
pipe(my $r, my $w) or die "pipe: $!\n"; printf "filled %d\n", fcntl($w, 1032, 0); sleep 100000"#;

/// The size of a new pipe made by a host process of the box running as `uid`.
fn pipe_size_as(h: &TestHost, uid: u32) -> u64 {
    h.sh_ok(&format!(
        "setpriv --reuid {uid} --regid {uid} --clear-groups \
         perl -e 'pipe(my $r, my $w) or die; print fcntl($w, 1032, 0)'"
    ))
    .trim()
    .parse()
    .unwrap()
}

/// Runs the pipe filler in a container as [`PIPE_UID`] and returns the size of its last pipe once it
/// holds them all.
fn fill_pipes(h: &TestHost, name: &str, userns: &[&str], pipes: u64) -> u64 {
    let nofile = format!("nofile={}", 2 * pipes + 64);
    let count = pipes.to_string();
    let uid = format!("{PIPE_UID}:{PIPE_UID}");
    let mut run = vec!["run", "-d", "--name", name, "-u", &uid, "--ulimit", &nofile];
    run.extend_from_slice(userns);
    run.extend_from_slice(&["host", "perl", "-e", FILL_PIPES, &count]);
    ok(h, &args(&run));
    let mut said = String::new();
    minotaur_testhost::wait_until(&format!("{name} to hold {pipes} pipes"), || {
        said = ok(h, &["logs", name]);
        Ok(said.starts_with("filled ") || inspect(h, name, "{{.State.Status}}") != "running")
    })
    .unwrap();
    said.strip_prefix("filled ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{name} said {said:?}"))
}

/// Pipe buffers are counted per host uid (the kernel's user_struct): a container whose user is a host uid
/// shares that uid's `fs.pipe-user-pages-soft` with every host process of it, and one that fills it leaves
/// them pipes of the minimum size. With `--userns=auto` the same container is other host uids (its range's),
/// and the host's processes of that uid keep full pipes. No sysctl is changed: the pipes are held only
/// while the containers run.
#[test]
fn pipe_exhaustion_in_a_userns_container_does_not_reach_the_hosts_uid() {
    let Some(h) = host() else { return };
    let soft: u64 = h
        .sh_ok("cat /proc/sys/fs/pipe-user-pages-soft")
        .trim()
        .parse()
        .unwrap();
    if soft == 0 || soft > 1 << 20 {
        println!("skipped: fs.pipe-user-pages-soft is {soft}, no soft limit a test can fill");
        return;
    }
    subids(&h);
    let full = pipe_size_as(&h, PIPE_UID);
    let page: u64 = h.sh_ok("getconf PAGESIZE").trim().parse().unwrap();
    // A new pipe has 16 pages, so that many of them pass the limit.
    assert_eq!(full, 16 * page, "a fresh pipe of uid {PIPE_UID}");
    let pipes = soft / 16 + 16;

    // Without a user namespace the container is host uid 54321: filling the limit leaves its own new
    // pipes and the host's processes of that uid with minimal (two-page) pipes.
    let small = fill_pipes(&h, "shared", &[], pipes);
    assert!(small < full, "the container's last pipe has {small} bytes");
    assert_eq!(pipe_size_as(&h, PIPE_UID), small);
    ok(&h, &["rm", "-f", "shared"]);
    minotaur_testhost::wait_until("the container's pipes to be freed", || {
        Ok(pipe_size_as(&h, PIPE_UID) == full)
    })
    .unwrap();

    // With one the same container is uid 100000 + 54321 on the host: it fills that uid's limit (its own
    // new pipes are small), and the host's uid 54321 keeps full pipes.
    let own = fill_pipes(&h, "own", &["--userns=auto"], pipes);
    assert_eq!(own, small, "the userns container's last pipe");
    let mapped = 100_000 + PIPE_UID;
    assert_eq!(
        outside(&h, "own").1,
        format!(
            "Uid: {mapped} {mapped} {mapped} {mapped} Gid: {g} {g} {g} {g}",
            g = 500_000 + PIPE_UID
        )
    );
    assert_eq!(pipe_size_as(&h, mapped), small);
    assert_eq!(pipe_size_as(&h, PIPE_UID), full);
    let id = inspect(&h, "own", "{{.Id}}");
    ok(&h, &["rm", "-f", "own"]);
    common::assert_clean(&h, &[id]);
}

/// Makes inotify instances until the kernel refuses one, says how many it holds, and keeps them.
const FILL_INOTIFY: &str = r#"import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
held = []
while libc.inotify_init1(0) >= 0:
    held.append(1)
print("filled", len(held), os.strerror(ctypes.get_errno()), flush=True)
time.sleep(100000)
"#;

/// Whether a host process of the box's root can still make an inotify instance.
fn root_gets_inotify(h: &TestHost) -> bool {
    let out = h.sh_ok("python3 -c 'import ctypes; print(ctypes.CDLL(None).inotify_init1(0) >= 0)'");
    out.trim() == "True"
}

/// inotify instances are counted per user, and a user namespace's processes are charged to the
/// namespace's owner in the host's namespace: a `--userns=auto` container's namespace is owned by the
/// host user its root maps to, so a container that holds every instance it may have exhausts that
/// user's count, never root's (which the host's daemons share).
#[test]
fn inotify_exhaustion_in_a_userns_container_does_not_reach_the_hosts_root() {
    let Some(h) = host() else { return };
    if h.sh("command -v python3").status.code() != Some(0) {
        println!("skipped: no python3 in the host image to make inotify instances");
        return;
    }
    let limit: u64 = h
        .sh_ok("cat /proc/sys/fs/inotify/max_user_instances")
        .trim()
        .parse()
        .unwrap();
    if limit > 4096 {
        println!("skipped: fs.inotify.max_user_instances is {limit}, more than a test should hold");
        return;
    }
    subids(&h);
    ok(
        &h,
        &args(&[
            "run",
            "-d",
            "--name",
            "ino",
            "--userns=auto",
            "host",
            "python3",
            "-c",
            FILL_INOTIFY,
        ]),
    );
    let mut said = String::new();
    minotaur_testhost::wait_until("the container to hold its inotify instances", || {
        said = ok(&h, &["logs", "ino"]);
        Ok(said.starts_with("filled ") || inspect(&h, "ino", "{{.State.Status}}") != "running")
    })
    .unwrap();
    // All of the per-user limit, and refused by it: the count is the range's user's, which held none.
    let held: u64 = said
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the container said {said:?}"));
    assert_eq!(held, limit, "{said}");
    // The namespace's owner (NS_GET_OWNER_UID), read in the box, where the PID means the container.
    let pid = inspect(&h, "ino", "{{.State.Pid}}");
    let owner = h.sh_ok(&format!(
        "python3 -c 'import fcntl, os, struct; fd = os.open(\"/proc/{pid}/ns/user\", os.O_RDONLY); \
         print(struct.unpack(\"I\", fcntl.ioctl(fd, 0xb704, bytes(4)))[0])'"
    ));
    assert_eq!(owner.trim(), "100000");
    assert!(
        root_gets_inotify(&h),
        "the container took root's inotify instances"
    );
    let id = inspect(&h, "ino", "{{.Id}}");
    ok(&h, &["rm", "-f", "ino"]);
    common::assert_clean(&h, &[id]);
}

/// `cp` on a `--userns=auto` container speaks the container's IDs, as Docker's does with userns-remap: what
/// it copies in belongs to the container's root (its range's first IDs on the host), `-a` and a tar
/// stream keep their owners as the container's IDs (one outside the range is refused), and what it copies
/// out carries the container's IDs, running or stopped.
#[test]
fn cp_maps_owners_into_and_out_of_a_userns_container() {
    let Some(h) = host() else { return };
    subids(&h);
    import_busybox(
        &h,
        "bb",
        "for c in stat touch chown; do ln -s busybox $r/bin/$c; done",
    );
    ok(
        &h,
        &args(&[
            "run",
            "-d",
            "--name",
            "u",
            "--userns=auto",
            "bb",
            "sleep",
            "1000",
        ]),
    );
    let id = inspect(&h, "u", "{{.Id}}");
    let upper = format!("$MINOTAUR_ROOT/containers/{id}/upper");
    h.sh_ok(
        "mkdir -p /tmp/src /tmp/out; cd /tmp/src; echo f > f; echo g > g; echo big > big
         chown 0:0 f; chown 1234:2345 g; chown 70000:70000 big",
    );
    let stat = |path: &str| ok(&h, &["exec", "u", "stat", "-c", "%u:%g", path]);
    let on_host = |path: &str| h.sh_ok(&format!("stat -c %u:%g {path}")).trim().to_owned();
    let stream = |script: &str| {
        h.sh_ok(&format!(
            "set -e; {script}",
            script = script.replace("MINO", env!("CARGO_BIN_EXE_minotaur"))
        ))
    };

    // In: the container's root owns a plain copy; -a keeps the source's owners as the container's IDs.
    ok(&h, &["cp", "/tmp/src/f", "u:/f"]);
    assert_eq!(stat("/f"), "0:0");
    assert_eq!(on_host(&format!("{upper}/f")), "100000:500000");
    ok(&h, &["cp", "-a", "/tmp/src/g", "u:/g"]);
    assert_eq!(stat("/g"), "1234:2345");
    assert_eq!(on_host(&format!("{upper}/g")), "101234:502345");
    // A tar stream's owners are the container's IDs too.
    stream("tar --numeric-owner --owner=7 --group=8 -C /tmp/src -cf /tmp/in.tar f; MINO cp - u:/tmp < /tmp/in.tar");
    assert_eq!(stat("/tmp/f"), "7:8");
    // An owner the container has no ID for is refused, in one line, and nothing is written.
    let err = fails(&h, &["cp", "-a", "/tmp/src/big", "u:/big"], 1);
    assert!(
        err.contains("uid 70000") && err.contains("65536 IDs"),
        "{err}"
    );
    assert_eq!(
        h.mino(&["exec", "u", "stat", "/big"]).status.code(),
        Some(1)
    );

    // Out: the container's IDs, with -a and in a tar stream; the caller's without -a.
    ok(
        &h,
        &["exec", "u", "sh", "-c", "echo w > /w && chown 42:43 /w"],
    );
    assert_eq!(on_host(&format!("{upper}/w")), "100042:500043");
    ok(&h, &["cp", "-a", "u:/w", "/tmp/out/w-a"]);
    assert_eq!(on_host("/tmp/out/w-a"), "42:43");
    ok(&h, &["cp", "u:/w", "/tmp/out/w"]);
    assert_eq!(on_host("/tmp/out/w"), "0:0");
    let listed = |path: &str| {
        stream(&format!(
            "MINO cp u:{path} - > /tmp/out.tar; tar --numeric-owner -tvf /tmp/out.tar | awk '{{print $2}}'"
        ))
        .trim()
        .to_owned()
    };
    assert_eq!(listed("/w"), "42/43");
    // The image's files (idmapped layers) are the container's root's.
    assert_eq!(listed("/bin/busybox"), "0/0");

    // Stopped: the same, through the same idmapped layers.
    ok(&h, &["stop", "-t", "0", "u"]);
    assert_eq!(listed("/bin/busybox"), "0/0");
    assert_eq!(listed("/w"), "42/43");
    ok(&h, &["cp", "-a", "u:/etc/passwd", "/tmp/out/passwd"]);
    assert_eq!(on_host("/tmp/out/passwd"), "0:0");
    ok(&h, &["cp", "/tmp/src/f", "u:/etc/f"]);
    ok(&h, &["cp", "-a", "/tmp/src/g", "u:/etc/g"]);
    assert_eq!(on_host(&format!("{upper}/etc/f")), "100000:500000");
    // Copying into /etc copied it up as the container's root's, not the host's.
    assert_eq!(on_host(&format!("{upper}/etc")), "100000:500000");
    ok(&h, &["start", "u"]);
    assert_eq!(stat("/etc/f"), "0:0");
    assert_eq!(stat("/etc/g"), "1234:2345");
    assert_eq!(stat("/etc"), "0:0");
    // diff names what changed, with no owners to map.
    let diff = ok(&h, &["diff", "u"]);
    for line in ["C /etc", "A /etc/f", "A /etc/g", "A /f", "A /g", "A /w"] {
        assert!(diff.lines().any(|l| l == line), "{line} in {diff}");
    }
    ok(&h, &["rm", "-f", "u"]);
    common::assert_clean(&h, &[id]);
}

/// A `host` image container with --userns=auto failed to start (ELOOP) once any container without one had
/// run: that start makes the mount template, a mount namespace's file bound below the run root, and the
/// idmapped clone of the host's tree held it; the kernel refuses to move a tree holding a mount
/// namespace's file into a newer mount namespace. The template's directory is now unbindable, so clones
/// leave it out.
#[test]
fn a_host_image_userns_container_starts_after_the_mount_template_is_made() {
    let Some(h) = host() else { return };
    subids(&h);
    ok(&h, &["run", "--rm", "host", "true"]);
    assert!(h
        .sh("mountpoint -q /run/minotaur/mnt/template")
        .status
        .success());
    let run = [
        "run",
        "--rm",
        "--userns=auto",
        "host",
        "cat",
        "/proc/self/uid_map",
    ];
    assert_eq!(squeeze(&ok(&h, &args(&run))), "0 100000 65536");
    // And the template still serves containers without one.
    ok(&h, &["run", "--rm", "host", "true"]);
    common::assert_clean(&h, &[]);
}

/// A volume made for a `--userns=auto` container is its root's: the container fills it from its image and
/// writes to it (the host's root, who made the directory, is nobody in there).
#[test]
fn a_volume_made_for_a_userns_container_is_its_roots() {
    let Some(h) = host() else { return };
    subids(&h);
    import_busybox(
        &h,
        "bb",
        "for c in stat touch; do ln -s busybox $r/bin/$c; done",
    );
    let run = [
        "run",
        "-d",
        "--name",
        "v",
        "--userns=auto",
        "-v",
        "data:/etc",
        "-v",
        "/scratch",
        "bb",
        "sleep",
        "1000",
    ];
    ok(&h, &args(&run));
    // Filled from the image (its /etc/passwd), the container's root's inside and the range's outside.
    assert_eq!(
        ok(&h, &["exec", "v", "cat", "/etc/passwd"]),
        "root:x:0:0:root:/root:/bin/sh"
    );
    let stat = [
        "exec",
        "v",
        "stat",
        "-c",
        "%u:%g",
        "/etc",
        "/etc/passwd",
        "/scratch",
    ];
    assert_eq!(ok(&h, &stat), "0:0\n0:0\n0:0");
    ok(
        &h,
        &["exec", "v", "sh", "-c", "touch /etc/new /scratch/new"],
    );
    assert_eq!(
        h.sh_ok(
            "stat -c %u:%g $MINOTAUR_ROOT/volumes/data/_data $MINOTAUR_ROOT/volumes/data/_data/new"
        )
        .trim(),
        "100000:500000\n100000:500000"
    );
    let id = inspect(&h, "v", "{{.Id}}");
    ok(&h, &["rm", "-f", "-v", "v"]);
    ok(&h, &["volume", "rm", "data"]);
    common::assert_clean(&h, &[id]);
}
