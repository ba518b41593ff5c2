//! A compact classic-BPF generator for one seccomp filter, with the meaning of `seccompiler`'s output and
//! a ninth of its length.
//!
//! `seccompiler` spends four instructions on every syscall it matches without conditions (`jeq nr`, two
//! `ja`s, a `ret`). For Docker's default profile that is a 1,500-instruction filter, and what a container
//! start pays for a filter is its installation: the kernel checks the program, converts it to eBPF and JITs
//! it, in proportion to its length, then runs it once per syscall number to fill its action cache (Linux
//! 5.11+), in proportion to the instructions each number goes through. Allowed syscall numbers come in runs
//! (Docker's default: 32 runs), so a binary search over the runs is both short and shallow. At run time
//! the layout hardly matters: the action cache answers every syscall whose verdict does not depend on its
//! arguments without running the filter at all.
//!
//! The layout, per filter (one match action, one mismatch action):
//!
//! ```text
//!   ld  [arch]; jeq AUDIT_ARCH, +1; ret KILL_PROCESS       seccompiler's arch check, foreign arch killed
//!   ld  [nr]
//!   jeq nr, 0, next_syscall                                 once per syscall with argument rules, first
//!     <conditions of rule 1, each failing to rule 2>; ret MATCH
//!     <conditions of rule 2, each failing to the end>; ret MATCH
//!     ret MISMATCH
//!   next_syscall: ...
//!   jge 230, +k; jge 110, +j; ...; ret MATCH; ret MISMATCH  the unconditional syscalls: a binary search
//!                                                           over the runs of numbers with one verdict
//! ```
//!
//! Syscall numbers of the x32 ABI (`0x40000000` and up on x86_64) match nothing and get the mismatch action,
//! as they do with `seccompiler`. Every condition compares a 64-bit argument unsigned, high word first, as
//! `seccompiler`'s `Qword` conditions do. Jumps are symbolic and resolved at the end; a conditional jump
//! that does not fit its 8-bit offset makes the generator give up ([`CompactError`]) and the caller use
//! `seccompiler` instead.

use super::{CmpOp, Cond, RuleMap};

/// Why the compact generator could not express a filter.
#[derive(Debug, thiserror::Error)]
pub(super) enum CompactError {
    #[error("seccomp: jump from instruction {from} to {to} does not fit")]
    JumpTooFar { from: usize, to: usize },
    #[error("seccomp: filter of {0} instructions is too long")]
    TooLong(usize),
    #[error("seccomp: syscall number {0} out of range")]
    Number(i64),
    #[error("seccomp: no architecture value for {0}")]
    Arch(String),
}

// Classic BPF opcodes (linux/bpf_common.h).
/// `BPF_LD | BPF_W | BPF_ABS` (both of the first are zero).
const LD_W_ABS: u16 = 0x20;
const ALU_AND_K: u16 = 0x04 | 0x50;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x05 | 0x10;
const JMP_JGT_K: u16 = 0x05 | 0x20;
const JMP_JGE_K: u16 = 0x05 | 0x30;
const RET_K: u16 = 0x06;

/// Offsets in `struct seccomp_data`.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;
const ARGS_OFFSET: u32 = 16;

/// The kernel's limit on one program (`BPF_MAXINSNS`).
const MAX_LEN: usize = 4096;

/// The audit architecture value `seccompiler` checks for.
fn audit_arch(arch: &str) -> Result<u32, CompactError> {
    match arch {
        "x86_64" => Ok(0xC000_003E),
        "aarch64" => Ok(0xC000_00B7),
        "riscv64" => Ok(0xC000_00F3),
        other => Err(CompactError::Arch(other.into())),
    }
}

/// A jump target: the next instruction, or a label.
#[derive(Debug, Clone, Copy)]
enum To {
    Next,
    Label(usize),
}

#[derive(Debug, Clone, Copy)]
struct Insn {
    code: u16,
    jt: To,
    jf: To,
    k: u32,
    /// For `ja`: the label `k` is the distance to.
    ja: Option<usize>,
}

