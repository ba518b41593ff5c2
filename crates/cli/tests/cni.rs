//! `minotaur-cni` driven as a CNI runtime drives a plugin: `CNI_*` variables, the network configuration on
//! stdin, JSON on stdout; with network namespaces the test makes (`ip netns add`) in the throwaway host.
//! ADD, CHECK, DEL (twice, and with the namespace gone), GC, STATUS and VERSION; the minimal and the
//! reference bridge plugin's configurations; parallel ADDs; a port mapping reached over loopback; and
//! `system check` finding nothing to repair while attachments exist. Traffic goes only to loopback and
//! between the test's own namespaces.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Output, Stdio};

use common::{have, host, ok, show};
use minotaur_testhost::TestHost;
use serde_json::{json, Value};

/// `minotaur-cni`: the binary under that name, in the box's directory.
fn plugin(h: &TestHost) -> PathBuf {
    let link = h.dir().join("minotaur-cni");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_minotaur"), &link).unwrap();
    }
    link
}

/// Starts the plugin with `command` for (`id`, `ifname`) in namespace `netns` (a `/run/netns` name; empty
/// for none), `config` on its stdin.
fn spawn(h: &TestHost, command: &str, id: &str, netns: &str, config: &Value) -> Child {
    spawn_args(h, command, id, netns, config, "")
}

/// [`spawn`] with `CNI_ARGS`.
fn spawn_args(
    h: &TestHost,
    command: &str,
    id: &str,
    netns: &str,
    config: &Value,
    args: &str,
) -> Child {
    let mut c = h.command(plugin(h));
    if !args.is_empty() {
        c.env("CNI_ARGS", args);
    }
    c.env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", id)
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !netns.is_empty() {
        c.env("CNI_NETNS", format!("/run/netns/{netns}"));
    }
    let mut child = c.spawn().expect("running minotaur-cni");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(config.to_string().as_bytes())
        .unwrap();
    child
}

fn cni(h: &TestHost, command: &str, id: &str, netns: &str, config: &Value) -> Output {
    spawn(h, command, id, netns, config)
        .wait_with_output()
        .unwrap()
}

/// Runs the plugin, asserts success, returns its stdout as JSON (`null` when it printed nothing).
fn cni_ok(h: &TestHost, command: &str, id: &str, netns: &str, config: &Value) -> Value {
    let out = cni(h, command, id, netns, config);
    assert!(out.status.success(), "{command} {id}: {}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{command}: {e}: {text}"))
    }
}

/// Runs the plugin, asserts it failed with the spec's error document, returns (code, msg).
fn cni_err(h: &TestHost, command: &str, id: &str, netns: &str, config: &Value) -> (u64, String) {
    let out = cni(h, command, id, netns, config);
    assert!(
        !out.status.success(),
        "{command} {id} succeeded: {}",
        show(&out)
    );
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{command}: no error document ({e}): {}", show(&out)));
    (
        doc["code"].as_u64().expect("a code"),
        doc["msg"].as_str().expect("a msg").to_owned(),
    )
}

fn minimal(name: &str) -> Value {
    json!({"cniVersion": "1.0.0", "name": name, "type": "minotaur-cni"})
}

/// The address of the first IP of an ADD result, without its prefix.
fn address(result: &Value) -> String {
    let a = result["ips"][0]["address"].as_str().expect("an address");
    a.split('/').next().unwrap().to_owned()
}

fn netns_add(h: &TestHost, names: &[&str]) {
    for n in names {
        h.sh_ok(&format!("ip netns add {n}"));
    }
}

#[test]
fn version_and_bad_input_answer_with_the_spec_documents() {
    let Some(h) = host() else { return };
    let v = cni_ok(&h, "VERSION", "", "", &json!({"cniVersion": "1.1.0"}));
    assert_eq!(v["cniVersion"], "1.1.0");
    let supported: Vec<&str> = v["supportedVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for want in ["0.4.0", "1.0.0", "1.1.0"] {
        assert!(supported.contains(&want), "{v}");
    }
    netns_add(&h, &["bad"]);
    // No CNI_NETNS for ADD: invalid environment (4).
    let (code, msg) = cni_err(&h, "ADD", "c1", "", &minimal("n1"));
    assert_eq!(code, 4, "{msg}");
    assert!(msg.contains("CNI_NETNS"), "{msg}");
    // An unknown version (1), undecodable JSON (6), no name (7).
    let (code, _) = cni_err(
        &h,
        "ADD",
        "c1",
        "bad",
        &json!({"cniVersion": "7.0.0", "name": "n1", "type": "minotaur-cni"}),
    );
    assert_eq!(code, 1);
    // (A JSON string where the object should be.)
    assert_eq!(cni_err(&h, "ADD", "c1", "bad", &json!("{")).0, 6);
    let (code, _) = cni_err(
        &h,
        "ADD",
        "c1",
        "bad",
        &json!({"cniVersion": "1.0.0", "type": "minotaur-cni"}),
    );
    assert_eq!(code, 7);
    // A namespace that does not exist: nothing is recorded, no network is made.
    let (code, msg) = cni_err(&h, "ADD", "c1", "missing", &minimal("n1"));
    assert_eq!(code, 999);
    assert!(msg.contains("/run/netns/missing"), "{msg}");
    assert!(!ok(&h, &["network", "ls", "--format", "{{.Name}}"]).contains("n1"));
    // STATUS is ready.
    assert_eq!(cni_ok(&h, "STATUS", "", "", &minimal("n1")), Value::Null);
}

