//! `attach`, the foreground client's signals and the terminal, against Docker's behaviour:
//!
//! | client | signal proxy | SIGINT, SIGTERM, SIGHUP, SIGQUIT sent to the client |
//! |---|---|---|
//! | `run`, `attach` without `-t` | on (default) | forwarded to PID 1: a handler runs (its exit status is the client's); without one, PID 1 of a PID namespace ignores it and both go on |
//! | `run`, `attach` without `-t` | `--sig-proxy=false` | the client dies of it; the container runs on |
//! | `run -t`, `attach` to a `-t` container | never (Docker turns it off) | the client puts the terminal back and dies of it; the container runs on |
//!
//! Clients with a terminal run on a pty made here, with `setsid -c` making it their controlling terminal.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

use common::{host, ok, wait_status, Host};
use minotaur_testhost::wait_until;
use nix::pty::{openpty, Winsize};
use nix::sys::signal::{kill, Signal};
use nix::sys::termios::{tcgetattr, LocalFlags, Termios};
use nix::unistd::Pid;

/// PID 1 with a handler for each signal of the matrix (and a marker for SIGUSR1).
const TRAPS: &str = "trap 'echo got-INT; exit 10' INT; trap 'echo got-TERM; exit 11' TERM; \
                     trap 'echo got-HUP; exit 12' HUP; trap 'echo got-QUIT; exit 13' QUIT; \
                     trap 'echo got-USR1' USR1";
/// PID 1 with no handler for the matrix's signals, only a SIGUSR1 marker, idle. (Not a shell: `sh -c`
/// catches SIGINT itself.)
const BARE_IDLE: &str =
    "$| = 1; $SIG{USR1} = sub { print qq(got-USR1\n) }; print qq(ready\n); sleep 1 while 1";
/// The same, echoing each line read.
const BARE_ECHO: &str = "$| = 1; $SIG{USR1} = sub { print qq(got-USR1\n) }; print qq(ready\n); \
                         while (<STDIN>) { print qq(got $_) }";
/// Waits for signals (a trapped signal interrupts `wait`).
const IDLE: &str = "sleep 1000 & p=$!; echo ready; while :; do wait $p; done";
/// Echoes each line read.
const ECHO: &str = "echo ready; while read l; do echo \"got $l\"; done";

const MATRIX: [(Signal, i32, &str); 4] = [
    (Signal::SIGINT, 10, "got-INT"),
    (Signal::SIGTERM, 11, "got-TERM"),
    (Signal::SIGHUP, 12, "got-HUP"),
    (Signal::SIGQUIT, 13, "got-QUIT"),
];

/// A minotaur client run in the box, its output collected as it comes.
struct Client {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
    input: Option<Box<dyn Write + Send>>,
    /// The pty's slave, kept to read its modes and to resize it.
    slave: Option<OwnedFd>,
}

fn collect(mut r: impl Read + Send + 'static, out: Arc<Mutex<Vec<u8>>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
}