/// An assembler with symbolic forward labels.
#[derive(Debug, Default)]
struct Asm {
    insns: Vec<Insn>,
    /// Label → the index of the instruction it stands before, once bound.
    labels: Vec<Option<usize>>,
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }

    fn bind(&mut self, label: usize) {
        self.labels[label] = Some(self.insns.len());
    }

    fn stmt(&mut self, code: u16, k: u32) {
        self.insns.push(Insn {
            code,
            jt: To::Next,
            jf: To::Next,
            k,
            ja: None,
        });
    }

    fn jump(&mut self, code: u16, k: u32, jt: To, jf: To) {
        self.insns.push(Insn {
            code,
            jt,
            jf,
            k,
            ja: None,
        });
    }

    fn ja(&mut self, label: usize) {
        self.insns.push(Insn {
            code: JMP_JA,
            jt: To::Next,
            jf: To::Next,
            k: 0,
            ja: Some(label),
        });
    }

    fn ret(&mut self, action: u32) {
        self.stmt(RET_K, action);
    }

    fn finish(self) -> Result<Vec<libc::sock_filter>, CompactError> {
        if self.insns.len() > MAX_LEN {
            return Err(CompactError::TooLong(self.insns.len()));
        }
        let target = |from: usize, label: usize| -> Result<usize, CompactError> {
            // An unbound label is a bug of this module, not of the profile; it must never jump backwards.
            let to = self.labels[label].expect("every label is bound");
            to.checked_sub(from + 1)
                .ok_or(CompactError::JumpTooFar { from, to })
        };
        let offset = |from: usize, to: To| -> Result<u8, CompactError> {
            match to {
                To::Next => Ok(0),
                To::Label(l) => {
                    let d = target(from, l)?;
                    u8::try_from(d).map_err(|_| CompactError::JumpTooFar {
                        from,
                        to: from + 1 + d,
                    })
                }
            }
        };
        self.insns
            .iter()
            .enumerate()
            .map(|(i, insn)| {
                let k = match insn.ja {
                    Some(l) => {
                        u32::try_from(target(i, l)?).map_err(|_| CompactError::TooLong(i))?
                    }
                    None => insn.k,
                };
                Ok(libc::sock_filter {
                    code: insn.code,
                    jt: offset(i, insn.jt)?,
                    jf: offset(i, insn.jf)?,
                    k,
                })
            })
            .collect()
    }
}

/// Emits `cond`: falls through when it holds, jumps to `fail` when it does not.
fn condition(a: &mut Asm, cond: &Cond, fail: usize) {
    let hi_off = ARGS_OFFSET + 8 * u32::from(cond.index) + 4;
    let lo_off = ARGS_OFFSET + 8 * u32::from(cond.index);
    let fail = To::Label(fail);
    let split = |v: u64| ((v >> 32) as u32, v as u32);
    let (hi, lo) = split(cond.value);
    match cond.op {
        CmpOp::Eq => {
            a.stmt(LD_W_ABS, hi_off);
            a.jump(JMP_JEQ_K, hi, To::Next, fail);
            a.stmt(LD_W_ABS, lo_off);
            a.jump(JMP_JEQ_K, lo, To::Next, fail);
        }
        CmpOp::Ne => {
            let pass = a.label();
            a.stmt(LD_W_ABS, hi_off);
            a.jump(JMP_JEQ_K, hi, To::Next, To::Label(pass));
            a.stmt(LD_W_ABS, lo_off);
            a.jump(JMP_JEQ_K, lo, fail, To::Next);
            a.bind(pass);
        }
        CmpOp::Gt | CmpOp::Ge => {
            let pass = a.label();
            a.stmt(LD_W_ABS, hi_off);
            a.jump(JMP_JGT_K, hi, To::Label(pass), To::Next);
            a.jump(JMP_JEQ_K, hi, To::Next, fail);
            a.stmt(LD_W_ABS, lo_off);
            let code = if cond.op == CmpOp::Gt {
                JMP_JGT_K
            } else {
                JMP_JGE_K
            };
            a.jump(code, lo, To::Next, fail);
            a.bind(pass);
        }
        CmpOp::Lt | CmpOp::Le => {
            let pass = a.label();
            a.stmt(LD_W_ABS, hi_off);
            a.jump(JMP_JGT_K, hi, fail, To::Next);
            a.jump(JMP_JEQ_K, hi, To::Next, To::Label(pass));
            a.stmt(LD_W_ABS, lo_off);
            // lo < v fails when lo >= v; lo <= v fails when lo > v.
            let code = if cond.op == CmpOp::Lt {
                JMP_JGE_K
            } else {
                JMP_JGT_K
            };
            a.jump(code, lo, fail, To::Next);
            a.bind(pass);
        }
        CmpOp::MaskedEq(mask) => {
            // (arg & mask) == (value & mask), word by word; a word of the mask that is zero always holds.
            let (want_hi, want_lo) = split(cond.value & mask);
            let (mask_hi, mask_lo) = split(mask);
            for (off, m, want) in [(hi_off, mask_hi, want_hi), (lo_off, mask_lo, want_lo)] {
                if m == 0 {
                    continue;
                }
                a.stmt(LD_W_ABS, off);
                if m != u32::MAX {
                    a.stmt(ALU_AND_K, m);
                }
                a.jump(JMP_JEQ_K, want, To::Next, fail);
            }
        }
    }
}

