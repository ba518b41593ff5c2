//! The throwaway host itself: the box reaches its outside world by address and, through the
//! 127.0.0.53 stub, by name, and leaves nothing behind.

use minotaur_testhost::{TestHost, WORLD_HTTP, WORLD_NAME, WORLD_PAGE};

fn host() -> Option<TestHost> {
    TestHost::new(env!("CARGO_BIN_EXE_minotaur"))
}

#[test]
fn box_reaches_the_outside_world_through_the_stub_resolver() {
    let Some(h) = host() else { return };
    let page = h.sh_ok(&format!("curl -sS --max-time 5 http://{WORLD_HTTP}/"));
    assert_eq!(page, WORLD_PAGE);
    let page = h.sh_ok(&format!("curl -sS --max-time 5 http://{WORLD_NAME}/"));
    assert_eq!(page, WORLD_PAGE);
    assert_eq!(
        h.sh_ok("cat /etc/resolv.conf").lines().next(),
        Some("nameserver 127.0.0.53")
    );
    assert_eq!(h.sh_ok("hostname").trim(), "minotaur-box");
}

#[test]
fn box_is_torn_down_with_its_processes() {
    let Some(h) = host() else { return };
    let init = h.pid();
    let world = h.world_pid();
    let dir = h.dir().to_owned();
    drop(h);
    minotaur_testhost::wait_until("the box to go", || {
        Ok(!std::path::Path::new(&format!("/proc/{init}")).exists()
            && !std::path::Path::new(&format!("/proc/{world}")).exists())
    })
    .unwrap();
    assert!(!dir.exists());
}

#[test]
fn version_runs_inside_the_box() {
    let Some(h) = host() else { return };
    let out = h.mino(&["version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("minotaur "));
}
