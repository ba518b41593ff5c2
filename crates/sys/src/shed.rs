//! Giving back the memory a long-lived, mostly idle process inherited and no longer needs.
//!
//! A container's supervisor is forked from the CLI: it inherits every page the CLI touched, and touches many
//! more while it makes the container (the runtime, the store, the events). Alone on a machine, each page it
//! still maps counts fully against it (PSS), though from then on it only sleeps in `poll(2)`. Three kinds of
//! page can go without changing what the process sees:
//!
//! - **free heap memory**, given back by malloc_trim(3);
//! - **file pages of private, read-only mappings** (the executable's and the libraries' code and read-only
//!   data): their page-table entries are dropped (`MADV_DONTNEED`), and a later touch maps the same page of
//!   the page cache again. A read-only mapping can still hold copied-on-write pages: the data the loader
//!   relocated before making it read-only (RELRO: the GOT, `.data.rel.ro`). Those pages hold what the file
//!   does not, so for such a mapping `/proc/self/pagemap` tells which pages are still the file's (present,
//!   and not anonymous), and only those are dropped. Writable mappings are left alone: a page of one could
//!   be written (and so copied) between the look and the drop, and the write would be lost;
//! - **the stack below the stack pointer**, which holds nothing live: pages the deepest calls of the start
//!   touched. A margin below the caller's frame is kept for the calls this function still makes.
//!
//! Each page dropped from a file mapping comes back on its next touch with its neighbours (the kernel's
//! fault-around maps up to 64 KiB of page cache at once), so the caller should shed right before it
//! sleeps, when little code is left to run.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;

/// What is kept below the stack pointer: room for the frames of the calls made after the look (the
/// madvise(2) and malloc_trim(3) wrappers, a few hundred bytes).
const STACK_MARGIN: usize = 16 << 10;

/// `/proc/PID/pagemap` entry bits (Documentation/admin-guide/mm/pagemap.rst).
const PM_PRESENT: u64 = 1 << 63;
const PM_FILE: u64 = 1 << 61;

/// Gives back the free heap, the file pages of private read-only mappings and the unused stack (see the
/// module's documentation). Errors are ignored: each step only ever gives memory back.
pub fn shed_memory() {
    // Everything that reads and allocates is done before the first drop, so that as little code as
    // possible runs (and faults pages back in) after it.
    let marker = 0u8;
    let sp = std::hint::black_box(&marker) as *const u8 as usize;
    let ranges = sheddable(sp).unwrap_or_default();
    for r in &ranges {
        // SAFETY: each range is page-aligned and is either (see `sheddable`) pages of a private,
        // non-writable file mapping that hold the file's own bytes, which the next access maps again from
        // the page cache unchanged (the code this loop runs from included), or stack pages more than
        // `STACK_MARGIN` below this function's own frame, which no live frame uses (the calls made from
        // here need far less): a later call that reaches them gets zeroed pages, as a fresh stack would.
        unsafe { libc::madvise(r.start as *mut libc::c_void, r.len(), libc::MADV_DONTNEED) };
    }
    drop(ranges);
    // Last, so that what the look allocated (the smaps text alone is tens of KiB) is given back too.
    // SAFETY: malloc_trim only returns free heap memory to the kernel; it takes and returns integers.
    unsafe { libc::malloc_trim(0) };
}

/// One mapping of `/proc/self/smaps`: its range, whether it is a private, non-writable mapping of a file,
/// and its anonymous (copied) memory.
#[derive(Debug, PartialEq)]
struct Mapping {
    range: Range<usize>,
    readonly_file: bool,
    anonymous_kib: u64,
}

/// The mappings of an smaps text.
fn mappings(smaps: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let first = f.next().unwrap_or_default();
        if first == "Anonymous:" {
            if let (Some(m), Some(Ok(kib))) = (out.last_mut(), f.next().map(str::parse)) {
                m.anonymous_kib = kib;
            }
            continue;
        }
        let Some((start, end)) = first.split_once('-').filter(|_| !first.ends_with(':')) else {
            continue;
        };
        // A mapping's header line: range, perms, offset, dev, inode, path.
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        let perms = f.next().unwrap_or_default();
        let path = f.nth(3).unwrap_or_default();
        out.push(Mapping {
            range: start..end,
            readonly_file: path.starts_with('/')
                && perms.starts_with('r')
                && !perms.contains('w')
                && perms.ends_with('p'),
            // Unknown until its `Anonymous:` line: assume the worst.
            anonymous_kib: u64::MAX,
        });
    }
    out
}

/// The page ranges [`shed_memory`] drops, for a caller whose stack pointer is near `sp`.
fn sheddable(sp: usize) -> Option<Vec<Range<usize>>> {
    // SAFETY: sysconf takes and returns integers.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
        .ok()
        .filter(|p| p.is_power_of_two())?;
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let pagemap = File::open("/proc/self/pagemap").ok();
    let mut out = Vec::new();
    for m in mappings(&smaps) {
        if m.range.contains(&sp) {
            let keep = (sp & !(page - 1)).saturating_sub(STACK_MARGIN);
            if keep > m.range.start {
                out.push(m.range.start..keep);
            }
        } else if m.readonly_file && m.anonymous_kib == 0 {
            out.push(m.range);
        } else if let (true, Some(pm)) = (m.readonly_file, &pagemap) {
            out.extend(file_pages(pm, &m.range, page).unwrap_or_default());
        }
    }
    Some(out)
}

