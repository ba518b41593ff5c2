//! Healthchecks end to end in a box: a check that makes a container healthy and then unhealthy, what
//! `inspect` and `ps` show of it, a check that times out, `--no-healthcheck`, and bad flags.

mod common;

use common::{fails, host, inspect, ok};
use minotaur_testhost::{wait_until, TestHost};

/// Waits until the container's health is `status`.
fn wait_health(h: &TestHost, c: &str, status: &str) {
    wait_until(&format!("{c} to be {status}"), || {
        Ok(h.mino(&["inspect", "-f", "{{.State.Health.Status}}", c])
            .stdout
            == format!("{status}\n").as_bytes())
    })
    .unwrap();
}

fn health(h: &TestHost, c: &str) -> serde_json::Value {
    serde_json::from_str(&inspect(h, c, "{{json .State.Health}}")).unwrap()
}

#[test]
fn a_check_makes_a_container_healthy_then_unhealthy() {
    let Some(h) = host() else { return };
    // Failures do not count within the start period: it stays starting until the file exists.
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "--health-cmd",
            "cat /tmp/ok",
            "--health-interval",
            "100ms",
            "--health-retries",
            "2",
            "--health-start-period",
            "1m",
            "--health-start-interval",
            "50ms",
            "host",
            "sleep",
            "infinity",
        ],
    );
    assert_eq!(inspect(&h, "web", "{{.State.Health.Status}}"), "starting");
    wait_until("a first check", || {
        Ok(!health(&h, "web")["Log"].as_array().unwrap().is_empty())
    })
    .unwrap();
    let first = health(&h, "web");
    assert_eq!(first["Status"], "starting");
    assert_eq!(first["FailingStreak"], 0);
    assert_eq!(first["Log"][0]["ExitCode"], 1);
    assert!(first["Log"][0]["Output"]
        .as_str()
        .unwrap()
        .contains("/tmp/ok"));
    let status = ok(&h, &["ps", "--format", "{{.Status}}"]);
    assert!(status.ends_with("(health: starting)"), "{status}");
    assert_eq!(ok(&h, &["ps", "-q", "--filter", "health=healthy"]), "");

    ok(&h, &["exec", "web", "sh", "-c", "echo fine > /tmp/ok"]);
    wait_health(&h, "web", "healthy");
    let now = health(&h, "web");
    let log = now["Log"].as_array().unwrap();
    assert!(log.len() <= 5, "{log:?}");
    let last = log.last().unwrap();
    assert_eq!(last["ExitCode"], 0);
    assert_eq!(last["Output"], "fine\n");
    for k in ["Start", "End"] {
        assert!(last[k].as_str().unwrap().starts_with("20"), "{last}");
    }
    let status = ok(&h, &["ps", "--format", "{{.Status}}"]);
    assert!(
        status.starts_with("Up ") && status.ends_with("(healthy)"),
        "{status}"
    );
    let id = inspect(&h, "web", "{{.Id}}");
    assert_eq!(
        ok(
            &h,
            &["ps", "-q", "--no-trunc", "--filter", "health=healthy"]
        ),
        id
    );

    ok(&h, &["exec", "web", "rm", "/tmp/ok"]);
    wait_health(&h, "web", "unhealthy");
    assert!(health(&h, "web")["FailingStreak"].as_u64().unwrap() >= 2);
    let status = ok(&h, &["ps", "--format", "{{.Status}}"]);
    assert!(status.ends_with("(unhealthy)"), "{status}");
    assert_eq!(
        ok(
            &h,
            &["ps", "-q", "--no-trunc", "--filter", "health=unhealthy"]
        ),
        id
    );
    assert_eq!(ok(&h, &["ps", "-q", "--filter", "health=none"]), "");
    // Only the last five results are kept.
    wait_until("five results", || {
        Ok(health(&h, "web")["Log"].as_array().unwrap().len() == 5)
    })
    .unwrap();
    assert_eq!(
        inspect(&h, "web", "{{json .Config.Healthcheck.Test}}"),
        r#"["CMD-SHELL","cat /tmp/ok"]"#
    );
    ok(&h, &["rm", "-f", "web"]);
}

