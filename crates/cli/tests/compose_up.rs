//! `compose up`, `down` and the other verbs in a throwaway host: the tutorial's compose file with local
//! stand-ins for its images, idempotent `up`, recreation of what changed (and of what shares its network),
//! `down -v` leaving nothing behind, orphans, profiles, and bad input that changes nothing.

mod common;

use common::{assert_clean, box_processes, fails, host, ok, wait_until_ok};
use minotaur_testhost::{TestHost, WORLD_HTTP};

/// Imports a busybox image as `name` whose `/www/index.html` says `page`, with `changes` (Dockerfile
/// instructions) applied; `extra` runs in its root (`$r`) before it is packed.
fn image(h: &TestHost, name: &str, page: &str, changes: &[&str], extra: &str) {
    let dir = format!("/tmp/img-{}", name.replace([':', '/'], "-"));
    h.sh_ok(&format!(
        "set -e; r={dir}; rm -rf $r; mkdir -p $r/bin $r/etc $r/tmp $r/www
         cp \"$(command -v busybox)\" $r/bin/busybox
         for c in sh cat echo ls sleep true httpd nc nslookup sed tail wget ip readlink; do ln -s busybox $r/bin/$c; done
         echo 'root:x:0:0:root:/root:/bin/sh' > $r/etc/passwd
         echo '{page}' > $r/www/index.html
         {extra}
         tar -C $r -cf $r.tar ."
    ));
    let tar = format!("{dir}.tar");
    let mut args = vec!["import"];
    for c in changes {
        args.extend_from_slice(&["-c", c]);
    }
    args.extend_from_slice(&[&tar, name]);
    ok(h, &args);
}

