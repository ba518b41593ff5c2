//! `login`: credentials checked against the registry before they are saved.

use super::*;

#[test]
fn login_checks_credentials_before_saving_them() {
    let Some(h) = host() else { return };
    if h.sh("command -v htpasswd").status.code() != Some(0) {
        println!("skipped: htpasswd (apache2-utils) is not installed");
        return;
    }
    h.sh_ok("mkdir -p /tmp/auth && htpasswd -Bbn tester s3cret > /tmp/auth/htpasswd");
    start_registry(
        &h,
        "auth",
        AUTH_REG,
        "auth:\n  htpasswd:\n    realm: test-realm\n    path: /tmp/auth/htpasswd",
    );
    import_busybox(&h, "bb:1", "");
    let image = format!("{AUTH_REG}/bb:1");
    ok(&h, &["tag", "bb:1", &image]);

    fails(&h, &["push", &image], 1, "unauthorized");
    fails(
        &h,
        &["login", "-u", "tester", "-p", "wrong", AUTH_REG],
        1,
        &format!("unauthorized: {AUTH_REG} refused the credentials"),
    );
    assert!(
        !h.sh("test -e /tmp/docker/config.json").status.success(),
        "refused credentials are not saved"
    );
    let out = h
        .minotaur()
        .env("DOCKER_CONFIG", "/tmp/docker")
        .args(["login", "-u", "tester", "--password-stdin", AUTH_REG])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"s3cret\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", show(&["login"], &out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Login Succeeded\n");
    let config = h.sh_ok("cat /tmp/docker/config.json");
    assert!(config.contains(AUTH_REG), "{config}");

    ok(&h, &["push", &image]);
    ok(&h, &["rmi", &image]);
    ok(&h, &["pull", "-q", &image]);

    assert_eq!(
        ok(&h, &["logout", AUTH_REG]),
        format!("Removing login credentials for {AUTH_REG}")
    );
    assert_eq!(
        ok(&h, &["logout", AUTH_REG]),
        format!("Not logged in to {AUTH_REG}")
    );
    ok(&h, &["rmi", &image]);
    fails(&h, &["pull", &image], 1, "unauthorized");
}