/// The filter that returns `matched` for the syscalls in `rules` (unconditionally or when one of their rules
/// holds) and `mismatch` for everything else, on the architecture `arch` (`std::env::consts::ARCH`).
pub(super) fn filter(
    arch: &str,
    rules: &RuleMap,
    mismatch: u32,
    matched: u32,
) -> Result<Vec<libc::sock_filter>, CompactError> {
    let mut a = Asm::default();
    let native = a.label();
    a.stmt(LD_W_ABS, ARCH_OFFSET);
    a.jump(JMP_JEQ_K, audit_arch(arch)?, To::Label(native), To::Next);
    a.ret(libc::SECCOMP_RET_KILL_PROCESS);
    a.bind(native);
    if rules.is_empty() {
        a.ret(mismatch);
        return a.finish();
    }
    a.stmt(LD_W_ABS, NR_OFFSET);
    let number = |nr: i64| u32::try_from(nr).map_err(|_| CompactError::Number(nr));
    // Syscalls with argument rules first: the action cache cannot answer them, so they should not wait
    // behind hundreds of comparisons. A rule that fails loads an argument into A, so a syscall whose rules
    // all fail returns here instead of going on comparing numbers.
    for (&nr, syscall_rules) in rules {
        let Some(syscall_rules) = syscall_rules else {
            continue;
        };
        let next_syscall = a.label();
        a.jump(JMP_JEQ_K, number(nr)?, To::Next, To::Label(next_syscall));
        for rule in syscall_rules {
            let next_rule = a.label();
            for cond in &rule.conds {
                condition(&mut a, cond, next_rule);
            }
            a.ret(matched);
            a.bind(next_rule);
        }
        a.ret(mismatch);
        a.bind(next_syscall);
    }
    let plain = rules
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(&nr, _)| number(nr))
        .collect::<Result<Vec<_>, _>>()?;
    let segments = segments(&plain);
    tree(&mut a, &segments, mismatch, matched);
    a.finish()
}

/// The unconditional syscalls as a step function over all of `u32`: `(first number, matches)` for each run of
/// numbers with the same verdict, in order, the first one starting at 0. `numbers` is sorted.
fn segments(numbers: &[u32]) -> Vec<(u32, bool)> {
    let mut out = vec![(0, false)];
    let mut set = |start: u32, matches: bool| match out.last_mut() {
        Some(last) if last.0 == start => last.1 = matches,
        Some(last) if last.1 == matches => {}
        _ => out.push((start, matches)),
    };
    for &nr in numbers {
        set(nr, true);
        if let Some(next) = nr.checked_add(1) {
            set(next, false);
        }
    }
    // Overwriting a start (0, or the number after the previous one) can leave equal neighbours: the first
    // one starts the run.
    out.dedup_by(|later, earlier| later.1 == earlier.1);
    out
}

/// The number of instructions [`tree`] emits for `n` segments.
fn tree_len(n: usize) -> usize {
    if n <= 1 {
        return 1;
    }
    let left = tree_len(n / 2);
    let node = if left > usize::from(u8::MAX) { 2 } else { 1 };
    node + left + tree_len(n - n / 2)
}

/// A binary search over the segments' starts, with the syscall number in A: `jge start` nodes, `ret` leaves.
///
/// A search rather than a list of `jeq`s because of what installing costs: the kernel fills its action cache
/// by running the filter once for every syscall number, so a list of 350 numbers costs ~450 × 175
/// instructions of emulation per install, a search ~450 × 8. `jge`, `ja` and `ret` are all the cache's
/// emulator needs to see a verdict that does not depend on the arguments.
fn tree(a: &mut Asm, segs: &[(u32, bool)], mismatch: u32, matched: u32) {
    if let [(_, m)] = segs {
        a.ret(if *m { matched } else { mismatch });
        return;
    }
    let mid = segs.len() / 2;
    let right = a.label();
    if tree_len(mid) > usize::from(u8::MAX) {
        // The left half is out of an 8-bit jump's reach: jump over it with a 32-bit `ja`.
        let left = a.label();
        a.jump(JMP_JGE_K, segs[mid].0, To::Next, To::Label(left));
        a.ja(right);
        a.bind(left);
    } else {
        a.jump(JMP_JGE_K, segs[mid].0, To::Label(right), To::Next);
    }
    tree(a, &segs[..mid], mismatch, matched);
    a.bind(right);
    tree(a, &segs[mid..], mismatch, matched);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_len_is_what_tree_emits() {
        for n in 1..1200u32 {
            let segs: Vec<(u32, bool)> = (0..n).map(|i| (i * 2, i % 2 == 1)).collect();
            let mut a = Asm::default();
            tree(&mut a, &segs, 0, 1);
            assert_eq!(a.insns.len(), tree_len(segs.len()), "{n} segments");
            // And it assembles: every short jump fits.
            a.finish().unwrap();
        }
    }

    #[test]
    fn segments_of_runs() {
        assert_eq!(segments(&[]), [(0, false)]);
        assert_eq!(
            segments(&[0, 1, 3, 4, 5, 9]),
            [
                (0, true),
                (2, false),
                (3, true),
                (6, false),
                (9, true),
                (10, false)
            ]
        );
        assert_eq!(segments(&[u32::MAX]), [(0, false), (u32::MAX, true)]);
    }
}