/// The tutorial's images: a PHP app (a web page on port 80), a browser whose remote desktop is a web page
/// on port 3000, and socat as a forwarding script (`socat TCP-LISTEN:PORT,... TCP:HOST:PORT`, resolving
/// HOST per connection with busybox's own resolver).
fn tutorial_images(h: &TestHost) {
    image(
        h,
        "itsziget/phar-examples:1.0",
        "php demo app",
        &[r#"CMD ["httpd", "-f", "-p", "80", "-h", "/www"]"#],
        "",
    );
    image(
        h,
        "lscr.io/linuxserver/firefox:101.0.1",
        "firefox remote desktop",
        &[r#"CMD ["httpd", "-f", "-p", "3000", "-h", "/www"]"#],
        "",
    );
    image(
        h,
        "alpine/socat:1.7.4.4-r0",
        "",
        &[r#"ENTRYPOINT ["/bin/socat"]"#],
        r#"cat > $r/bin/socat <<'S'
#!/bin/sh
lport=${1#TCP-LISTEN:}; lport=${lport%%,*}
exec nc -ll -p "$lport" -e /bin/connect "${2#TCP:}"
S
cat > $r/bin/connect <<'S'
#!/bin/sh
host=${1%:*}; port=${1##*:}
ip=$(nslookup "$host" | sed -n 's/^Address:[[:space:]]*\([0-9.]*\)$/\1/p' | tail -n 1)
exec nc "$ip" "$port"
S
chmod +x $r/bin/socat $r/bin/connect"#,
    );
}

const TUTORIAL: &str = "networks:
  default:
    internal: true
  public:

services:
  php:
    image: itsziget/phar-examples:1.0

  firefox:
    network_mode: service:php
    environment:
      PUID: 1000
      PGID: 1000
      TZ: Europe/London
    shm_size: \"1gb\"
    image: lscr.io/linuxserver/firefox:101.0.1

  proxy:
    image: alpine/socat:1.7.4.4-r0
    command: \"TCP-LISTEN:3000,fork,reuseaddr TCP:php:3000\"
    ports:
      - 3000:3000
    networks:
      - default
      - public
";

fn write(h: &TestHost, dir: &str, text: &str) -> String {
    h.sh_ok(&format!(
        "mkdir -p {dir} && cat > {dir}/compose.yml <<'EOF'\n{text}EOF"
    ));
    format!("{dir}/compose.yml")
}

fn compose<'a>(file: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["compose", "-f", file];
    v.extend_from_slice(args);
    v
}

#[test]
fn the_tutorial_compose_file_runs_unchanged() {
    let Some(h) = host() else {
        eprintln!("skipped: needs root and a throwaway host");
        return;
    };
    tutorial_images(&h);
    let file = write(&h, "/tmp/netns", TUTORIAL);
    ok(&h, &compose(&file, &["up", "-d"]));
    let ps = ok(&h, &compose(&file, &["ps"]));
    for name in ["netns-php-1", "netns-firefox-1", "netns-proxy-1"] {
        assert!(ps.contains(name), "{name} in {ps}");
    }
    assert!(ps.contains("0.0.0.0:3000->3000/tcp"), "{ps}");
    // The names and labels docker compose gives.
    assert_eq!(
        ok(
            &h,
            &[
                "network",
                "ls",
                "--format",
                "{{.Name}}",
                "--filter",
                "label=com.docker.compose.project=netns"
            ]
        )
        .lines()
        .collect::<std::collections::BTreeSet<_>>(),
        ["netns_default", "netns_public"].into()
    );
    assert_eq!(
        ok(&h, &["inspect", "-f", "{{index .Config.Labels \"com.docker.compose.service\"}} {{index .Config.Labels \"com.docker.compose.container-number\"}} {{index .Config.Labels \"com.docker.compose.oneoff\"}}", "netns-php-1"]),
        "php 1 False"
    );
    assert_eq!(ok(&h, &["compose", "ls", "-q"]), "netns");

    // From the host: the published port reaches the browser through the proxy, across the two networks,
    // into the PHP container's network namespace.
    wait_until_ok(
        &h,
        "curl -sf -m 2 http://127.0.0.1:3000/ | grep -q 'firefox remote desktop'",
    );
    // From inside: the browser shares the PHP container's network (it reaches the app on localhost), and
    // nothing on the internal network reaches outside.
    assert_eq!(
        ok(
            &h,
            &compose(
                &file,
                &["exec", "-T", "firefox", "wget", "-qO-", "http://127.0.0.1/"]
            )
        ),
        "php demo app"
    );
    let pid = |c: &str| ok(&h, &["inspect", "-f", "{{.State.Pid}}", c]);
    let (php, firefox) = (pid("netns-php-1"), pid("netns-firefox-1"));
    assert_eq!(
        h.sh_ok(&format!("readlink /proc/{php}/ns/net")),
        h.sh_ok(&format!("readlink /proc/{firefox}/ns/net"))
    );
    assert!(!h
        .mino(&compose(
            &file,
            &[
                "exec",
                "-T",
                "php",
                "wget",
                "-q",
                "-T",
                "2",
                "-O-",
                &format!("http://{WORLD_HTTP}/")
            ]
        ))
        .status
        .success());
    assert!(!h.sh("curl -sf -m 2 http://127.0.0.1:80/").status.success());
    // `network_mode: service:php` survives php being restarted: the namespace is the file the engine keeps.
    ok(&h, &compose(&file, &["restart", "php"]));
    ok(&h, &compose(&file, &["restart", "firefox"]));
    wait_until_ok(
        &h,
        "curl -sf -m 2 http://127.0.0.1:3000/ | grep -q 'firefox remote desktop'",
    );

    let ids = ok(&h, &["ps", "-a", "-q", "--no-trunc"]);
    ok(&h, &compose(&file, &["down", "-v"]));
    let ids: Vec<String> = ids.lines().map(str::to_owned).collect();
    assert_clean(&h, &ids);
    assert_eq!(
        ok(
            &h,
            &[
                "network",
                "ls",
                "-q",
                "--filter",
                "label=com.docker.compose.project=netns"
            ]
        ),
        ""
    );
    assert!(!h.sh_ok("ip -o link").contains("veth"), "veths left");
    assert!(box_processes(&h).is_empty(), "{:?}", box_processes(&h));
}

#[test]
fn up_is_idempotent_recreates_what_changed_and_down_leaves_nothing() {
    let Some(h) = host() else {
        eprintln!("skipped: needs root and a throwaway host");
        return;
    };
    let v1 = "name: life
services:
  web:
    image: host
    command: [busybox, httpd, -f, -p, '8080', -h, /srv]
    volumes: [data:/srv]
    environment: {GREETING: hello}
  side:
    image: host
    network_mode: service:web
    command: [sleep, infinity]
  db:
    image: host
    command: [sleep, infinity]
    secrets: [token]
  tool:
    image: host
    profiles: [debug]
    command: [sleep, infinity]
volumes:
  data:
secrets:
  token:
    environment: TOKEN
";
    let file = write(&h, "/tmp/life", v1);
    let up_with = |before: &[&str], extra: &[&str]| {
        let mut a = vec!["compose", "-f", &file];
        a.extend_from_slice(before);
        a.extend_from_slice(&["up", "-d"]);
        a.extend_from_slice(extra);
        let out = h
            .minotaur()
            .env("TOKEN", "s3cret")
            .args(&a)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let up = |extra: &[&str]| up_with(&[], extra);
    let ids = |h: &TestHost| ok(h, &["ps", "-a", "-q", "--no-trunc"]);
    up(&[]);
    let first = ids(&h);
    assert_eq!(
        first.lines().count(),
        3,
        "the profile's service is left out"
    );
    assert_eq!(
        ok(
            &h,
            &compose(&file, &["exec", "-T", "db", "cat", "/run/secrets/token"])
        ),
        "s3cret"
    );
    // Twice: nothing changes.
    let second = up(&[]);
    assert_eq!(ids(&h), first);
    assert!(
        !second.contains("Created") && !second.contains("Recreated"),
        "{second}"
    );

    // Edit one service: only it, and the service sharing its network, are recreated; the dry run says why.
    write(
        &h,
        "/tmp/life",
        &v1.replace("GREETING: hello", "GREETING: bonjour"),
    );
    let dry = up(&["--dry-run", "--explain"]);
    assert!(
        dry.contains("life-web-1  Recreate: changed environment.GREETING"),
        "{dry}"
    );
    assert_eq!(ids(&h), first, "a dry run changes nothing");
    let out = up(&[]);
    assert!(out.contains("Container life-web-1  Recreated"), "{out}");
    assert!(out.contains("Container life-side-1  Recreated"), "{out}");
    assert!(!out.contains("life-db-1  Recreated"), "{out}");
    let db = ok(&h, &["inspect", "-f", "{{.Id}}", "life-db-1"]);
    assert!(first.contains(&db));
    let (web, side) = (
        ok(&h, &["inspect", "-f", "{{.State.Pid}}", "life-web-1"]),
        ok(&h, &["inspect", "-f", "{{.State.Pid}}", "life-side-1"]),
    );
    assert_eq!(
        h.sh_ok(&format!("readlink /proc/{web}/ns/net")),
        h.sh_ok(&format!("readlink /proc/{side}/ns/net"))
    );

    // Profiles: naming the profile brings its service up.
    up_with(&["--profile", "debug"], &[]);
    assert!(ok(&h, &compose(&file, &["ps", "--services"])).contains("tool"));

    // Orphans: a service removed from the file is reported, then removed on request.
    write(
        &h,
        "/tmp/life",
        &v1.replace(
            "  db:\n    image: host\n    command: [sleep, infinity]\n    secrets: [token]\n",
            "",
        ),
    );
    let out = up(&[]);
    assert!(out.contains("Found orphan containers"), "{out}");
    let out = up(&["--remove-orphans"]);
    assert!(out.contains("life-db-1  Removed"), "{out}");

    let all = ids(&h);
    ok(
        &h,
        &["compose", "-f", &file, "--profile", "debug", "down", "-v"],
    );
    let all: Vec<String> = all.lines().map(str::to_owned).collect();
    assert_clean(&h, &all);
    assert_eq!(ok(&h, &["volume", "ls", "-q"]), "");
    assert!(box_processes(&h).is_empty(), "{:?}", box_processes(&h));
    assert_eq!(ok(&h, &["compose", "ls", "-a", "-q"]), "");
}

#[test]
fn bad_compose_files_fail_on_one_line_and_create_nothing() {
    let Some(h) = host() else {
        eprintln!("skipped: needs root and a throwaway host");
        return;
    };
    let cases = [
        (
            "services:\n  a:\n    image: host\n    depends_on: [nope]\n",
            "compose.yml:4",
        ),
        ("services:\n  a:\n    image: [host\n", "compose.yml:"),
        (
            "services:\n  a:\n    image: host\n    ports: ['99999:80']\n",
            "port",
        ),
        (
            "services:\n  a:\n    build: .\n",
            "building images is not supported",
        ),
        // A missing image is not pulled here (the box has no registry; registry.rs tests pulls).
        (
            "services:\n  a:\n    image: not-imported\n    pull_policy: never\n  b:\n    image: host\n",
            "service a: image not-imported not found",
        ),
        (
            "services:\n  a:\n    image: host\n    pull_policy: daily\n",
            "service a: pull_policy \"daily\" is not supported",
        ),
        (
            "services:\n  a:\n    image: host\n    userns_mode: keep-id\n",
            "compose.yml:4: services.a.userns_mode: \"keep-id\" is not a user namespace mode",
        ),
        (
            "services:\n  a:\n    image: host\n    ulimits:\n      nofile: {soft: 20, hard: 10}\n",
            "service \"a\": invalid ulimits \"nofile=20:10\"",
        ),
    ];
    for (text, expected) in cases {
        let file = write(&h, "/tmp/bad", text);
        let err = fails(&h, &compose(&file, &["up", "-d"]), 1);
        assert!(err.contains(expected), "{text}: {err}");
        assert_eq!(ok(&h, &["ps", "-a", "-q"]), "", "{text}");
        assert_eq!(
            ok(
                &h,
                &[
                    "network",
                    "ls",
                    "-q",
                    "--filter",
                    "label=com.docker.compose.project=bad"
                ]
            ),
            "",
            "{text}"
        );
    }
}

#[test]
fn up_wait_follows_health_and_one_shots_and_restart_policies_survive_kill_9() {
    let Some(h) = host() else {
        eprintln!("skipped: needs root and a throwaway host");
        return;
    };
    let file = write(
        &h,
        "/tmp/deps",
        "services:
  db:
    image: host
    command: [sh, -c, 'sleep 1; touch /tmp/ready; exec sleep infinity']
    healthcheck:
      test: [CMD, test, -f, /tmp/ready]
      interval: 200ms
      retries: 20
  init:
    image: host
    command: ['true']
  web:
    image: host
    command: [sleep, infinity]
    restart: always
    depends_on:
      db: {condition: service_healthy}
      init: {condition: service_completed_successfully}
",
    );
    ok(
        &h,
        &compose(&file, &["up", "-d", "--wait", "--wait-timeout", "60"]),
    );
    assert_eq!(
        ok(
            &h,
            &["inspect", "-f", "{{.State.Health.Status}}", "deps-db-1"]
        ),
        "healthy"
    );
    assert_eq!(
        ok(
            &h,
            &[
                "inspect",
                "-f",
                "{{.State.Status}} {{.State.ExitCode}}",
                "deps-init-1"
            ]
        ),
        "exited 0"
    );
    assert_eq!(
        ok(
            &h,
            &[
                "inspect",
                "-f",
                "{{.State.Status}} {{.HostConfig.RestartPolicy.Name}}",
                "deps-web-1"
            ]
        ),
        "running always"
    );
    assert!(ok(&h, &compose(&file, &["ps"])).contains("(healthy)"));
    // kill -9 of the main process: the supervisor starts it again.
    let pid = ok(&h, &["inspect", "-f", "{{.State.Pid}}", "deps-web-1"]);
    h.sh_ok(&format!("kill -9 {pid}"));
    minotaur_testhost::wait_until("the restart policy to start web again", || {
        let out = h.mino(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Pid}} {{.RestartCount}}",
            "deps-web-1",
        ]);
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let f: Vec<&str> = text.split(' ').collect();
        Ok(f.len() == 3 && f[0] == "running" && f[1] != pid && f[1] != "0" && f[2] != "0")
    })
    .unwrap();
    ok(&h, &compose(&file, &["down"]));
    assert_eq!(ok(&h, &["ps", "-a", "-q"]), "");
}

/// `userns_mode: auto` (and `auto:size=N`) gives a service's container a user namespace of its own over a
/// range of the box's subordinate IDs, as `run --userns` does; `ulimits` become its resource limits.
#[test]
fn userns_mode_and_ulimits_reach_the_services_containers() {
    let Some(h) = host() else {
        eprintln!("skipped: needs root and a throwaway host");
        return;
    };
    h.sh_ok(
        "printf 'containers:100000:200000\\n' > /tmp/subuid; printf 'containers:500000:200000\\n' > /tmp/subgid",
    );
    let file = write(
        &h,
        "/tmp/uns",
        "services:
  auto:
    image: host
    command: [sleep, '1000']
    userns_mode: auto
    ulimits:
      nofile: {soft: 1000, hard: 2000}
      nproc: 500
  sized:
    image: host
    command: [sleep, '1000']
    userns_mode: auto:size=1000
  plain:
    image: host
    command: [sleep, '1000']
    userns_mode: host
",
    );
    let mut up = vec!["--subuid", "/tmp/subuid", "--subgid", "/tmp/subgid"];
    up.extend(compose(&file, &["up", "-d"]));
    ok(&h, &up);
    let uid_map = |c: &str| {
        let pid = ok(&h, &["inspect", "-f", "{{.State.Pid}}", c]);
        h.sh_ok(&format!("cat /proc/{pid}/uid_map"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(uid_map("uns-auto-1"), "0 100000 65536");
    assert_eq!(uid_map("uns-sized-1"), "0 165536 1000");
    assert_eq!(uid_map("uns-plain-1"), "0 0 4294967295");
    let inspect = |c: &str, f: &str| ok(&h, &["inspect", "-f", f, c]);
    assert_eq!(inspect("uns-auto-1", "{{.HostConfig.UsernsMode}}"), "auto");
    assert_eq!(inspect("uns-plain-1", "{{.HostConfig.UsernsMode}}"), "");
    let pid = inspect("uns-auto-1", "{{.State.Pid}}");
    let limits = h.sh_ok(&format!(
        "grep -E '^Max (open files|processes)' /proc/{pid}/limits | awk '{{print $(NF-2), $(NF-1)}}'"
    ));
    assert_eq!(limits.trim(), "500 500\n1000 2000");
    let shown = inspect(
        "uns-auto-1",
        "{{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}:{{.Hard}} {{end}}",
    );
    assert_eq!(shown, "nofile=1000:2000 nproc=500:500");
    // A second up changes nothing: the ranges stay the containers'.
    ok(&h, &up);
    assert_eq!(uid_map("uns-sized-1"), "0 165536 1000");
    ok(&h, &compose(&file, &["down"]));
    assert_clean(&h, &[]);
}
