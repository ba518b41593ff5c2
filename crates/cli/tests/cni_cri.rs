//! `minotaur-cni` under containerd's CRI plugin, as a kubelet would use it: containerd 1.6 (Debian's) in
//! the throwaway host with a private root, state and socket, CRI's `cni.conf_dir` and `cni.bin_dir`
//! pointing at a network list whose plugin is `minotaur-cni`, and a sandbox image built here and imported
//! with `ctr` (nothing is pulled). RunPodSandbox, PodSandboxStatus, StopPodSandbox and RemovePodSandbox go
//! over CRI's gRPC socket from `tests/cri_client.py` (grpcio, the messages encoded by hand). The pods run
//! on minotaur's runtime too (`minotaur-runc` as the runc v2 shim's binary). Traffic goes only to the
//! network's gateway inside the box.

mod common;

use std::path::Path;
use std::process::Output;

use common::containerd::Containerd;
use common::{have, host, import_busybox, ok, show, wait_until_ok};
use minotaur_testhost::{wait_until, TestHost};

/// The loopback plugin containerd's CRI runs for every pod's `lo` (Debian's containernetworking-plugins).
const LOOPBACK: &str = "/usr/lib/cni/loopback";

/// containerd with its CRI plugin, started in the box (see [`Containerd`]).
struct Cri<'a>(Containerd<'a>);