#[test]
fn minimal_config_adds_checks_and_deletes_idempotently() {
    let Some(h) = host() else { return };
    netns_add(&h, &["pa", "pb"]);
    let conf = minimal("cninet");
    let a = cni_ok(&h, "ADD", "pod-a", "pa", &conf);
    let b = cni_ok(&h, "ADD", "pod-b", "pb", &conf);
    assert_eq!(a["cniVersion"], "1.0.0");
    assert_eq!(a["interfaces"][2]["name"], "eth0");
    assert_eq!(a["interfaces"][2]["sandbox"], "/run/netns/pa");
    assert_eq!(a["ips"][0]["interface"], 2);
    assert_eq!(a["routes"][0]["dst"], "0.0.0.0/0");
    let (ip_a, ip_b) = (address(&a), address(&b));
    assert_ne!(ip_a, ip_b);
    // The CNI network is the minotaur network of that name, made with the defaults.
    let subnet = ok(
        &h,
        &[
            "network",
            "inspect",
            "cninet",
            "--format",
            "{{(index .IPAM.Config 0).Subnet}}",
        ],
    );
    let gateway = a["ips"][0]["gateway"].as_str().unwrap();
    assert!(subnet.ends_with("/16") || subnet.contains('/'), "{subnet}");
    // The interface has the address, the default route goes via the gateway, and the namespaces reach
    // each other over the bridge.
    let addrs = h.sh_ok("ip netns exec pa ip -o -4 addr show dev eth0");
    assert!(addrs.contains(&format!("{ip_a}/")), "{addrs}");
    let routes = h.sh_ok("ip netns exec pa ip route show default");
    assert!(routes.contains(&format!("via {gateway}")), "{routes}");
    h.sh_ok(&format!("ip netns exec pa busybox ping -c 1 -W 5 {ip_b}"));
    // A second ADD of the same attachment is refused; the first stays.
    let (code, msg) = cni_err(&h, "ADD", "pod-a", "pa", &conf);
    assert_eq!(code, 7, "{msg}");
    // CHECK with the previous result passes; with other addresses it fails.
    let mut check = conf.clone();
    check["prevResult"] = a.clone();
    assert_eq!(cni_ok(&h, "CHECK", "pod-a", "pa", &check), Value::Null);
    let mut wrong = check.clone();
    wrong["prevResult"]["ips"][0]["address"] = json!("192.0.2.9/24");
    let (code, msg) = cni_err(&h, "CHECK", "pod-a", "pa", &wrong);
    assert_eq!(code, 999);
    assert!(msg.contains("192.0.2.9"), "{msg}");
    // CHECK notices an address taken off the interface.
    h.sh_ok("ip netns exec pb ip addr flush dev eth0");
    let mut check_b = conf.clone();
    check_b["prevResult"] = b.clone();
    let (code, msg) = cni_err(&h, "CHECK", "pod-b", "pb", &check_b);
    assert_eq!(code, 999);
    assert!(msg.contains(&ip_b), "{msg}");
    // The network cannot be removed while attachments are on it.
    let out = h.mino(&["network", "rm", "cninet"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pod-a"),
        "{}",
        show(&out)
    );
    // DEL, then DEL again: both succeed; the veth is gone, and CHECK says the attachment is unknown (3).
    let veth = a["interfaces"][1]["name"].as_str().unwrap().to_owned();
    assert!(veth.starts_with("mc"), "{veth}");
    assert_eq!(cni_ok(&h, "DEL", "pod-a", "pa", &conf), Value::Null);
    assert_eq!(cni_ok(&h, "DEL", "pod-a", "pa", &conf), Value::Null);
    assert!(!h.sh_ok("ip -o link show").contains(&veth));
    assert!(!h.sh_ok("ip netns exec pa ip -o link show").contains("eth0"));
    let (code, _) = cni_err(&h, "CHECK", "pod-a", "pa", &check);
    assert_eq!(code, 3);
    // A namespace gone without a DEL leaves a record whose veth is gone: system check names it, and its
    // repair takes it away as a GC would; an `mc` veth nobody recorded is an orphan.
    let veth_b = b["interfaces"][1]["name"].as_str().unwrap().to_owned();
    h.sh_ok("ip netns delete pb");
    minotaur_testhost::wait_until("the veth to go with its namespace", || {
        Ok(!h.sh_ok("ip -o link show").contains(&veth_b))
    })
    .unwrap();
    h.sh_ok("ip link add mc0123456789abc type veth peer name mcpeer");
    let out = h.mino(&["system", "check"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("CNI attachment pod-b/eth0 on network cninet"),
        "{report}"
    );
    assert!(report.contains("veth mc0123456789abc"), "{report}");
    ok(&h, &["system", "check", "--repair"]);
    assert_eq!(ok(&h, &["system", "check"]), "");
    // DEL after the namespace and the record are gone, and without CNI_NETNS, succeeds.
    assert_eq!(cni_ok(&h, "DEL", "pod-b", "", &conf), Value::Null);
    assert_eq!(cni_ok(&h, "DEL", "pod-b", "pb", &conf), Value::Null);
    // DEL of a network that never existed succeeds too.
    assert_eq!(
        cni_ok(&h, "DEL", "pod-z", "", &minimal("never")),
        Value::Null
    );
    netns_add(&h, &["pc"]);
    let c = cni_ok(&h, "ADD", "pod-c", "pc", &conf);
    assert_eq!(address(&c), ip_a, "the lowest free address again");
    cni_ok(&h, "DEL", "pod-c", "pc", &conf);
    ok(&h, &["network", "rm", "cninet"]);
}

#[test]
fn a_bridge_plugin_config_works_by_changing_its_type() {
    let Some(h) = host() else { return };
    netns_add(&h, &["br1"]);
    let conf = json!({
        "cniVersion": "0.4.0",
        "name": "mynet",
        "type": "minotaur-cni",
        "bridge": "cnibr0",
        "isGateway": true,
        "ipMasq": true,
        "hairpinMode": true,
        "mtu": 1400,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": "10.77.0.0/24", "rangeStart": "10.77.0.10",
                         "rangeEnd": "10.77.0.20", "gateway": "10.77.0.1"}]],
            "routes": [{"dst": "10.99.0.0/16"}]
        }
    });
    let r = cni_ok(&h, "ADD", "ctr1", "br1", &conf);
    assert_eq!(r["cniVersion"], "0.4.0");
    assert_eq!(r["ips"][0]["address"], "10.77.0.10/24");
    assert_eq!(r["ips"][0]["version"], "4");
    assert_eq!(r["ips"][0]["gateway"], "10.77.0.1");
    assert_eq!(r["interfaces"][0]["name"], "cnibr0");
    let bridge = h.sh_ok("ip -o link show cnibr0");
    assert!(bridge.contains("mtu 1400"), "{bridge}");
    assert!(h.sh_ok("ip -o addr show cnibr0").contains("10.77.0.1/24"));
    // The listed route via the gateway, and no default route (the routes list has none).
    let routes = h.sh_ok("ip netns exec br1 ip route");
    assert!(routes.contains("10.99.0.0/16 via 10.77.0.1"), "{routes}");
    assert!(!routes.contains("default"), "{routes}");
    let inside = h.sh_ok("ip netns exec br1 ip -o link show eth0");
    assert!(inside.contains("mtu 1400"), "{inside}");
    // The same name with another subnet is refused (7), naming the subnet.
    let mut other = conf.clone();
    other["ipam"]["ranges"][0][0]["subnet"] = json!("10.78.0.0/24");
    other["ipam"]["ranges"][0][0]["gateway"] = json!("10.78.0.1");
    let (code, msg) = cni_err(&h, "ADD", "ctr2", "br1", &other);
    assert_eq!(code, 7);
    assert!(msg.contains("10.78.0.0/24"), "{msg}");
    // A dhcp IPAM is refused as unsupported (2).
    let mut dhcp = conf.clone();
    dhcp["ipam"] = json!({"type": "dhcp"});
    assert_eq!(cni_err(&h, "ADD", "ctr3", "br1", &dhcp).0, 2);
    cni_ok(&h, "DEL", "ctr1", "br1", &conf);
}

