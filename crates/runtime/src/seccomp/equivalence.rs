//! The compact generator against `seccompiler`: a classic-BPF interpreter runs both programs of the same
//! profile on every syscall number, native and foreign architecture, with arguments on each condition's
//! boundaries, and they must return the same action. Plus the kernel's view: both install, and how long.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator, LinuxSyscallBuilder,
};

use super::{compile_with, docker_default_for, syscall_number, Generator};

const AUDIT_ARCH_I386: u32 = 0x4000_0003;

/// Runs a classic BPF program on a `struct seccomp_data` (64 bytes), as the kernel does.
fn run(prog: &[libc::sock_filter], data: &[u8; 64]) -> u32 {
    run_counting(prog, data).0
}

/// [`run`], also returning how many instructions ran.
fn run_counting(prog: &[libc::sock_filter], data: &[u8; 64]) -> (u32, usize) {
    let mut a: u32 = 0;
    let mut pc = 0usize;
    let mut steps = 0;
    loop {
        let i = prog
            .get(pc)
            .unwrap_or_else(|| panic!("pc {pc} ran off the program"));
        pc += 1;
        steps += 1;
        let jump = |cond: bool| {
            if cond {
                usize::from(i.jt)
            } else {
                usize::from(i.jf)
            }
        };
        match i.code {
            // ld [k]
            0x20 => {
                let k = i.k as usize;
                assert!(k.is_multiple_of(4) && k + 4 <= 64, "bad load offset {k}");
                a = u32::from_ne_bytes(data[k..k + 4].try_into().unwrap());
            }
            // and #k
            0x54 => a &= i.k,
            // ja
            0x05 => pc += i.k as usize,
            0x15 => pc += jump(a == i.k),
            0x25 => pc += jump(a > i.k),
            0x35 => pc += jump(a >= i.k),
            0x45 => pc += jump(a & i.k != 0),
            0x06 => return (i.k, steps),
            code => panic!("unexpected opcode {code:#x} at {}", pc - 1),
        }
    }
}

fn seccomp_data(nr: u32, arch: u32, args: &[u64; 6]) -> [u8; 64] {
    let mut d = [0u8; 64];
    d[0..4].copy_from_slice(&nr.to_ne_bytes());
    d[4..8].copy_from_slice(&arch.to_ne_bytes());
    d[8..16].copy_from_slice(&0x7f00_dead_beefu64.to_ne_bytes());
    for (i, v) in args.iter().enumerate() {
        d[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_ne_bytes());
    }
    d
}

fn native_arch() -> u32 {
    match std::env::consts::ARCH {
        "x86_64" => 0xC000_003E,
        "aarch64" => 0xC000_00B7,
        other => panic!("no test for {other}"),
    }
}

/// Values on and around the boundaries of one condition (its value, ±1 on each word, masked bits set and
/// clear, the other words' extremes).
fn boundaries(op: LinuxSeccompOperator, value: u64, two: Option<u64>) -> Vec<u64> {
    let mut out = vec![0, u64::MAX, 1 << 32, u32::MAX as u64];
    let around = |v: u64, out: &mut Vec<u64>| {
        for d in [0, 1, u64::MAX, 1 << 32, (1u64 << 32).wrapping_neg()] {
            out.push(v.wrapping_add(d));
        }
        out.push(v ^ 0xffff_ffff_0000_0000);
        out.push(v ^ 0x0000_0000_ffff_ffff);
        out.push(v & 0xffff_ffff);
        out.push(v | 0xffff_ffff_0000_0000);
    };
    if op == LinuxSeccompOperator::ScmpCmpMaskedEq {
        let mask = value;
        let want = two.unwrap_or(0) & mask;
        around(want, &mut out);
        around(mask, &mut out);
        out.push(want | !mask);
        for bit in 0..64 {
            if mask & (1 << bit) != 0 {
                out.push(want ^ (1 << bit));
                out.push((want ^ (1 << bit)) | !mask);
            }
        }
    } else {
        around(value, &mut out);
    }
    out
}