impl<'a> Cri<'a> {
    fn start(h: &'a TestHost, bin_dir: &Path, conf_dir: &Path, runc: &Path) -> Cri<'a> {
        // restrict_oom_score_adj: CRI gives a sandbox -998, and lowering a score needs CAP_SYS_RESOURCE,
        // which root may not have where the tests run; restricted, the sandbox keeps containerd's score.
        let extra = format!(
            r#"[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:latest"
  disable_apparmor = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{bin}"
    conf_dir = "{conf}"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      BinaryName = "{runc}"
"#,
            bin = bin_dir.display(),
            conf = conf_dir.display(),
            runc = runc.display(),
        );
        let cri = Cri(Containerd::start(h, "containerd-cri", &extra));
        wait_until("containerd's CRI service", || {
            Ok(cri.client(&["version"]).status.success())
        })
        .unwrap();
        cri
    }

    /// `ctr` in CRI's namespace.
    fn ctr(&self, args: &[&str]) -> String {
        self.0.ok(&[&["--namespace", "k8s.io"][..], args].concat())
    }

    fn client(&self, args: &[&str]) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cri_client.py");
        self.0
            .h
            .command("python3")
            .arg(script)
            .arg(&self.0.socket)
            .args(args)
            .output()
            .expect("running python3")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.client(args);
        assert!(out.status.success(), "cri {args:?}: {}", show(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn status(&self, id: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", id])).unwrap()
    }

    fn log(&self) -> String {
        self.0.log()
    }
}

/// The `mc` veths (attachments' host ends) in the box.
fn attachment_veths(h: &TestHost) -> usize {
    h.sh_ok("ip -o link show")
        .lines()
        .filter(|l| l.split(": ").nth(1).is_some_and(|n| n.starts_with("mc")))
        .count()
}

#[test]
fn containerd_cri_runs_pods_on_a_minotaur_network_and_frees_them() {
    if !have("containerd") || !have("ctr") || !have("containerd-shim-runc-v2") || !have("python3") {
        return;
    }
    if !Path::new(LOOPBACK).is_file() {
        eprintln!("skipped: {LOOPBACK} (containernetworking-plugins) is not installed");
        return;
    }
    if !std::process::Command::new("python3")
        .args(["-c", "import grpc"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("skipped: python3 has no grpc module (grpcio)");
        return;
    }
    let Some(h) = host() else { return };
    // libcni (in containerd's CRI plugin) caches every result under /var/lib/cni: the box gets a /var/lib
    // of its own, so nothing is written to the real host's.
    h.sh_ok("mount -t tmpfs -o mode=755 tmpfs /var/lib");
    let bin_dir = h.dir().join("cni-bin");
    let conf_dir = h.dir().join("cni-conf");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::fs::create_dir_all(&conf_dir).unwrap();
    let minotaur = Path::new(env!("CARGO_BIN_EXE_minotaur"));
    std::os::unix::fs::symlink(minotaur, bin_dir.join("minotaur-cni")).unwrap();
    std::os::unix::fs::symlink(LOOPBACK, bin_dir.join("loopback")).unwrap();
    let runc = h.dir().join("minotaur-runc");
    std::os::unix::fs::symlink(minotaur, &runc).unwrap();
    // An existing bridge configuration with its type changed, as a node's would be.
    std::fs::write(
        conf_dir.join("10-pods.conflist"),
        r#"{"cniVersion": "1.0.0", "name": "pods", "plugins": [
            {"type": "minotaur-cni", "bridge": "cri0", "isGateway": true, "ipMasq": true,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.89.0.0/24", "gateway": "10.89.0.1"}]]},
             "capabilities": {"portMappings": true}}]}"#,
    )
    .unwrap();

    // The sandbox image: a busybox root whose process sleeps, saved by minotaur and imported by ctr.
    import_busybox(&h, "localhost/pause:latest", "");
    let archive = h.dir().join("pause.tar");
    ok(
        &h,
        &[
            "import",
            "-c",
            r#"ENTRYPOINT ["/bin/sleep", "999999"]"#,
            "/tmp/root-localhost-pause-latest.tar",
            "localhost/pause:latest",
        ],
    );
    ok(
        &h,
        &[
            "save",
            "-o",
            archive.to_str().unwrap(),
            "localhost/pause:latest",
        ],
    );
    let cri = Cri::start(&h, &bin_dir, &conf_dir, &runc);
    cri.ctr(&["images", "import", archive.to_str().unwrap()]);

    let cgroup_parent = format!("/{}", h.cgroup_parent());
    let logs = h.dir().join("pod-logs");
    let run = |name: &str| -> String {
        let out = cri.client(&[
            "run",
            name,
            &format!("uid-{name}"),
            "default",
            &cgroup_parent,
            logs.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "RunPodSandbox {name}: {}\ncontainerd's log:\n{}",
            show(&out),
            cri.log()
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let web = run("web-0");
    let db = run("db-0");
    let (web_ip, db_ip) = {
        let (w, d) = (cri.status(&web), cri.status(&db));
        assert_eq!(w["state"], "ready", "{w}");
        assert_eq!(d["state"], "ready", "{d}");
        (
            w["ip"].as_str().unwrap().to_owned(),
            d["ip"].as_str().unwrap().to_owned(),
        )
    };
    assert!(web_ip.starts_with("10.89.0."), "{web_ip}");
    assert!(db_ip.starts_with("10.89.0."), "{db_ip}");
    assert_ne!(web_ip, db_ip);
    // The CNI network is the minotaur network of that name, with the configuration's bridge.
    assert_eq!(
        ok(&h, &["network", "inspect", "-f", "{{.Name}}", "pods"]),
        "pods"
    );
    assert_eq!(attachment_veths(&h), 2);
    let bridge_ports = h.sh_ok("ip -o link show master cri0");
    assert_eq!(bridge_ports.matches(": mc").count(), 2, "{bridge_ports}");

    // Each pod resolves the other by its pod name on the network's gateway, from its own namespace.
    let netns_of = |ip: &str| -> String {
        h.sh_ok(&format!(
            "for n in $(ls /run/netns); do ip netns exec $n ip -o -4 addr show | grep -q ' {ip}/' && echo $n; done; true"
        ))
        .trim()
        .to_owned()
    };
    let web_ns = netns_of(&web_ip);
    assert!(!web_ns.is_empty(), "no namespace holds {web_ip}");
    wait_until_ok(
        &h,
        &format!("[ \"$(ip netns exec {web_ns} dig +short +time=1 +tries=1 @10.89.0.1 db-0)\" = {db_ip} ]"),
    );
    let answer = h.sh_ok(&format!(
        "ip netns exec {web_ns} dig +short +time=1 +tries=1 @10.89.0.1 web-0"
    ));
    assert_eq!(answer.trim(), web_ip);

    // Stop runs CNI DEL: the attachment, its veth and its name go, and the pod is not ready.
    cri.ok(&["stop", &db]);
    let d = cri.status(&db);
    assert_eq!(d["state"], "notready", "{d}");
    assert_eq!(d["ip"], "", "{d}");
    assert_eq!(attachment_veths(&h), 1);
    let gone = h.sh_ok(&format!(
        "ip netns exec {web_ns} dig +short +time=1 +tries=1 @10.89.0.1 db-0"
    ));
    assert_eq!(gone.trim(), "", "db-0 still resolves after its pod stopped");
    cri.ok(&["remove", &db]);
    // The freed address is given to the next pod.
    let again = run("db-1");
    assert_eq!(cri.status(&again)["ip"], db_ip.as_str());

    for id in [&web, &again] {
        cri.ok(&["stop", id]);
        cri.ok(&["remove", id]);
    }
    assert_eq!(attachment_veths(&h), 0);
    assert_eq!(h.sh_ok("ls /run/netns | grep -c ^cni- || true").trim(), "0");
    // Nothing is left attached: the network can go, and there is nothing to repair.
    let check = h.mino(&["system", "check"]);
    assert!(check.status.success(), "{}", show(&check));
    ok(&h, &["network", "rm", "pods"]);
    drop(cri);
}