impl Client {
    /// Without a terminal: stdin, stdout and stderr are pipes (stdout and stderr collected together).
    fn piped(h: &Host, args: &[&str]) -> Client {
        let mut child = h
            .minotaur()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().unwrap(), out.clone());
        collect(child.stderr.take().unwrap(), out.clone());
        let input = child
            .stdin
            .take()
            .map(|s| Box::new(s) as Box<dyn Write + Send>);
        Client {
            child,
            out,
            input,
            slave: None,
        }
    }

    /// On a new pty of `rows` x `cols`, its controlling terminal.
    fn on_pty(h: &Host, args: &[&str], rows: u16, cols: u16) -> Client {
        let ws = Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&ws), None).unwrap();
        let base = h.minotaur();
        let mut cmd = Command::new("setsid");
        cmd.arg("-c")
            .arg(base.get_program())
            .args(base.get_args())
            .args(args);
        for (k, v) in base.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        let slave = pty.slave;
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()));
        let child = cmd.spawn().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let master = File::from(pty.master);
        collect(master.try_clone().unwrap(), out.clone());
        Client {
            child,
            out,
            input: Some(Box::new(master)),
            slave: Some(slave),
        }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Waits until the output has `needle` in it `times` times.
    fn wait_for_n(&self, needle: &str, times: usize) {
        wait_until(&format!("{needle:?} in the output"), || {
            Ok(self.output().matches(needle).count() >= times)
        })
        .unwrap_or_else(|e| panic!("{e}; output so far: {:?}", self.output()));
    }

    fn wait_for(&self, needle: &str) {
        self.wait_for_n(needle, 1)
    }

    fn type_in(&mut self, bytes: &[u8]) {
        let i = self.input.as_mut().unwrap();
        i.write_all(bytes).unwrap();
        i.flush().unwrap();
    }

    fn close_input(&mut self) {
        self.input = None;
    }

    /// The minotaur process itself: the child of the `nsenter` that put it in the box.
    fn pid(&self) -> Pid {
        let me = self.child.id();
        let mut pid = 0;
        wait_until("the client to start", || {
            let kids = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children"))
                .unwrap_or_default();
            pid = kids
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            Ok(pid > 0)
        })
        .unwrap();
        Pid::from_raw(pid)
    }

    /// Sends the client `sig` and waits until it has taken it (it is no longer pending).
    fn signal(&self, sig: Signal) {
        let pid = self.pid();
        kill(pid, sig).unwrap();
        let bit = 1u64 << (sig as i32 - 1);
        wait_until(&format!("{sig} to be taken"), || {
            let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                return Ok(true);
            };
            let pending = status
                .lines()
                .filter(|l| l.starts_with("ShdPnd:") || l.starts_with("SigPnd:"))
                .filter_map(|l| u64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok())
                .fold(0, |a, b| a | b);
            Ok(pending & bit == 0)
        })
        .unwrap();
    }

    fn exit(&mut self) -> ExitStatus {
        let mut status = None;
        wait_until("the client to exit", || {
            status = self.child.try_wait().unwrap();
            Ok(status.is_some())
        })
        .unwrap_or_else(|e| panic!("{e}; output so far: {:?}", self.output()));
        status.unwrap()
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    fn modes(&self) -> Termios {
        tcgetattr(self.slave.as_ref().unwrap()).unwrap()
    }

    fn resize(&self, rows: u16, cols: u16) {
        // stty on the slave: TIOCSWINSZ, which sends SIGWINCH to the client's process group.
        let st = Command::new("stty")
            .args(["rows", &rows.to_string(), "cols", &cols.to_string()])
            .stdin(Stdio::from(
                self.slave.as_ref().unwrap().try_clone().unwrap(),
            ))
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The modes a shell's terminal has: the client must leave them as it found them.
fn assert_same_modes(before: &Termios, after: &Termios) {
    assert_eq!(before.local_flags, after.local_flags);
    assert_eq!(before.input_flags, after.input_flags);
    assert_eq!(before.output_flags, after.output_flags);
    assert_eq!(before.control_chars, after.control_chars);
    assert!(after
        .local_flags
        .contains(LocalFlags::ICANON | LocalFlags::ECHO));
}

fn script(parts: &[&str]) -> String {
    parts.join("; ")
}

#[test]
fn a_foreground_run_proxies_signals_to_pid_1_which_ignores_those_it_has_no_handler_for() {
    let Some(h) = host() else { return };
    let traps = script(&[TRAPS, IDLE]);
    for (sig, code, said) in MATRIX {
        let mut c = Client::piped(&h, &["run", "--rm", "host", "sh", "-c", &traps]);
        c.wait_for("ready");
        c.signal(sig);
        assert_eq!(c.exit().code(), Some(code), "{sig}: {}", c.output());
        assert!(c.output().contains(said), "{sig}: {}", c.output());
    }
    // No handler: PID 1 of a PID namespace ignores them, the client goes on.
    let mut c = Client::piped(
        &h,
        &["run", "--name", "bare", "host", "perl", "-e", BARE_IDLE],
    );
    c.wait_for("ready");
    for (sig, _, _) in MATRIX {
        c.signal(sig);
    }
    // Forwarded in order: once the marker shows, the four came before it.
    c.signal(Signal::SIGUSR1);
    c.wait_for("got-USR1");
    assert!(c.running(), "{}", c.output());
    assert_eq!(
        ok(&h, &["inspect", "-f", "{{.State.Status}}", "bare"]),
        "running"
    );
    ok(&h, &["kill", "bare"]);
    assert_eq!(c.exit().code(), Some(137));
}

#[test]
fn without_the_proxy_or_with_a_terminal_the_client_dies_of_the_signal_and_the_container_runs_on() {
    let Some(h) = host() else { return };
    let traps = script(&[TRAPS, IDLE]);
    for (sig, _, said) in MATRIX {
        let name = format!("np-{}", sig as i32);
        let mut c = Client::piped(
            &h,
            &[
                "run",
                "--sig-proxy=false",
                "--name",
                &name,
                "host",
                "sh",
                "-c",
                &traps,
            ],
        );
        c.wait_for("ready");
        c.signal(sig);
        assert_eq!(c.exit().signal(), Some(sig as i32), "{sig}: {}", c.output());
        assert_eq!(
            ok(&h, &["inspect", "-f", "{{.State.Status}}", &name]),
            "running"
        );
        assert!(!ok(&h, &["logs", &name]).contains(said));
    }
    for (sig, _, said) in MATRIX {
        let name = format!("tty-{}", sig as i32);
        let mut c = Client::on_pty(
            &h,
            &["run", "-it", "--name", &name, "host", "sh", "-c", &traps],
            24,
            80,
        );
        let before = c.modes();
        c.wait_for("ready");
        c.signal(sig);
        assert_eq!(c.exit().signal(), Some(sig as i32), "{sig}: {}", c.output());
        assert_same_modes(&before, &c.modes());
        assert_eq!(
            ok(&h, &["inspect", "-f", "{{.State.Status}}", &name]),
            "running"
        );
        assert!(!ok(&h, &["logs", &name]).contains(said));
    }
    // With a terminal, ctrl-c is a key: the container's terminal makes it PID 1's SIGINT.
    let mut c = Client::on_pty(
        &h,
        &["run", "-it", "--rm", "host", "sh", "-c", &traps],
        24,
        80,
    );
    c.wait_for("ready");
    c.type_in(b"\x03");
    assert_eq!(c.exit().code(), Some(10), "{}", c.output());
    assert!(c.output().contains("got-INT"));
}

#[test]
fn attach_proxies_signals_unless_told_not_to_or_on_a_terminal() {
    let Some(h) = host() else { return };
    let traps = script(&[TRAPS, ECHO]);
    ok(
        &h,
        &[
            "run", "-d", "-i", "--name", "plain", "host", "sh", "-c", &traps,
        ],
    );
    // --sig-proxy=false: the attacher dies, the container runs on.
    let mut c = Client::piped(&h, &["attach", "--sig-proxy=false", "plain"]);
    c.type_in(b"one\n");
    c.wait_for("got one");
    c.signal(Signal::SIGTERM);
    assert_eq!(c.exit().signal(), Some(Signal::SIGTERM as i32));
    wait_status(&h, "plain", "running");
    // The proxy: the handler runs, the attacher exits with the container's status.
    let mut c = Client::piped(&h, &["attach", "plain"]);
    c.type_in(b"two\n");
    c.wait_for("got two");
    c.signal(Signal::SIGHUP);
    assert_eq!(c.exit().code(), Some(12), "{}", c.output());
    assert!(c.output().contains("got-HUP"));

    // No handler: ignored, and the attacher goes on.
    ok(
        &h,
        &[
            "run", "-d", "-i", "--name", "bare", "host", "perl", "-e", BARE_ECHO,
        ],
    );
    let mut c = Client::piped(&h, &["attach", "bare"]);
    c.type_in(b"three\n");
    c.wait_for("got three");
    c.signal(Signal::SIGINT);
    c.signal(Signal::SIGUSR1);
    // The shell runs its trap once `read` returns.
    c.type_in(b"four\n");
    c.wait_for("got four");
    c.wait_for("got-USR1");
    assert!(c.running());

    // A terminal: no proxy; the attacher puts the terminal back and dies.
    ok(
        &h,
        &[
            "run", "-d", "-it", "--name", "term", "host", "sh", "-c", &traps,
        ],
    );
    let mut c = Client::on_pty(&h, &["attach", "term"], 24, 80);
    let before = c.modes();
    c.type_in(b"five\r");
    c.wait_for("got five");
    c.signal(Signal::SIGINT);
    assert_eq!(c.exit().signal(), Some(Signal::SIGINT as i32));
    assert_same_modes(&before, &c.modes());
    wait_status(&h, "term", "running");
}

#[test]
fn run_d_i_keeps_stdin_open_until_someone_attaches_and_types() {
    let Some(h) = host() else { return };
    ok(&h, &["run", "-d", "-i", "--name", "debug", "host", "sh"]);
    // sh would have read end-of-file and exited at once; it waits for input instead.
    let mut c = Client::piped(&h, &["attach", "debug"]);
    c.type_in(b"echo hello from $0\n");
    c.wait_for("hello from sh");
    assert_eq!(
        ok(&h, &["inspect", "-f", "{{.State.Status}}", "debug"]),
        "running"
    );
    // The attacher's end of input is not the container's: it still reads.
    c.close_input();
    let mut c2 = Client::piped(&h, &["attach", "debug"]);
    c2.type_in(b"echo again; exit 3\n");
    c2.wait_for("again");
    assert_eq!(c2.exit().code(), Some(3));
    // Both attachers saw the output, and both end with the status.
    assert_eq!(c.exit().code(), Some(3));
    assert!(c.output().contains("again"));
    let err = common::fails(&h, &["attach", "debug"], 1);
    assert!(err.contains("start it first"), "{err}");
}

#[test]
fn the_terminal_has_the_clients_size_at_start_and_after_a_resize() {
    let Some(h) = host() else { return };
    let mut c = Client::on_pty(&h, &["run", "-it", "--rm", "host", "sh"], 30, 100);
    let before = c.modes();
    c.type_in(b"stty size\r");
    c.wait_for("30 100");
    c.resize(40, 120);
    c.type_in(b"stty size\r");
    c.wait_for("40 120");
    c.type_in(b"exit 4\r");
    assert_eq!(c.exit().code(), Some(4));
    assert_same_modes(&before, &c.modes());
    // Attaching to a running terminal gives it the attacher's size.
    ok(&h, &["run", "-d", "-it", "--name", "sized", "host", "sh"]);
    let mut c = Client::on_pty(&h, &["attach", "sized"], 33, 77);
    c.type_in(b"stty size; exit\r");
    c.wait_for("33 77");
    assert_eq!(c.exit().code(), Some(0));
}

#[test]
fn detach_keys_leave_the_container_running() {
    let Some(h) = host() else { return };
    let mut c = Client::on_pty(&h, &["run", "-it", "--name", "d", "host", "sh"], 24, 80);
    let before = c.modes();
    c.type_in(b"echo o''ne\r");
    c.wait_for("one");
    // ctrl-p is passed on once the sequence breaks (here by ctrl-u, which then erases the line in the
    // container's terminal); ctrl-p ctrl-q detaches.
    c.type_in(b"\x10\x15\x10\x11");
    assert_eq!(c.exit().code(), Some(0), "{}", c.output());
    assert_same_modes(&before, &c.modes());
    wait_status(&h, "d", "running");

    let mut c = Client::on_pty(&h, &["attach", "--detach-keys", "ctrl-x,x", "d"], 24, 80);
    c.type_in(b"echo t''wo\r");
    c.wait_for("two");
    c.type_in(b"\x18x");
    assert_eq!(c.exit().code(), Some(0), "{}", c.output());
    wait_status(&h, "d", "running");

    let mut c = Client::on_pty(&h, &["attach", "d"], 24, 80);
    c.type_in(b"exit 5\r");
    assert_eq!(c.exit().code(), Some(5));
    let err = common::fails(&h, &["run", "--detach-keys", "ctrl-1", "host", "true"], 125);
    assert!(err.contains("invalid detach keys"), "{err}");
}

#[test]
fn a_terminal_gets_no_stray_bytes_and_its_modes_back_on_every_way_out() {
    let Some(h) = host() else { return };
    let mut c = Client::on_pty(&h, &["run", "-t", "--rm", "host", "printf", "hi"], 24, 80);
    let before = c.modes();
    assert_eq!(c.exit().code(), Some(0));
    // The reader may lag the exit a little.
    c.wait_for("hi");
    assert_eq!(c.output(), "hi");
    assert_same_modes(&before, &c.modes());

    // An error: the supervisor is killed under an attached client.
    let mut c = Client::on_pty(&h, &["run", "-it", "--name", "lost", "host", "sh"], 24, 80);
    let before = c.modes();
    c.type_in(b"echo $PPID''x\r");
    c.wait_for("0x");
    let pid = ok(&h, &["inspect", "-f", "{{.State.Pid}}", "lost"]);
    h.sh_ok(&format!("kill -9 $(ps -o ppid= -p {pid})"));
    // Docker's status for a `run` that fails after the container was made.
    assert_eq!(c.exit().code(), Some(125));
    c.wait_for("went away");
    assert_same_modes(&before, &c.modes());
}