#[test]
fn a_check_that_runs_too_long_fails_and_no_healthcheck_turns_checks_off() {
    let Some(h) = host() else { return };
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "slow",
            "--health-cmd",
            "sleep 5",
            "--health-interval",
            "50ms",
            "--health-timeout",
            "200ms",
            "--health-retries",
            "1",
            "host",
            "sleep",
            "infinity",
        ],
    );
    wait_health(&h, "slow", "unhealthy");
    let last = health(&h, "slow")["Log"][0].clone();
    assert_eq!(last["ExitCode"], -1);
    assert_eq!(last["Output"], "Health check exceeded timeout (200ms)");
    ok(&h, &["rm", "-f", "slow"]);

    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "plain",
            "--no-healthcheck",
            "host",
            "sleep",
            "infinity",
        ],
    );
    assert_eq!(inspect(&h, "plain", "{{.State.Health}}"), "<nil>");
    let status = ok(&h, &["ps", "--format", "{{.Status}}"]);
    assert!(!status.contains('('), "{status}");
    let id = inspect(&h, "plain", "{{.Id}}");
    assert_eq!(
        ok(&h, &["ps", "-q", "--no-trunc", "--filter", "health=none"]),
        id
    );
    ok(&h, &["rm", "-f", "plain"]);
}

#[test]
fn bad_health_and_restart_flags_are_named_and_change_nothing() {
    let Some(h) = host() else { return };
    let cases: &[(&[&str], &str)] = &[
        (&["--health-interval", "soon"], "--health-interval \"soon\""),
        (&["--health-timeout", "-1s"], "cannot be negative"),
        (&["--health-start-period", "10us"], "less than 1ms"),
        (
            &["--health-start-interval", "1d"],
            "--health-start-interval",
        ),
        (&["--health-retries", "-2"], "--health-retries"),
        (&["--health-retries", "many"], "--health-retries"),
        (&["--health-cmd", " "], "--health-cmd"),
        (
            &["--no-healthcheck", "--health-cmd", "true"],
            "conflicts with --health-cmd",
        ),
        (&["--restart", "sometimes"], "invalid restart policy"),
        (&["--restart", "on-failure:-1"], "maximum retry count"),
        (&["--restart", "always:3"], "only on-failure"),
        (
            &["--rm", "--restart", "always"],
            "--rm conflicts with --restart",
        ),
    ];
    for (flags, want) in cases {
        for verb in ["run", "create"] {
            let mut args = vec![verb, "-d"];
            if verb == "create" {
                args.pop();
            }
            args.extend_from_slice(flags);
            args.extend_from_slice(&["host", "true"]);
            let err = fails(&h, &args, 125);
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }
    assert_eq!(ok(&h, &["ps", "-a", "-q"]), "");
    let err = fails(&h, &["ps", "--filter", "health=great"], 1);
    assert!(err.contains("health=\"great\""), "{err}");
}

#[test]
fn the_images_healthcheck_applies_under_the_flags() {
    let Some(h) = host() else { return };
    common::import_busybox(&h, "bb", "");
    // Docker keeps HEALTHCHECK in the image config's `config.Healthcheck`: add one to a saved archive.
    ok(&h, &["save", "-o", "/tmp/bb.tar", "bb"]);
    h.sh_ok(
        r#"set -e; mkdir /tmp/bb; cd /tmp/bb; tar -xf /tmp/bb.tar
        for f in $(find . -type f); do
          if grep -q '"config":{' "$f" && grep -q '"rootfs"' "$f"; then
            perl -0pi -e '$h = q("Healthcheck":{"Test":["CMD-SHELL","echo from the image"],"Interval":60000000000,"Retries":1}); s/"config":\{\}/"config":{$h}/ or s/"config":\{/"config":{$h,/' "$f"
          fi
        done
        tar -cf /tmp/bb-health.tar ."#,
    );
    ok(&h, &["rmi", "bb"]);
    ok(&h, &["load", "-i", "/tmp/bb-health.tar"]);
    // The image's command and retries, the flag's interval.
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "img",
            "--health-interval",
            "50ms",
            "bb",
            "sleep",
            "1000",
        ],
    );
    let check: serde_json::Value =
        serde_json::from_str(&inspect(&h, "img", "{{json .Config.Healthcheck}}")).unwrap();
    assert_eq!(
        check,
        serde_json::json!({"Test": ["CMD-SHELL", "echo from the image"], "Interval": 50000000,
            "Timeout": 0, "StartPeriod": 0, "StartInterval": 0, "Retries": 1})
    );
    wait_health(&h, "img", "healthy");
    assert_eq!(health(&h, "img")["Log"][0]["Output"], "from the image\n");
    ok(&h, &["rm", "-f", "img"]);
    // --no-healthcheck turns the image's off.
    ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "off",
            "--no-healthcheck",
            "bb",
            "sleep",
            "1000",
        ],
    );
    assert_eq!(inspect(&h, "off", "{{.State.Health}}"), "<nil>");
    ok(&h, &["rm", "-f", "off"]);
}
