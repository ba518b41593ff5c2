//! Volumes, binds and tmpfs mounts end to end, in a throwaway host: `-v`, `--mount`, `--tmpfs`, the
//! `volume` verbs, mount points on the read-only `host` image, and bad input.

mod common;

use common::{assert_clean, fails, host, import_busybox, inspect, ok};
use minotaur_testhost::TestHost;

/// The box's directory of a volume's data.
fn data(h: &TestHost, name: &str) -> String {
    format!("{}/state/volumes/{name}/_data", h.dir().display())
}

fn volume_names(h: &TestHost) -> Vec<String> {
    ok(h, &["volume", "ls", "-q"])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Regression: on the read-only `host` image, `-v /some/dir:/www` failed with EROFS when the host has no
/// `/www`. The mount point is made for the container alone; the host is not written and stays read-only.
#[test]
fn host_image_bind_to_a_missing_path_fails_with_erofs() {
    let Some(h) = host() else { return };
    h.sh_ok("mkdir -p /tmp/site && echo page > /tmp/site/index.html && ! test -e /www");
    assert_eq!(
        ok(
            &h,
            &[
                "run",
                "--rm",
                "-v",
                "/tmp/site:/www",
                "host",
                "cat",
                "/www/index.html"
            ]
        ),
        "page"
    );
    // A volume, a tmpfs and a bind, all where the host has nothing; the host's own files stay read-only.
    let script = r#"echo v > /vol/f && echo t > /deep/er/f && [ "$(cat /www/index.html)" = page ] \
        && ! touch /etc/new 2>/dev/null && ! mkdir /new 2>/dev/null && echo fine"#;
    assert_eq!(
        ok(
            &h,
            &[
                "run",
                "--rm",
                "-v",
                "hostvol:/vol",
                "--tmpfs",
                "/deep/er",
                "--mount",
                "type=bind,source=/tmp/site,target=/www,readonly",
                "host",
                "sh",
                "-c",
                script,
            ]
        ),
        "fine"
    );
    h.sh_ok("! test -e /www && ! test -e /vol && ! test -e /deep && ! test -e /etc/new");
    assert_eq!(h.sh_ok(&format!("cat {}/f", data(&h, "hostvol"))), "v\n");
    assert_clean(&h, &[]);
}

#[test]
fn named_volumes_persist_across_containers() {
    let Some(h) = host() else { return };
    import_busybox(&h, "bb:1", "");
    ok(
        &h,
        &[
            "run",
            "--rm",
            "-v",
            "notes:/data",
            "bb:1",
            "sh",
            "-c",
            "echo kept > /data/f",
        ],
    );
    assert_eq!(volume_names(&h), ["notes"]);
    assert_eq!(
        ok(
            &h,
            &[
                "run",
                "--rm",
                "-v",
                "notes:/data:ro",
                "bb:1",
                "cat",
                "/data/f"
            ]
        ),
        "kept"
    );
    // Read-only means read-only.
    let out = h.mino(&[
        "run",
        "--rm",
        "-v",
        "notes:/data:ro",
        "bb:1",
        "sh",
        "-c",
        "echo x > /data/g",
    ]);
    assert_ne!(out.status.code(), Some(0));
    // The same volume on the host image, where /data does not exist.
    assert_eq!(
        ok(
            &h,
            &[
                "run",
                "--rm",
                "--mount",
                "source=notes,target=/data",
                "host",
                "cat",
                "/data/f"
            ]
        ),
        "kept"
    );
    assert_eq!(
        ok(
            &h,
            &[
                "volume",
                "inspect",
                "-f",
                "{{.Name}} {{.Driver}} {{.Mountpoint}}",
                "notes"
            ]
        ),
        format!("notes local {}", data(&h, "notes"))
    );
    assert_eq!(h.sh_ok(&format!("cat {}/f", data(&h, "notes"))), "kept\n");
    ok(&h, &["volume", "rm", "notes"]);
    assert!(volume_names(&h).is_empty());
    h.sh_ok(&format!("! test -e {}", data(&h, "notes")));
}

#[test]
fn an_image_s_content_is_copied_into_a_new_volume() {
    let Some(h) = host() else { return };
    import_busybox(
        &h,
        "web:1",
        "mkdir -p $r/srv/www && echo hello > $r/srv/www/index.html && chmod 750 $r/srv/www",
    );
    assert_eq!(
        ok(
            &h,
            &[
                "run",
                "--rm",
                "-v",
                "site:/srv",
                "web:1",
                "cat",
                "/srv/www/index.html"
            ]
        ),
        "hello"
    );
    assert_eq!(
        h.sh_ok(&format!("stat -c %a {}/www", data(&h, "site"))),
        "750\n"
    );
    // Once it has content, the image's is not copied again.
    ok(
        &h,
        &[
            "run",
            "--rm",
            "-v",
            "site:/srv",
            "web:1",
            "sh",
            "-c",
            "echo changed > /srv/www/index.html",
        ],
    );
    assert_eq!(
        ok(
            &h,
            &[
                "run",
                "--rm",
                "-v",
                "site:/srv",
                "web:1",
                "cat",
                "/srv/www/index.html"
            ]
        ),
        "changed"
    );
    // volume-nocopy: a new volume stays empty.
    assert_eq!(
        ok(
            &h,
            &[
                "run",
                "--rm",
                "--mount",
                "source=bare,target=/srv,volume-nocopy",
                "web:1",
                "ls",
                "-A",
                "/srv"
            ]
        ),
        ""
    );
    // An anonymous volume: filled too, shown in inspect, removed by `rm -v`.
    ok(
        &h,
        &[
            "run", "-d", "--name", "anon", "-v", "/srv", "web:1", "sleep", "1000",
        ],
    );
    let name = inspect(&h, "anon", "{{range .Mounts}}{{.Name}}{{end}}");
    assert_eq!(name.len(), 64, "{name}");
    assert_eq!(
        inspect(
            &h,
            "anon",
            "{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}}{{end}}"
        ),
        "volume /srv true"
    );
    assert_eq!(
        h.sh_ok(&format!("cat {}/www/index.html", data(&h, &name))),
        "hello\n"
    );
    ok(&h, &["rm", "-f", "-v", "anon"]);
    assert!(!volume_names(&h).contains(&name));
    // `run --rm` removes its anonymous volumes, and leaves named ones.
    ok(
        &h,
        &[
            "run",
            "--rm",
            "-v",
            "/srv",
            "-v",
            "kept:/data",
            "web:1",
            "true",
        ],
    );
    assert_eq!(volume_names(&h), ["bare", "kept", "site"]);
    // Without -v, `rm` keeps them: dangling, for `volume prune` (anonymous ones only; -a: all unused).
    ok(
        &h,
        &["create", "--name", "keeper", "-v", "/srv", "web:1", "true"],
    );
    ok(&h, &["rm", "keeper"]);
    assert_eq!(volume_names(&h).len(), 4);
    assert_eq!(
        ok(&h, &["volume", "ls", "-q", "--filter", "dangling=true"])
            .lines()
            .count(),
        4
    );
    let pruned = ok(&h, &["volume", "prune", "-f"]);
    assert_eq!(pruned.lines().count(), 2, "{pruned}");
    assert_eq!(volume_names(&h), ["bare", "kept", "site"]);
    ok(&h, &["volume", "prune", "-f", "-a"]);
    assert!(volume_names(&h).is_empty());
    assert_clean(&h, &[]);
}

#[test]
fn a_volume_in_use_is_not_removed() {
    let Some(h) = host() else { return };
    ok(&h, &["volume", "create", "--label", "env=test", "keep"]);
    assert_eq!(
        ok(
            &h,
            &[
                "volume",
                "ls",
                "--filter",
                "label=env=test",
                "--format",
                "{{.Name}}:{{.Driver}}"
            ]
        ),
        "keep:local"
    );
    ok(
        &h,
        &[
            "create",
            "--name",
            "holder",
            "-v",
            "keep:/data",
            "host",
            "true",
        ],
    );
    let err = fails(&h, &["volume", "rm", "keep"], 1);
    assert!(err.contains("keep") && err.contains("holder"), "{err}");
    let err = fails(&h, &["volume", "rm", "-f", "keep"], 1);
    assert!(err.contains("holder"), "{err}");
    assert_eq!(ok(&h, &["volume", "prune", "-f", "-a"]), "");
    assert_eq!(volume_names(&h), ["keep"]);
    ok(&h, &["rm", "holder"]);
    ok(&h, &["volume", "rm", "keep"]);
    assert!(volume_names(&h).is_empty());
}

#[test]
fn mount_and_tmpfs_flags() {
    let Some(h) = host() else { return };
    import_busybox(&h, "bb:1", "");
    h.sh_ok("mkdir -p /tmp/site && echo page > /tmp/site/index.html");
    let script = r#"grep ' /scratch ' /proc/mounts | grep -q 'size=1024k' || exit 2
        grep ' /t ' /proc/mounts | grep -q 'mode=1770' || exit 3
        [ "$(cat /www/index.html)" = page ] || exit 4
        ! touch /www/new 2>/dev/null || exit 5
        echo ok > /m/f || exit 6
        echo ok > /scratch/f || exit 7
        grep -q ' /m/inner tmpfs ' /proc/mounts || exit 8
        echo ok > /m/inner/f || exit 9"#;
    ok(
        &h,
        &[
            "run",
            "--name",
            "flags",
            "--mount",
            "type=tmpfs,target=/scratch,tmpfs-size=1m",
            "--tmpfs",
            "/t:size=2m,mode=1770",
            // Given before the volume it lies in: mounted on it all the same (parents first, as Docker).
            "--tmpfs",
            "/m/inner",
            "--mount",
            "type=bind,source=/tmp/site,target=/www,readonly",
            "--mount",
            "type=volume,source=mv,target=/m",
            "bb:1",
            "sh",
            "-c",
            script,
        ],
    );
    let mounts = inspect(
        &h,
        "flags",
        "{{range .Mounts}}{{.Type}}:{{.Destination}}:{{.RW}} {{end}}",
    );
    for m in [
        "bind:/www:false",
        "volume:/m:true",
        "tmpfs:/scratch:true",
        "tmpfs:/t:true",
    ] {
        assert!(mounts.contains(m), "{m} not in {mounts}");
    }
    h.sh_ok("! test -e /tmp/site/new");
    // The tmpfs's mount point was made in the volume; what was written went to the tmpfs.
    h.sh_ok(&format!(
        "test -d {0}/inner && ! test -e {0}/inner/f && test -e {0}/f",
        data(&h, "mv")
    ));
    ok(&h, &["rm", "flags"]);
}

/// An image container's root is mounted only in its own mount namespace: the host's mount table (and the
/// mount template's) does not grow with the number of running image containers.
#[test]
fn an_image_root_is_not_mounted_on_the_host() {
    let Some(h) = host() else { return };
    import_busybox(&h, "bb:1", "");
    let overlays = "awk '$9 == \"overlay\"' /proc/self/mountinfo | wc -l";
    let before = h.sh_ok(overlays);
    ok(&h, &["run", "-d", "--name", "img", "bb:1", "sleep", "1000"]);
    let pid = inspect(&h, "img", "{{.State.Pid}}");
    assert_eq!(
        h.sh_ok(&format!(
            "awk '$5 == \"/\" {{print $9}}' /proc/{pid}/mountinfo"
        )),
        "overlay\n"
    );
    assert_eq!(
        h.sh_ok(overlays),
        before,
        "an overlay was mounted on the host"
    );
    // exec finds the image's user database through the container's root.
    assert_eq!(
        ok(&h, &["exec", "-u", "root", "img", "cat", "/etc/passwd"]),
        "root:x:0:0:root:/root:/bin/sh"
    );
    ok(&h, &["rm", "-f", "img"]);
    assert_clean(&h, &[]);
}

#[test]
fn bad_volume_input_is_one_line_and_leaves_nothing() {
    let Some(h) = host() else { return };
    for (args, code, names) in [
        (&["volume", "inspect", "nosuch"][..], 1, &["nosuch"][..]),
        (&["volume", "rm", "nosuch"], 1, &["nosuch"]),
        (&["volume", "create", "b@d"], 1, &["b@d"]),
        (&["volume", "create", "-d", "nfs", "x1"], 1, &["nfs"]),
        (
            &["volume", "ls", "--filter", "colour=red"],
            1,
            &["colour=red"],
        ),
        (&["run", "-v", "b@d:/x", "host", "true"], 125, &["b@d"]),
        (
            &["run", "-v", "data:rel", "host", "true"],
            125,
            &["data:rel"],
        ),
        (
            &["run", "--mount", "type=nfs,target=/x", "host", "true"],
            125,
            &["--mount", "nfs"],
        ),
        (
            &[
                "run",
                "--mount",
                "source=v1,target=/x,colour=red",
                "host",
                "true",
            ],
            125,
            &["colour"],
        ),
        (
            &["run", "--mount", "source=v1", "host", "true"],
            125,
            &["target"],
        ),
        (
            &[
                "run",
                "-v",
                "v1:/x",
                "--mount",
                "source=v2,target=/x/",
                "host",
                "true",
            ],
            125,
            &["duplicate mount point /x"],
        ),
        (&["run", "--tmpfs", "rel", "host", "true"], 125, &["rel"]),
    ] {
        let err = fails(&h, args, code);
        assert!(err.starts_with("minotaur: "), "{args:?}: {err}");
        for n in names {
            assert!(
                err.contains(n),
                "{args:?}: the error should name {n:?}: {err}"
            );
        }
        assert!(volume_names(&h).is_empty(), "{args:?} left a volume");
        assert_clean(&h, &[]);
    }
}