/// Argument vectors for syscall `nr`: per argument its conditions' boundaries in `profile`, all
/// combinations (or just zeros and ones for a syscall without conditions).
fn arg_vectors(profile: &LinuxSeccomp, nr: i64) -> Vec<[u64; 6]> {
    let mut per_arg: BTreeMap<usize, BTreeSet<u64>> = BTreeMap::new();
    for entry in profile.syscalls().iter().flatten() {
        if !entry.names().iter().any(|n| syscall_number(n) == Some(nr)) {
            continue;
        }
        for a in entry.args().iter().flatten() {
            per_arg.entry(a.index()).or_default().extend(boundaries(
                a.op(),
                a.value(),
                a.value_two(),
            ));
        }
    }
    let mut out = vec![[0u64; 6], [u64::MAX; 6]];
    if per_arg.is_empty() {
        return out;
    }
    let mut combos = vec![[0u64; 6]];
    for (index, values) in per_arg {
        combos = combos
            .iter()
            .flat_map(|c| {
                values.iter().map(move |&v| {
                    let mut c = *c;
                    c[index] = v;
                    c
                })
            })
            .collect();
    }
    assert!(combos.len() < 2_000_000, "too many combinations for {nr}");
    out.extend(combos);
    out
}

/// Compiles `profile` both ways and checks the two programs agree everywhere; returns the instruction
/// counts (compact, seccompiler).
fn assert_equivalent(profile: &LinuxSeccomp) -> (usize, usize) {
    let ours = compile_with(profile, Generator::Compact).unwrap();
    let theirs = compile_with(profile, Generator::Seccompiler).unwrap();
    assert_eq!(ours.filters.len(), theirs.filters.len());
    let mut numbers: Vec<u32> = (0..=600).collect();
    // x32 numbers (read, clone, socket, clone3, an x32-only one) and the far end.
    numbers.extend([0, 41, 56, 135, 435, 512, 547].map(|n| 0x4000_0000 + n));
    numbers.extend([0x3fff_ffff, u32::MAX, u32::MAX - 1]);
    let mut checked = 0usize;
    for &nr in &numbers {
        let vectors = arg_vectors(profile, i64::from(nr));
        for arch in [native_arch(), AUDIT_ARCH_I386, 0] {
            for args in &vectors {
                let d = seccomp_data(nr, arch, args);
                for (i, (o, t)) in ours.filters.iter().zip(&theirs.filters).enumerate() {
                    assert_eq!(
                        run(o, &d),
                        run(t, &d),
                        "filter {i}, nr {nr:#x}, arch {arch:#x}, args {args:x?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > numbers.len());
    (
        ours.filters.iter().map(Vec::len).sum(),
        theirs.filters.iter().map(Vec::len).sum(),
    )
}

fn all_caps() -> Vec<String> {
    caps::all().iter().map(|c| c.to_string()).collect()
}

fn docker_caps() -> Vec<String> {
    crate::capabilities::DOCKER_CAPABILITIES
        .iter()
        .map(|c| c.to_string())
        .collect()
}

#[test]
fn docker_profiles_compile_to_equivalent_programs() {
    for caps in [
        vec![],
        docker_caps(),
        vec!["CAP_SYS_ADMIN".to_string()],
        all_caps(),
    ] {
        let (ours, theirs) = assert_equivalent(&docker_default_for(&caps));
        eprintln!(
            "docker default, {} caps: {ours} instructions (seccompiler {theirs})",
            caps.len()
        );
        assert!(ours * 3 < theirs, "{ours} vs {theirs}");
    }
}

/// Short, and shallow for the kernel's action-cache emulation, which runs the filter for every number.
#[test]
fn docker_default_is_short_and_shallow() {
    let p = compile_with(&docker_default_for(&docker_caps()), Generator::Compact).unwrap();
    let total: usize = p.filters.iter().map(Vec::len).sum();
    assert!(total < 250, "{total} instructions");
    let deepest = (0..600)
        .map(|nr| run_counting(&p.filters[0], &seccomp_data(nr, native_arch(), &[0; 6])).1)
        .max()
        .unwrap();
    assert!(deepest <= 30, "{deepest} instructions for one number");
}

/// Every other syscall number allowed: ~500 runs, a search tree whose halves are too long for an 8-bit jump,
/// so `ja` bridges them.
#[test]
fn alternating_numbers_need_long_jumps() {
    let names: Vec<&str> = (0..500i64)
        .step_by(2)
        .filter_map(|nr| {
            let table = match std::env::consts::ARCH {
                "x86_64" => super::x86_64::X86_64,
                _ => super::aarch64::AARCH64,
            };
            table.iter().find(|(_, n)| *n == nr).map(|(name, _)| *name)
        })
        .collect();
    assert!(names.len() > 150);
    let profile = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActErrno)
        .syscalls(vec![entry(
            &names,
            LinuxSeccompAction::ScmpActAllow,
            None,
            vec![],
        )])
        .build()
        .unwrap();
    let ours = compile_with(&profile, Generator::Compact).unwrap();
    assert!(ours.filters[0].iter().any(|i| i.code == 0x05), "no ja");
    assert_equivalent(&profile);
}

fn arg(
    index: usize,
    op: LinuxSeccompOperator,
    value: u64,
    two: Option<u64>,
) -> oci_spec::runtime::LinuxSeccompArg {
    let mut b = LinuxSeccompArgBuilder::default()
        .index(index)
        .value(value)
        .op(op);
    if let Some(t) = two {
        b = b.value_two(t);
    }
    b.build().unwrap()
}

fn entry(
    names: &[&str],
    action: LinuxSeccompAction,
    errno: Option<u32>,
    args: Vec<oci_spec::runtime::LinuxSeccompArg>,
) -> oci_spec::runtime::LinuxSyscall {
    let mut b = LinuxSyscallBuilder::default()
        .names(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .action(action);
    if let Some(e) = errno {
        b = b.errno_ret(e);
    }
    if !args.is_empty() {
        b = b.args(args);
    }
    b.build().unwrap()
}

/// Every operator, several rules per syscall, several conditions per rule, several action groups.
fn hand_made(default: LinuxSeccompAction) -> LinuxSeccomp {
    use LinuxSeccompAction::*;
    use LinuxSeccompOperator::*;
    let big = 0x8000_0000_0000_0000u64;
    LinuxSeccompBuilder::default()
        .default_action(default)
        .default_errno_ret(1u32)
        .syscalls(vec![
            entry(
                &["read", "write", "no_such_syscall"],
                ScmpActAllow,
                None,
                vec![],
            ),
            entry(
                &["ioctl"],
                ScmpActAllow,
                None,
                vec![arg(1, ScmpCmpEq, 0x5401, None)],
            ),
            entry(
                &["ioctl"],
                ScmpActAllow,
                None,
                vec![
                    arg(1, ScmpCmpGe, big, None),
                    arg(2, ScmpCmpLt, 0x1_0000_0010, None),
                ],
            ),
            entry(
                &["ioctl"],
                ScmpActAllow,
                None,
                vec![
                    arg(0, ScmpCmpLe, 2, None),
                    arg(1, ScmpCmpGt, 0xffff_ffff, None),
                ],
            ),
            entry(
                &["personality"],
                ScmpActAllow,
                None,
                vec![arg(
                    0,
                    ScmpCmpMaskedEq,
                    0xffff_0000_0000_00ff,
                    Some(0x1234_0000_0000_0008),
                )],
            ),
            entry(
                &["personality"],
                ScmpActAllow,
                None,
                vec![
                    arg(0, ScmpCmpNe, 0x1_0000_0000, None),
                    arg(5, ScmpCmpEq, 7, None),
                ],
            ),
            entry(
                &["socket"],
                ScmpActAllow,
                None,
                vec![arg(0, ScmpCmpNe, 40, None), arg(2, ScmpCmpEq, 0, None)],
            ),
            // Unconditional and conditional in the same group: unconditional wins.
            entry(
                &["getpid"],
                ScmpActAllow,
                None,
                vec![arg(0, ScmpCmpEq, 3, None)],
            ),
            entry(&["getpid"], ScmpActAllow, None, vec![]),
            // MaskedEq without valueTwo, mask only in the high word, mask all ones.
            entry(
                &["clone"],
                ScmpActAllow,
                None,
                vec![arg(0, ScmpCmpMaskedEq, 0x7E02_0000, None)],
            ),
            entry(
                &["clone"],
                ScmpActAllow,
                None,
                vec![arg(
                    1,
                    ScmpCmpMaskedEq,
                    0xf0_0000_0000,
                    Some(0x10_0000_0000),
                )],
            ),
            entry(
                &["clone"],
                ScmpActAllow,
                None,
                vec![arg(3, ScmpCmpMaskedEq, u64::MAX, Some(9))],
            ),
            entry(&["mount", "umount2"], ScmpActErrno, Some(13), vec![]),
            entry(
                &["mkdir"],
                ScmpActErrno,
                Some(13),
                vec![arg(1, ScmpCmpGt, 0o777, None)],
            ),
            entry(
                &["mkdir"],
                ScmpActErrno,
                Some(13),
                vec![arg(1, ScmpCmpLe, 0o100, None)],
            ),
            entry(&["reboot"], ScmpActKillProcess, None, vec![]),
            entry(
                &["kexec_load"],
                ScmpActKill,
                None,
                vec![arg(3, ScmpCmpMaskedEq, 0xffff_0000, Some(0x0003_0000))],
            ),
            entry(
                &["ptrace"],
                ScmpActTrace,
                Some(5),
                vec![arg(0, ScmpCmpLt, 0x4200, None)],
            ),
            entry(&["uname"], ScmpActLog, None, vec![]),
            entry(
                &["tkill"],
                ScmpActTrap,
                None,
                vec![arg(1, ScmpCmpGe, 9, None)],
            ),
        ])
        .build()
        .unwrap()
}

#[test]
fn hand_made_profile_compiles_to_equivalent_programs() {
    for default in [
        LinuxSeccompAction::ScmpActErrno,
        LinuxSeccompAction::ScmpActAllow,
    ] {
        let profile = hand_made(default);
        let ours = compile_with(&profile, Generator::Compact).unwrap();
        assert_eq!(
            ours.filters.len(),
            if default == LinuxSeccompAction::ScmpActAllow {
                6
            } else {
                7
            }
        );
        assert_equivalent(&profile);
    }
}

/// A syscall with more rules than an 8-bit jump can skip: the compact generator gives up on that filter and
/// seccompiler's output is used, so the profile still compiles to the same program.
#[test]
fn rule_block_too_long_for_a_jump_falls_back_to_seccompiler() {
    let rules = (0..100u64)
        .map(|v| {
            entry(
                &["ioctl"],
                LinuxSeccompAction::ScmpActAllow,
                None,
                vec![arg(1, LinuxSeccompOperator::ScmpCmpEq, v * 3, None)],
            )
        })
        .collect::<Vec<_>>();
    let profile = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActErrno)
        .syscalls(rules)
        .build()
        .unwrap();
    let ours = compile_with(&profile, Generator::Compact).unwrap();
    let theirs = compile_with(&profile, Generator::Seccompiler).unwrap();
    let raw = |p: &super::Program| {
        p.filters
            .iter()
            .map(|f| {
                f.iter()
                    .map(|i| (i.code, i.jt, i.jf, i.k))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(raw(&ours), raw(&theirs));
    assert_equivalent(&profile);
}

/// Installs the filters of `filters` in a fresh child with no_new_privs, `samples` times; returns how long
/// each child took for all of them. Panics if the kernel refuses a filter.
fn install_times(filters: &[Vec<libc::sock_filter>], samples: usize) -> Vec<Duration> {
    use minotaur_sys::ForkResult;
    use nix::sys::wait::{waitpid, WaitStatus};
    let mut out = Vec::with_capacity(samples);
    for _ in 0..samples {
        let (r, w) = nix::unistd::pipe().unwrap();
        match minotaur_sys::fork().unwrap() {
            ForkResult::Parent { child } => {
                drop(w);
                let mut buf = [0u8; 8];
                let n = nix::unistd::read(&r, &mut buf).unwrap();
                assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
                assert_eq!(n, 8, "the child could not install the filters");
                out.push(Duration::from_nanos(u64::from_ne_bytes(buf)));
            }
            ForkResult::Child => {
                drop(r);
                // The test harness is multi-threaded: from here only system calls and the clock, no
                // allocation (another thread may have held the allocator's lock at the fork).
                let code = (|| {
                    nix::sys::prctl::set_no_new_privs().ok()?;
                    let start = Instant::now();
                    for f in filters {
                        minotaur_sys::seccomp_set_filter(f).ok()?;
                    }
                    let ns = start.elapsed().as_nanos() as u64;
                    nix::unistd::write(&w, &ns.to_ne_bytes()).ok()?;
                    Some(0)
                })()
                .unwrap_or(1);
                minotaur_sys::exit_now(code);
            }
        }
    }
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The kernel accepts both forms of Docker's default profile; prints the median install time of each
/// (`cargo test --release -p minotaur-runtime install_time -- --nocapture`).
#[test]
fn install_time_of_docker_default() {
    let profile = docker_default_for(&docker_caps());
    let ours = compile_with(&profile, Generator::Compact).unwrap();
    let theirs = compile_with(&profile, Generator::Seccompiler).unwrap();
    let count = |p: &super::Program| p.filters.iter().map(Vec::len).collect::<Vec<_>>();
    // Interleaved, so both see the same machine load.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        a.extend(install_times(&ours.filters, 1));
        b.extend(install_times(&theirs.filters, 1));
    }
    eprintln!(
        "install docker default: compact {:?} instructions, median {:?}; seccompiler {:?} instructions, median {:?}",
        count(&ours),
        median(a),
        count(&theirs),
        median(b)
    );
}