/// The runs of pages in `range` that are present and are the file's (not copied): `pagemap` is
/// `/proc/self/pagemap`, one 64-bit entry per page.
fn file_pages(
    pagemap: &File,
    range: &Range<usize>,
    page: usize,
) -> std::io::Result<Vec<Range<usize>>> {
    let pages = (range.end - range.start) / page;
    let mut raw = vec![0u8; pages * 8];
    pagemap.read_exact_at(&mut raw, (range.start / page * 8) as u64)?;
    let entries = raw
        .chunks_exact(8)
        .map(|e| u64::from_ne_bytes(e.try_into().expect("8 bytes")));
    Ok(runs(entries, range.start, page))
}

/// Groups the pages whose entries say "present, the file's" into runs, from `start`.
fn runs(entries: impl Iterator<Item = u64>, start: usize, page: usize) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for (i, e) in entries.enumerate() {
        if e & PM_PRESENT == 0 || e & PM_FILE == 0 {
            continue;
        }
        let at = start + i * page;
        match out.last_mut() {
            Some(last) if last.end == at => last.end = at + page,
            _ => out.push(at..at + page),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
00200000-005ce000 r--p 00000000 fe:00 2162692    /usr/bin/minotaur
Rss:                 128 kB
Anonymous:             0 kB
005ce000-01860000 r-xp 003cd000 fe:00 2162692    /usr/bin/minotaur
Anonymous:             0 kB
01860000-018ff000 r--p 0165e000 fe:00 2162692    /usr/bin/minotaur
Anonymous:            36 kB
018ff000-01905000 rw-p 016fc000 fe:00 2162692    /usr/bin/minotaur
Anonymous:            24 kB
1299a000-12a93000 rw-p 00000000 00:00 0          [heap]
Anonymous:           384 kB
7f4d3f659000-7f4d3f67f000 r--p 00000000 fe:00 326279 /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7ffd0000-7fff0000 rw-p 00000000 00:00 0          [stack]
Anonymous:            80 kB
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
Anonymous:             0 kB
";

    #[test]
    fn only_private_read_only_file_mappings_qualify() {
        let m = mappings(SMAPS);
        let got: Vec<(usize, bool, u64)> = m
            .iter()
            .map(|m| (m.range.start, m.readonly_file, m.anonymous_kib))
            .collect();
        assert_eq!(
            got,
            [
                (0x200000, true, 0),
                (0x5ce000, true, 0),
                (0x1860000, true, 36),
                (0x18ff000, false, 24),
                (0x1299a000, false, 384),
                (0x7f4d3f659000, true, 0),
                (0x7ffd0000, false, 80),
                (0xffffffffff600000, false, 0),
            ]
        );
    }

    #[test]
    fn a_mapping_without_its_anonymous_line_is_taken_as_copied() {
        let m = mappings("00200000-00201000 r--p 00000000 fe:00 1 /bin/x\n");
        assert_eq!(m[0].anonymous_kib, u64::MAX);
    }

    #[test]
    fn copied_and_absent_pages_break_the_runs() {
        let file = PM_PRESENT | PM_FILE;
        let anon = PM_PRESENT;
        let entries = [file, file, anon, 0, file, PM_FILE, file, file];
        assert_eq!(
            runs(entries.into_iter(), 0x1000, 0x1000),
            [0x1000..0x3000, 0x5000..0x6000, 0x7000..0x9000]
        );
    }

    #[test]
    fn the_stack_keeps_a_margin_below_the_caller() {
        let marker = 0u8;
        let sp = &marker as *const u8 as usize;
        let ranges = sheddable(sp).expect("smaps is readable");
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let stack = mappings(&smaps)
            .into_iter()
            .find(|m| m.range.contains(&sp))
            .expect("the stack is a mapping");
        for r in ranges.iter().filter(|r| stack.range.contains(&r.start)) {
            assert_eq!(r.start, stack.range.start);
            assert!(r.end + STACK_MARGIN <= sp, "{r:x?} is too close to {sp:x}");
        }
        // Nothing writable but the stack is ever dropped.
        for r in &ranges {
            let m = mappings(&smaps)
                .into_iter()
                .find(|m| m.range.contains(&r.start))
                .expect("a range lies in a mapping");
            assert!(m.readonly_file || m.range == stack.range, "{m:x?}");
        }
    }

    #[test]
    fn shedding_keeps_code_and_relocated_data_working() {
        // Relocated data (a vtable behind a trait object) and code are used after the drop.
        let v: Vec<Box<dyn Fn(u32) -> String>> =
            vec![Box::new(|n| format!("{n:04}")), Box::new(|n| n.to_string())];
        shed_memory();
        assert_eq!(v.iter().map(|f| f(7)).collect::<Vec<_>>(), ["0007", "7"]);
    }
}