#[test]
fn parallel_adds_get_distinct_addresses_and_gc_keeps_only_valid_attachments() {
    let Some(h) = host() else { return };
    const N: usize = 8;
    let names: Vec<String> = (0..N).map(|i| format!("par{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    netns_add(&h, &refs);
    let conf = minimal("parnet");
    let children: Vec<Child> = names
        .iter()
        .map(|n| spawn(&h, "ADD", &format!("id-{n}"), n, &conf))
        .collect();
    let mut addrs = std::collections::BTreeSet::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", show(&out));
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        addrs.insert(address(&r));
    }
    assert_eq!(addrs.len(), N, "{addrs:?}");
    // GC keeps the two listed and removes the rest, veths included.
    let mut gc = conf.clone();
    gc["cniVersion"] = json!("1.1.0");
    gc["cni.dev/valid-attachments"] = json!([
        {"containerID": "id-par0", "ifname": "eth0"},
        {"containerID": "id-par1", "ifname": "eth0"},
    ]);
    assert_eq!(cni_ok(&h, "GC", "", "", &gc), Value::Null);
    let links = h.sh_ok("ip -o link show");
    assert_eq!(links.matches(": mc").count(), 2, "{links}");
    for (i, n) in names.iter().enumerate() {
        let inside = h.sh_ok(&format!("ip netns exec {n} ip -o link show"));
        assert_eq!(inside.contains("eth0"), i < 2, "{n}: {inside}");
    }
    cni_ok(&h, "CHECK", "id-par0", "par0", &conf);
    // The list under the spec text's other name (libcni sends both) keeps what it lists too.
    gc.as_object_mut()
        .unwrap()
        .remove("cni.dev/valid-attachments");
    gc["cni.dev/attachments"] = json!([{"containerID": "id-par0", "ifname": "eth0"}]);
    cni_ok(&h, "GC", "", "", &gc);
    assert_eq!(h.sh_ok("ip -o link show").matches(": mc").count(), 1);
    cni_ok(&h, "CHECK", "id-par0", "par0", &conf);
    // `cnitool gc` sends no list at all, meaning every attachment is stale.
    gc.as_object_mut().unwrap().remove("cni.dev/attachments");
    cni_ok(&h, "GC", "", "", &gc);
    assert_eq!(h.sh_ok("ip -o link show").matches(": mc").count(), 0);
    ok(&h, &["network", "rm", "parnet"]);
}

#[test]
fn a_port_mapping_is_reached_over_loopback_and_survives_a_reload() {
    let Some(h) = host() else { return };
    netns_add(&h, &["web"]);
    let mut conf = minimal("portnet");
    conf["runtimeConfig"] = json!({"portMappings": [
        {"hostPort": 18080, "containerPort": 80, "protocol": "tcp"}
    ]});
    let r = cni_ok(&h, "ADD", "web1", "web", &conf);
    let ip = address(&r);
    let pid = h
        .sh_ok(
            "mkdir -p /tmp/www && echo cni-page > /tmp/www/index.html && \
             (ip netns exec web busybox httpd -f -p 80 -h /tmp/www >/dev/null 2>&1 & echo $!)",
        )
        .trim()
        .to_owned();
    common::wait_until_ok(&h, &format!("curl -sf -m 2 http://{ip}/"));
    assert_eq!(
        h.sh_ok("curl -sS -m 5 http://127.0.0.1:18080/").trim(),
        "cni-page"
    );
    // The same host port cannot be taken twice.
    netns_add(&h, &["web2"]);
    let (code, msg) = cni_err(&h, "ADD", "web2", "web2", &conf);
    assert_eq!(code, 999);
    assert!(msg.contains("18080"), "{msg}");
    // Nothing for system check to repair while the attachment exists.
    ok(&h, &["system", "check"]);
    // The table is put back from the store, with the attachment's port.
    h.sh_ok("nft delete table inet minotaur");
    ok(&h, &["network", "reload"]);
    assert_eq!(
        h.sh_ok("curl -sS -m 5 http://127.0.0.1:18080/").trim(),
        "cni-page"
    );
    cni_ok(&h, "DEL", "web1", "web", &conf);
    let table = h.sh_ok("nft list table inet minotaur");
    assert!(!table.contains("18080"), "{table}");
    h.sh_ok(&format!("kill {pid}"));
}

/// A layer tar of a busybox root: `/bin/busybox` and the applets the test uses as links to it.
fn busybox_layer(h: &TestHost) -> Vec<u8> {
    let busybox = h.sh_ok("command -v busybox");
    let mut b = tar::Builder::new(Vec::new());
    b.mode(tar::HeaderMode::Deterministic);
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    for d in ["bin", "tmp", "proc", "sys", "dev", "etc", "srv"] {
        b.append_data(&mut dir.clone(), d, std::io::empty())
            .unwrap();
    }
    b.append_path_with_name(busybox.trim(), "bin/busybox")
        .unwrap();
    for applet in ["sh", "ip", "httpd", "echo", "sleep"] {
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_mode(0o777);
        link.set_size(0);
        b.append_link(&mut link, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    let page = b"from-podman\n";
    let mut file = tar::Header::new_gnu();
    file.set_mode(0o644);
    file.set_size(page.len() as u64);
    b.append_data(&mut file, "srv/index.html", &page[..])
        .unwrap();
    b.into_inner().unwrap()
}

/// podman 4.3's CNI backend with a network list whose only plugin is `minotaur-cni`: its containers get
/// addresses on the minotaur network of that name, a published port is reached over loopback, and `rm`
/// (podman's DEL) leaves no attachment, veth or port behind.
#[test]
fn podman_cni_backend_runs_containers_on_a_minotaur_network() {
    if !have("podman") || !have("conmon") {
        return;
    }
    let Some(h) = host() else { return };
    let plugins = h.dir().join("cni-bin");
    let configs = h.dir().join("cni-conf");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::create_dir_all(&configs).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_minotaur"), plugins.join("minotaur-cni"))
        .unwrap();
    let runc = h.dir().join("minotaur-runc");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_minotaur"), &runc).unwrap();
    std::fs::write(
        configs.join("mtnet.conflist"),
        json!({
            "cniVersion": "1.0.0",
            "name": "mtnet",
            "plugins": [{"type": "minotaur-cni", "capabilities": {"portMappings": true}}]
        })
        .to_string(),
    )
    .unwrap();
    // podman's cleanup after `run --rm` is another podman, started by conmon, that gets CONTAINERS_CONF
    // and not the rest of the environment: minotaur's directories reach the plugin through the file's
    // engine environment. libcni caches results in /var/lib/cni: the box gets a /var/lib of its own.
    let conf = h.dir().join("containers.conf");
    std::fs::write(
        &conf,
        format!(
            "[engine]\nenv = [\"MINOTAUR_ROOT={}\", \"MINOTAUR_RUNROOT=/run/minotaur\"]\n\
             [network]\nnetwork_backend = \"cni\"\ncni_plugin_dirs = [\"{}\"]\nnetwork_config_dir = \"{}\"\n",
            h.dir().join("state").display(),
            plugins.display(),
            configs.display()
        ),
    )
    .unwrap();
    h.sh_ok("mount -t tmpfs -o mode=755 tmpfs /var/lib");
    let storage = h.dir().join("podman-storage");
    let tar = h.dir().join("busybox.tar");
    std::fs::write(&tar, busybox_layer(&h)).unwrap();
    let cgroup_parent = format!("/{}", h.cgroup_parent());
    let podman = |args: &[&str]| -> Output {
        h.command("podman")
            .env("CONTAINERS_CONF", &conf)
            .arg("--root")
            .arg(&storage)
            .args([
                "--runroot",
                "/run/podman-run",
                "--tmpdir",
                "/run/podman-tmp",
            ])
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file", "--runtime"])
            .arg(&runc)
            .args(args)
            .output()
            .expect("running podman")
    };
    let pok = |args: &[&str]| -> String {
        let out = podman(args);
        assert!(out.status.success(), "podman {args:?}: {}", show(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    pok(&["import", tar.to_str().unwrap(), "localhost/bb:latest"]);
    let run = [
        "run",
        "--network",
        "mtnet",
        "--cgroup-parent",
        &cgroup_parent,
    ];
    let addrs = pok(&[
        &run[..],
        &["--rm", "localhost/bb", "ip", "-o", "-4", "addr"],
    ]
    .concat());
    let subnet = ok(
        &h,
        &[
            "network",
            "inspect",
            "mtnet",
            "--format",
            "{{(index .IPAM.Config 0).Subnet}}",
        ],
    );
    let prefix: String = subnet.split('.').take(2).collect::<Vec<_>>().join(".");
    assert!(
        addrs.contains(&format!("inet {prefix}.")),
        "{addrs} not in {subnet}"
    );
    // --rm ran podman's DEL: nothing of the attachment is left.
    assert!(!h.sh_ok("ip -o link show").contains(": mc"));
    // A published port, reached over loopback; rm takes it away.
    pok(&[
        &run[..],
        &[
            "-d",
            "--name",
            "web",
            "-p",
            "18082:80",
            "localhost/bb",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/srv",
        ],
    ]
    .concat());
    common::wait_until_ok(&h, "curl -sf -m 2 http://127.0.0.1:18082/");
    assert_eq!(
        h.sh_ok("curl -sS -m 5 http://127.0.0.1:18082/").trim(),
        "from-podman"
    );
    pok(&["rm", "-f", "web"]);
    assert!(!h.sh_ok("nft list table inet minotaur").contains("18082"));
    assert!(!h.sh_ok("ip -o link show").contains(": mc"));
    ok(&h, &["network", "rm", "mtnet"]);
}

/// An attachment's pod name (`K8S_POD_NAME`) and container ID resolve to its address in minotaur's
/// resolver on the network's gateway, which the result names as the nameserver; after DEL they do not.
#[test]
fn attachment_names_resolve_on_the_gateway_until_del() {
    let Some(h) = host() else { return };
    netns_add(&h, &["dna", "dnb"]);
    let conf = minimal("dnsnet");
    let out = spawn_args(
        &h,
        "ADD",
        "pod-a",
        "dna",
        &conf,
        "IgnoreUnknown=1;K8S_POD_NAME=alpha",
    )
    .wait_with_output()
    .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let a: Value = serde_json::from_slice(&out.stdout).unwrap();
    cni_ok(&h, "ADD", "pod-b", "dnb", &conf);
    let gateway = a["ips"][0]["gateway"].as_str().unwrap().to_owned();
    assert_eq!(a["dns"]["nameservers"][0], gateway.as_str(), "{a}");
    let ip_a = address(&a);
    for name in ["alpha", "pod-a"] {
        let dig = format!("ip netns exec dnb dig +short +time=2 +tries=1 @{gateway} {name}");
        common::wait_until_ok(&h, &format!("test \"$({dig})\" = {ip_a}"));
    }
    cni_ok(&h, "DEL", "pod-a", "dna", &conf);
    let gone =
        format!("test -z \"$(ip netns exec dnb dig +short +time=2 +tries=1 @{gateway} alpha)\"");
    common::wait_until_ok(&h, &gone);
    cni_ok(&h, "DEL", "pod-b", "dnb", &conf);
}

/// Every range of a range set is used, in order; addresses asked for by the `ips` capability and by
/// `args.cni.ips` are taken (and refused outside the ranges); the `ipRanges` capability replaces the
/// configuration's ranges; the `dns` capability's settings are in the result; and chained after another
/// plugin, ADD keeps the previous result's interfaces, addresses, routes and servers before its own.
#[test]
fn range_sets_requested_addresses_capabilities_and_a_previous_result() {
    let Some(h) = host() else { return };
    let spaces: Vec<String> = (0..9).map(|i| format!("rs{i}")).collect();
    let refs: Vec<&str> = spaces.iter().map(String::as_str).collect();
    netns_add(&h, &refs);
    let conf = json!({
        "cniVersion": "1.0.0",
        "name": "ranges",
        "type": "minotaur-cni",
        "ipam": {"type": "host-local", "ranges": [[
            {"subnet": "10.66.0.0/24", "rangeStart": "10.66.0.10", "rangeEnd": "10.66.0.11",
             "gateway": "10.66.0.1"},
            {"subnet": "10.66.0.0/24", "rangeStart": "10.66.0.200", "rangeEnd": "10.66.0.201"}
        ]]}
    });
    let add = |id: &str, ns: &str, conf: &Value| address(&cni_ok(&h, "ADD", id, ns, conf));
    // The first window, then the second; then the set is exhausted.
    assert_eq!(add("a0", "rs0", &conf), "10.66.0.10");
    assert_eq!(add("a1", "rs1", &conf), "10.66.0.11");
    assert_eq!(add("a2", "rs2", &conf), "10.66.0.200");
    assert_eq!(add("a3", "rs3", &conf), "10.66.0.201");
    let (code, msg) = cni_err(&h, "ADD", "a4", "rs4", &conf);
    assert_eq!(code, 999);
    assert!(msg.contains("no free address"), "{msg}");
    cni_ok(&h, "DEL", "a1", "rs1", &conf);
    cni_ok(&h, "DEL", "a2", "rs2", &conf);

    // The `ips` capability (a prefix length is allowed) and `args.cni.ips`.
    let mut cap = conf.clone();
    cap["runtimeConfig"] = json!({"ips": ["10.66.0.200/24"]});
    assert_eq!(add("a4", "rs4", &cap), "10.66.0.200");
    let mut args = conf.clone();
    args["args"] = json!({"cni": {"ips": ["10.66.0.11"]}});
    assert_eq!(add("a5", "rs5", &args), "10.66.0.11");
    // Outside every range of the set: refused, naming the address.
    args["args"]["cni"]["ips"] = json!(["10.66.0.50"]);
    let (code, msg) = cni_err(&h, "ADD", "a6", "rs6", &args);
    assert_eq!(code, 7);
    assert!(msg.contains("10.66.0.50"), "{msg}");
    let inside = h.sh_ok("ip netns exec rs5 ip -o -4 addr show eth0");
    assert!(inside.contains("10.66.0.11/24"), "{inside}");

    // The `ipRanges` capability replaces the configuration's ranges.
    let mut ranges = conf.clone();
    ranges["runtimeConfig"] = json!({"ipRanges": [[
        {"subnet": "10.66.0.0/24", "rangeStart": "10.66.0.100", "rangeEnd": "10.66.0.100"}
    ]]});
    assert_eq!(add("a6", "rs6", &ranges), "10.66.0.100");

    // The `dns` capability, with a pod name (so the gateway's resolver comes first).
    let mut dns = conf.clone();
    dns["runtimeConfig"] = json!({"dns": {
        "servers": ["192.0.2.53"], "searches": ["svc.test"], "options": ["ndots:5"]
    }});
    cni_ok(&h, "DEL", "a6", "rs6", &conf);
    cni_ok(&h, "DEL", "a0", "rs0", &conf);
    let out = spawn_args(&h, "ADD", "a7", "rs7", &dns, "K8S_POD_NAME=dnspod")
        .wait_with_output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        r["dns"],
        json!({"nameservers": ["10.66.0.1", "192.0.2.53"], "search": ["svc.test"],
               "options": ["ndots:5"]})
    );

    // Chained after another plugin: its result first, ours after it, our address's index counting its
    // interfaces; CHECK with the list's final result (which holds more addresses than ours) passes.
    cni_ok(&h, "DEL", "a7", "rs7", &conf);
    let mut chained = conf.clone();
    chained["prevResult"] = json!({
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "macvlan0", "sandbox": "/run/netns/rs8"}],
        "ips": [{"address": "192.0.2.5/24", "interface": 0}],
        "routes": [{"dst": "192.0.2.0/24"}],
        "dns": {"nameservers": ["192.0.2.1"], "domain": "example.test"}
    });
    let r = cni_ok(&h, "ADD", "a8", "rs8", &chained);
    let names: Vec<&str> = r["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "{r}");
    assert_eq!(names[0], "macvlan0");
    assert_eq!(names[3], "eth0");
    assert_eq!(r["ips"][0]["address"], "192.0.2.5/24");
    assert_eq!(r["ips"][1]["address"], "10.66.0.10/24");
    assert_eq!(r["ips"][1]["interface"], 3);
    assert_eq!(r["routes"][0]["dst"], "192.0.2.0/24");
    assert_eq!(
        r["dns"],
        json!({"nameservers": ["10.66.0.1", "192.0.2.1"], "domain": "example.test"})
    );
    let mut check = conf.clone();
    check["prevResult"] = r;
    cni_ok(&h, "CHECK", "a8", "rs8", &check);
    // A previous result without our address fails CHECK.
    check["prevResult"]["ips"] = json!([{"address": "192.0.2.5/24", "interface": 0}]);
    assert_eq!(cni_err(&h, "CHECK", "a8", "rs8", &check).0, 999);

    for (id, ns) in [("a3", "rs3"), ("a4", "rs4"), ("a5", "rs5"), ("a8", "rs8")] {
        cni_ok(&h, "DEL", id, ns, &conf);
    }
    assert_eq!(h.sh_ok("ip -o link show").matches(": mc").count(), 0);
    ok(&h, &["network", "rm", "ranges"]);
}

#[test]
fn several_range_sets_of_one_family_give_an_address_each() {
    let Some(h) = host() else { return };
    netns_add(&h, &["ms0", "ms1", "ms2"]);
    let conf = json!({
        "cniVersion": "1.0.0",
        "name": "multi",
        "type": "minotaur-cni",
        "ipam": {"type": "host-local", "ranges": [
            [{"subnet": "10.67.0.0/24", "rangeStart": "10.67.0.10", "rangeEnd": "10.67.0.19",
              "gateway": "10.67.0.1"}],
            [{"subnet": "10.67.0.0/24", "rangeStart": "10.67.0.100", "rangeEnd": "10.67.0.100"}]
        ]}
    });
    // One address from each set, both on the interface and in the result, one default route.
    let a = cni_ok(&h, "ADD", "m0", "ms0", &conf);
    let ips: Vec<&str> = a["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["address"].as_str().unwrap())
        .collect();
    assert_eq!(ips, ["10.67.0.10/24", "10.67.0.100/24"], "{a}");
    assert_eq!(a["routes"].as_array().unwrap().len(), 1, "{a}");
    let inside = h.sh_ok("ip netns exec ms0 ip -o -4 addr show eth0");
    assert!(
        inside.contains("10.67.0.10/24") && inside.contains("10.67.0.100/24"),
        "{inside}"
    );
    let mut check = conf.clone();
    check["prevResult"] = a.clone();
    cni_ok(&h, "CHECK", "m0", "ms0", &check);
    // The second set is exhausted now: the next ADD fails and takes nothing from the first.
    let (code, msg) = cni_err(&h, "ADD", "m1", "ms1", &conf);
    assert_eq!(code, 999);
    assert!(msg.contains("no free address"), "{msg}");
    // Requested addresses go to the set that holds them; two in one set are refused.
    cni_ok(&h, "DEL", "m0", "ms0", &conf);
    let mut wanted = conf.clone();
    wanted["args"] = json!({"cni": {"ips": ["10.67.0.100", "10.67.0.15"]}});
    let b = cni_ok(&h, "ADD", "m1", "ms1", &wanted);
    assert_eq!(b["ips"][0]["address"], "10.67.0.15/24", "{b}");
    assert_eq!(b["ips"][1]["address"], "10.67.0.100/24", "{b}");
    wanted["args"] = json!({"cni": {"ips": ["10.67.0.16", "10.67.0.17"]}});
    let (code, msg) = cni_err(&h, "ADD", "m2", "ms2", &wanted);
    assert_eq!(code, 7);
    assert!(msg.contains("10.67.0.17"), "{msg}");
    // DEL frees both addresses: they are the next attachment's.
    cni_ok(&h, "DEL", "m1", "ms1", &conf);
    let c = cni_ok(&h, "ADD", "m2", "ms2", &conf);
    assert_eq!(c["ips"][1]["address"], "10.67.0.100/24", "{c}");
    cni_ok(&h, "DEL", "m2", "ms2", &conf);
    ok(&h, &["network", "rm", "multi"]);
}

#[test]
fn is_gateway_false_leaves_the_bridge_without_an_address_or_default_route() {
    let Some(h) = host() else { return };
    netns_add(&h, &["ng0", "ng1", "ng2"]);
    let conf = json!({
        "cniVersion": "1.0.0",
        "name": "nogw",
        "type": "minotaur-cni",
        "bridge": "nogw0",
        "isGateway": false,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.68.0.0/24"}]]}
    });
    let a = cni_ok(&h, "ADD", "g0", "ng0", &conf);
    let b = cni_ok(&h, "ADD", "g1", "ng1", &conf);
    // No address on the bridge, no default route inside, no resolver in the result; the pods still
    // reach each other over the bridge.
    let bridge = h.sh_ok("ip -o addr show dev nogw0");
    assert!(!bridge.contains("inet "), "{bridge}");
    assert_eq!(a["routes"], json!([]), "{a}");
    assert!(a["dns"].get("nameservers").is_none(), "{a}");
    assert_eq!(
        h.sh_ok("ip netns exec ng0 ip route show default").trim(),
        ""
    );
    h.sh_ok(&format!(
        "ip netns exec ng0 busybox ping -c 1 -W 5 {}",
        address(&b)
    ));
    // The network says so as Docker does, and a configuration that disagrees with it is refused.
    let options = ok(
        &h,
        &[
            "network",
            "inspect",
            "nogw",
            "--format",
            "{{json .Options}}",
        ],
    );
    assert!(
        options.contains(r#""com.docker.network.bridge.inhibit_ipv4":"true""#),
        "{options}"
    );
    let mut gw = conf.clone();
    gw["isGateway"] = json!(true);
    let (code, msg) = cni_err(&h, "ADD", "g2", "ng2", &gw);
    assert_eq!(code, 7);
    assert!(msg.contains("isGateway"), "{msg}");
    // A default route the IPAM section names is added, via its gateway.
    let mut routed = conf.clone();
    routed["ipam"]["routes"] = json!([{"dst": "0.0.0.0/0", "gw": "10.68.0.254"}]);
    let c = cni_ok(&h, "ADD", "g2", "ng2", &routed);
    assert_eq!(c["routes"][0]["gw"], "10.68.0.254", "{c}");
    let route = h.sh_ok("ip netns exec ng2 ip route show default");
    assert!(route.contains("via 10.68.0.254"), "{route}");
    // With an IPv6 range it is refused: only the IPv4 gateway can stay off the bridge.
    let mut v6 = conf.clone();
    v6["name"] = json!("nogw6");
    v6["ipam"]["ranges"] = json!([[{"subnet": "fd00:68::/64"}]]);
    assert_eq!(cni_err(&h, "ADD", "g3", "ng2", &v6).0, 2);
    for (id, ns) in [("g0", "ng0"), ("g1", "ng1"), ("g2", "ng2")] {
        cni_ok(&h, "DEL", id, ns, &conf);
    }
    ok(&h, &["network", "rm", "nogw"]);
    assert_eq!(ok(&h, &["system", "check"]), "");
}

/// Receives one TCP connection on port 5201 of every address, says "listening" first, and prints the
/// bytes it read and the seconds from the first byte to the end.
const RECEIVER: &str = r#"
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5201))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
n, first = 0, None
while True:
    b = c.recv(65536)
    if not b:
        break
    if first is None:
        first = time.monotonic()
    n += len(b)
print(n, time.monotonic() - first, flush=True)
"#;

/// Sends `sys.argv[2]` bytes to port 5201 of `sys.argv[1]`.
const SENDER: &str = r#"
import socket, sys
c = socket.create_connection((sys.argv[1], 5201), timeout=60)
c.sendall(b"x" * int(sys.argv[2]))
c.close()
"#;

/// Sends `bytes` from namespace `from` to `to_ip` in namespace `to`; returns the rate the receiver saw,
/// in bits per second.
fn transfer(h: &TestHost, from: &str, to: &str, to_ip: &str, bytes: u64) -> f64 {
    use std::io::BufRead;
    let mut rx = h
        .command("ip")
        .args(["netns", "exec", to, "python3", "-c", RECEIVER])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(rx.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "listening");
    let tx = h
        .command("ip")
        .args(["netns", "exec", from, "python3", "-c", SENDER, to_ip])
        .arg(bytes.to_string())
        .output()
        .unwrap();
    assert!(tx.status.success(), "sender: {}", show(&tx));
    let seen = lines.next().unwrap().unwrap();
    assert!(rx.wait().unwrap().success());
    let (n, secs) = seen.split_once(' ').unwrap();
    assert_eq!(n.parse::<u64>().unwrap(), bytes, "{seen}");
    bytes as f64 * 8.0 / secs.parse::<f64>().unwrap()
}

#[test]
fn the_bandwidth_capability_shapes_both_directions_and_del_removes_it() {
    let Some(h) = host() else { return };
    // python3 sends and receives the traffic.
    if !have("python3") {
        return;
    }
    netns_add(&h, &["bwa", "bwb"]);
    // Into pod A at 16 Mbit/s, out of it at 8 Mbit/s; pod B is not shaped.
    let (ingress, egress) = (16_000_000u64, 8_000_000u64);
    let mut conf = minimal("bwnet");
    conf["runtimeConfig"]["bandwidth"] = json!({
        "ingressRate": ingress, "ingressBurst": 160_000,
        "egressRate": egress, "egressBurst": 160_000,
    });
    // A rate without its burst is refused, as the reference plugin refuses it (7), and nothing is made.
    let mut bad = conf.clone();
    bad["runtimeConfig"]["bandwidth"] = json!({"egressRate": egress});
    let (code, msg) = cni_err(&h, "ADD", "pod-a", "bwa", &bad);
    assert_eq!(code, 7, "{msg}");
    assert!(msg.contains("egressBurst"), "{msg}");

    let a = cni_ok(&h, "ADD", "pod-a", "bwa", &conf);
    let b = cni_ok(&h, "ADD", "pod-b", "bwb", &minimal("bwnet"));
    let veth = a["interfaces"][1]["name"].as_str().unwrap().to_owned();
    let ifb = format!("mb{}", &veth[2..]);
    let (ip_a, ip_b) = (address(&a), address(&b));

    // The kernel's view, as `tc` prints it: a token bucket at the host end's root, its ingress redirected
    // to the ifb, and the ifb's own token bucket.
    let host_q = h.sh_ok(&format!("tc -s qdisc show dev {veth}"));
    assert!(host_q.contains("qdisc tbf 1: root"), "{host_q}");
    assert!(host_q.contains("rate 16Mbit"), "{host_q}");
    assert!(host_q.contains("qdisc ingress ffff:"), "{host_q}");
    let filter = h.sh_ok(&format!("tc filter show dev {veth} ingress"));
    assert!(
        filter.contains(&format!("Egress Redirect to device {ifb}")),
        "{filter}"
    );
    let ifb_q = h.sh_ok(&format!("tc -s qdisc show dev {ifb}"));
    assert!(ifb_q.contains("rate 8Mbit"), "{ifb_q}");
    let mut check = conf.clone();
    check["prevResult"] = a.clone();
    assert_eq!(cni_ok(&h, "CHECK", "pod-a", "bwa", &check), Value::Null);

    // Real traffic between the two namespaces: 2 MB each way. A token bucket lets the burst through at
    // once and then the rate; allow some slack for the burst and the timing, but not an unshaped rate
    // (the same transfer between unshaped namespaces runs at gigabits).
    let bytes = 2_000_000;
    let out = transfer(&h, "bwa", "bwb", &ip_b, bytes);
    assert!(
        out > egress as f64 * 0.6 && out < egress as f64 * 1.25,
        "egress at {out} bit/s, shaped to {egress}"
    );
    let into = transfer(&h, "bwb", "bwa", &ip_a, bytes);
    eprintln!("pod A sent at {out:.0} bit/s and received at {into:.0} bit/s");
    assert!(
        into > ingress as f64 * 0.6 && into < ingress as f64 * 1.25,
        "ingress at {into} bit/s, shaped to {ingress}"
    );
    // The ifb's counters hold what pod A sent.
    let ifb_q = h.sh_ok(&format!("tc -s qdisc show dev {ifb}"));
    let sent: u64 = ifb_q
        .split_whitespace()
        .skip_while(|w| *w != "Sent")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{ifb_q}"));
    assert!(sent >= bytes, "{ifb_q}");

    // CHECK notices the shaping taken away.
    h.sh_ok(&format!("tc qdisc del dev {veth} root"));
    let (code, msg) = cni_err(&h, "CHECK", "pod-a", "bwa", &check);
    assert_eq!(code, 999);
    assert!(msg.contains("token bucket"), "{msg}");

    // DEL takes the ifb away with the veth, and DEL again is still success.
    cni_ok(&h, "DEL", "pod-a", "bwa", &conf);
    cni_ok(&h, "DEL", "pod-a", "bwa", &conf);
    let links = h.sh_ok("ip -o link show");
    assert!(!links.contains(&veth) && !links.contains(&ifb), "{links}");
    // An ifb of ours whose host end is gone is an orphan to system check, and its repair removes it.
    h.sh_ok("ip link add mb0123456789abc type ifb");
    let out = h.mino(&["system", "check"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ifb mb0123456789abc"),
        "{}",
        show(&out)
    );
    ok(&h, &["system", "check", "--repair"]);
    assert!(!h.sh_ok("ip -o link show").contains("mb0123456789abc"));
    cni_ok(&h, "DEL", "pod-b", "bwb", &minimal("bwnet"));
    ok(&h, &["network", "rm", "bwnet"]);
    assert_eq!(ok(&h, &["system", "check"]), "");
}
