//! `capture`: packets from inside a container that has no tool at all, read back by tcpdump and tshark.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use common::{fails, host, ok, Host};

/// Imports `web` (busybox as `httpd` and nothing else) and runs it as `name`; returns its address once it
/// answers.
fn run_web(h: &Host, name: &str) -> String {
    if ok(h, &["images", "-q", "web"]).is_empty() {
        h.sh_ok(
            "set -e; r=/tmp/root-web; mkdir -p $r/www
             cp \"$(command -v busybox)\" $r/httpd
             echo 'the minotaur' > $r/www/index.html
             tar -C $r -cf $r.tar .",
        );
        ok(h, &["import", "/tmp/root-web.tar", "web"]);
    }
    ok(
        h,
        &[
            "run",
            "-d",
            "--name",
            name,
            "--read-only",
            "-u",
            "65534",
            "web",
            "/httpd",
            "-f",
            "-p",
            "8080",
            "-h",
            "/www",
        ],
    );
    let ip = ok(
        h,
        &[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            name,
        ],
    );
    common::wait_until_ok(h, &format!("curl -sf http://{ip}:8080/ >/dev/null"));
    ip
}

/// Runs `minotaur capture ARGS`, makes `traffic` once it listens, and returns its stdout, its stderr and
/// whether it succeeded.
fn capture_while(h: &Host, args: &[&str], traffic: &str) -> (Vec<u8>, String, bool) {
    let mut child = h
        .minotaur()
        .arg("capture")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running capture");
    let mut err = BufReader::new(child.stderr.take().expect("piped"));
    let mut first = String::new();
    err.read_line(&mut first).expect("reading capture's stderr");
    assert!(first.starts_with("listening on "), "{first}");
    h.sh_ok(traffic);
    let out = child.wait_with_output().expect("waiting for capture");
    let mut rest = String::new();
    err.read_to_string(&mut rest)
        .expect("reading capture's stderr");
    (out.stdout, first + &rest, out.status.success())
}

const SYNS: &str = "tcp[tcpflags] & tcp-syn != 0";

#[test]
fn capture_in_a_target_without_tools_is_read_by_tcpdump_and_tshark() {
    let Some(h) = host() else { return };
    let ip = run_web(&h, "web");
    let ip2 = run_web(&h, "web2");
    let id = ok(&h, &["inspect", "-f", "{{.Id}}", "web"]);
    let upper = h.dir().join("state/containers").join(&id).join("upper");
    let listing = format!("cd {} && find . | sort", upper.display());
    let before = h.sh_ok(&listing);

    // A file: one HTTP exchange's handshake, then tcpdump and tshark read it.
    let (_, err, good) = capture_while(
        &h,
        &["web", "-c", "2", "-w", "/tmp/web.pcapng", "--", SYNS],
        &format!("curl -sf http://{ip}:8080/"),
    );
    assert!(good, "{err}");
    assert!(err.contains("2 packets captured\n"), "{err}");
    assert!(
        err.contains("packets received by filter\n0 packets dropped by kernel"),
        "{err}"
    );
    let read = h.sh_ok("tcpdump -nn -r /tmp/web.pcapng 2>/dev/null");
    let lines: Vec<&str> = read.lines().collect();
    assert_eq!(lines.len(), 2, "{read}");
    assert!(
        lines[0].contains(&format!("> {ip}.8080: Flags [S]")),
        "{read}"
    );
    assert!(lines[1].contains(&format!("{ip}.8080 > ")), "{read}");
    let names = h.sh_ok("tshark -r /tmp/web.pcapng -T fields -e frame.interface_name 2>/dev/null");
    assert_eq!(names, "web/eth0\nweb/eth0\n");

    // Two targets into one stream on standard output: an interface description for each.
    let (pcap, err, good) = capture_while(
        &h,
        &["web", "web2", "-c", "4", "-w", "-", SYNS],
        &format!("curl -sf http://{ip}:8080/ && curl -sf http://{ip2}:8080/"),
    );
    assert!(good, "{err}");
    std::fs::write(h.dir().join("tmp/two.pcapng"), &pcap).unwrap();
    let names = h.sh_ok(
        "tshark -r /tmp/two.pcapng -T fields -e frame.interface_name 2>/dev/null | sort | uniq -c",
    );
    let counts: Vec<String> = names
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(counts, ["2 web/eth0", "2 web2/eth0"], "{names}");

    // Summary lines as tcpdump prints them; -i any includes lo.
    let (out, err, good) = capture_while(
        &h,
        &[
            "-i", "any", "web", "tcp", "port", "8080", "and", SYNS, "-c", "2",
        ],
        &format!("curl -sf http://{ip}:8080/"),
    );
    assert!(good, "{err}");
    let out = String::from_utf8_lossy(&out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains(" web/eth0 IP ")
            && lines[0].contains(&format!("> {ip}.8080: Flags [S], seq ")),
        "{out}"
    );
    assert!(lines[1].contains("Flags [S.]"), "{out}");
    assert!(err.contains("web/lo"), "{err}");

    // The host's end of the veth.
    let (_, err, good) = capture_while(
        &h,
        &[
            "--host-side",
            "web",
            "-c",
            "2",
            "-w",
            "/tmp/host.pcapng",
            SYNS,
        ],
        &format!("curl -sf http://{ip}:8080/"),
    );
    assert!(good, "{err}");
    let names = h.sh_ok("tshark -r /tmp/host.pcapng -T fields -e frame.interface_name 2>/dev/null");
    let veth = names
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("web/")
        .to_owned();
    assert!(!veth.is_empty() && veth != "eth0", "{names}");
    h.sh_ok(&format!("ip link show {veth} | grep -q 'master '"));

    // Nothing changed in the target.
    assert_eq!(h.sh_ok(&listing), before);
}

#[test]
fn capture_refuses_bad_input_with_one_line() {
    let Some(h) = host() else { return };
    run_web(&h, "web");
    let err = fails(&h, &["capture", "nosuch", "-c", "1"], 125);
    assert!(err.contains("nosuch"), "{err}");
    let err = fails(&h, &["capture", "web", "-i", "eth9", "-c", "1"], 125);
    assert_eq!(
        err.trim(),
        "minotaur: no interface eth9 in web's network namespace"
    );
    let err = fails(
        &h,
        &["capture", "web", "-c", "1", "--", "tcp port eighty"],
        125,
    );
    assert!(
        err.contains("invalid filter \"tcp port eighty\": ") && err.contains("eighty"),
        "{err}"
    );
    assert!(!h.dir().join("tmp/never.pcapng").exists());
    let err = fails(
        &h,
        &["capture", "web", "-w", "/tmp/never.pcapng", "--", "port"],
        125,
    );
    assert!(err.contains("syntax error"), "{err}");
    assert!(
        !h.dir().join("tmp/never.pcapng").exists(),
        "a bad filter creates no file"
    );
    // A capability that is needed: a packet socket takes CAP_NET_RAW.
    let out = h.sh(&format!(
        "capsh --drop=cap_net_raw -- -c '\"$0\" capture web -c 1' {}",
        std::env!("CARGO_BIN_EXE_minotaur")
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains("CAP_NET_RAW"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // libpcap is loaded at run time: where it is missing (hidden here behind /dev/null, in a mount namespace
    // of its own), only capture fails, and says which package to install.
    let out = h.sh(&format!(
        "unshare -m --propagation private sh -c 'for f in /usr/lib/*/libpcap.so* /usr/lib/libpcap.so*; do
           [ -e \"$f\" ] && mount --bind /dev/null \"$f\"; done; exec \"$0\" capture web -c 1' {}",
        std::env!("CARGO_BIN_EXE_minotaur")
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert_eq!(
        err.trim(),
        "minotaur: capture needs libpcap (Debian: apt-get install libpcap0.8)"
    );
}
