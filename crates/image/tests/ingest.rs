//! Streaming layer ingest: verification, cleanup on failure, resume, and fetching once across threads and
//! processes.

mod common;

use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::{layer, names, tree, Fixture};
use minotaur_image::{
    ExtractOptions, IngestError, IngestedLayer, LayerDesc, Outcome, Progress, Store,
};

fn ingest(store: &Store, f: &Fixture, blob: &[u8]) -> Result<IngestedLayer, IngestError> {
    let blob = blob.to_vec();
    store.ingest_layer(
        &f.desc,
        &ExtractOptions::default(),
        move |offset| Ok(io::Cursor::new(blob[offset as usize..].to_vec())),
        &|_| {},
    )
}

fn never(_: u64) -> io::Result<io::Empty> {
    panic!("the source was read although the layer is in the store")
}

/// Nothing of `desc` under a final name, and no work directory or partial file left.
fn nothing_left(store: &Store, desc: &LayerDesc) {
    let d = store.dir();
    assert!(!d.join("blobs/sha256").join(desc.digest.hex()).exists());
    assert!(!d.join("layers").join(desc.diff_id.hex()).exists());
    assert_eq!(names(&d.join("layers")), Vec::<String>::new());
    assert_eq!(names(&d.join("blobs/sha256")), Vec::<String>::new());
    assert_eq!(names(&d.join("tmp/partial")), Vec::<String>::new());
    let work = common::work_dirs(d);
    assert!(work.is_empty(), "work directories left: {work:?}");
}

#[test]
fn ingest_verifies_both_digests_for_every_compression() {
    for compression in ["gzip", "zstd", "none"] {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let f = layer("app", compression);
        let seen = Mutex::new(Vec::new());
        let l = store
            .ingest_layer(
                &f.desc,
                &ExtractOptions::default(),
                |offset| {
                    assert_eq!(offset, 0);
                    Ok(&f.blob[..])
                },
                &|p| seen.lock().unwrap().push(p),
            )
            .unwrap();
        assert_eq!(l.outcome, Outcome::Fetched { resumed_from: 0 });
        assert_eq!(l.desc, f.desc);
        assert_eq!(
            l.unpacked_size,
            256 * 1024 + "hello from app\n".len() as u64
        );
        // The blob is stored bit for bit; the layer is extracted under its diff ID.
        let blob = fs::read(store.dir().join("blobs/sha256").join(f.desc.digest.hex())).unwrap();
        assert_eq!(blob, f.blob, "{compression}");
        let dir = store.dir().join("layers").join(f.desc.diff_id.hex());
        assert_eq!(
            fs::read(dir.join("app/hello")).unwrap(),
            b"hello from app\n"
        );
        assert_eq!(
            fs::read_link(dir.join("app/link")).unwrap(),
            Path::new("hello")
        );
        assert_eq!(store.partial_size(&f.desc.digest), None);
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.last(), Some(&Progress::Reading(f.desc.size)));
        assert!(seen.windows(2).all(|w| match (w[0], w[1]) {
            (Progress::Reading(a), Progress::Reading(b)) => a < b,
            _ => false,
        }));

        // Both in place: nothing is fetched.
        let again = store
            .ingest_layer(&f.desc, &ExtractOptions::default(), never, &|_| {})
            .unwrap();
        assert_eq!(again.outcome, Outcome::Present);
        assert_eq!(again.unpacked_size, l.unpacked_size);
    }
}

#[test]
fn a_mislabelled_layer_is_read_by_its_magic() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let mut f = layer("mislabelled", "gzip");
    f.desc.media_type = "application/vnd.oci.image.layer.v1.tar+zstd".into();
    ingest(&store, &f, &f.blob.clone()).unwrap();
    let mut f = layer("unknown", "zstd");
    f.desc.media_type = "application/x-something".into();
    ingest(&store, &f, &f.blob.clone()).unwrap();
}

#[test]
fn a_wrong_digest_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let f = layer("app", "gzip");
    let other = layer("other", "gzip");
    // The registry serves another blob under this digest.
    let e = ingest(&store, &f, &other.blob).unwrap_err();
    assert!(matches!(e, IngestError::Digest { .. }), "{e:?}");
    assert!(e.to_string().contains(&f.desc.digest.to_string()), "{e}");
    nothing_left(&store, &f.desc);
}

#[test]
fn a_wrong_diff_id_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let mut f = layer("app", "zstd");
    f.desc.diff_id = layer("other", "none").desc.diff_id;
    let e = ingest(&store, &f, &f.blob.clone()).unwrap_err();
    assert!(matches!(e, IngestError::DiffId { .. }), "{e:?}");
    nothing_left(&store, &f.desc);
}

#[test]
fn a_corrupt_blob_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let f = layer("app", "gzip");
    let mut bad = f.blob.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    let e = ingest(&store, &f, &bad).unwrap_err();
    // The decompressor notices first, but what is said is that the blob is not the one asked for.
    assert!(
        matches!(&e, IngestError::Digest { expected, .. } if *expected == f.desc.digest),
        "{e:?}"
    );
    nothing_left(&store, &f.desc);
}

/// Gives `data` from `offset`, failing with a reset connection after `fail_at` bytes of the whole blob.
struct Flaky {
    data: Vec<u8>,
    pos: usize,
    fail_at: usize,
}

impl Read for Flaky {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.fail_at {
            return Err(io::Error::from(io::ErrorKind::ConnectionReset));
        }
        let n = buf.len().min(self.fail_at - self.pos).min(4096);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn resume_from_a_partial_gives_what_a_fresh_ingest_gives() {
    for compression in ["gzip", "zstd"] {
        let f = layer("app", compression);
        let fresh_root = tempfile::tempdir().unwrap();
        let fresh = Store::open(fresh_root.path()).unwrap();
        ingest(&fresh, &f, &f.blob).unwrap();

        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let cut = f.blob.len() / 3;
        let e = store
            .ingest_layer(
                &f.desc,
                &ExtractOptions::default(),
                |offset| {
                    Ok(Flaky {
                        data: f.blob.clone(),
                        pos: offset as usize,
                        fail_at: cut,
                    })
                },
                &|_| {},
            )
            .unwrap_err();
        assert!(matches!(e, IngestError::Source { .. }), "{e:?}");
        // The bytes read so far are kept, nothing is under a final name.
        assert_eq!(store.partial_size(&f.desc.digest), Some(cut as u64));
        assert_eq!(names(&store.dir().join("layers")), Vec::<String>::new());
        assert_eq!(
            names(&store.dir().join("blobs/sha256")),
            Vec::<String>::new()
        );

        let offsets = Mutex::new(Vec::new());
        let first_progress = Mutex::new(None);
        let l = store
            .ingest_layer(
                &f.desc,
                &ExtractOptions::default(),
                |offset| {
                    offsets.lock().unwrap().push(offset);
                    Ok(&f.blob[offset as usize..])
                },
                &|p| {
                    first_progress.lock().unwrap().get_or_insert(p);
                },
            )
            .unwrap();
        assert_eq!(*offsets.lock().unwrap(), [cut as u64]);
        assert_eq!(
            l.outcome,
            Outcome::Fetched {
                resumed_from: cut as u64
            }
        );
        assert!(
            matches!(first_progress.into_inner().unwrap(), Some(Progress::Reading(n)) if n <= cut as u64)
        );
        let blob =
            |s: &Store| fs::read(s.dir().join("blobs/sha256").join(f.desc.digest.hex())).unwrap();
        assert_eq!(blob(&store), blob(&fresh));
        let layer = |s: &Store| tree(&s.dir().join("layers").join(f.desc.diff_id.hex()));
        assert_eq!(layer(&store), layer(&fresh));
        assert_eq!(store.partial_size(&f.desc.digest), None);
    }
}

#[test]
fn a_complete_partial_is_not_fetched_again() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let f = layer("app", "gzip");
    // A pull that was killed after reading everything but before putting it in place.
    fs::write(store.partial_path(&f.desc.digest), &f.blob).unwrap();
    let l = store
        .ingest_layer(&f.desc, &ExtractOptions::default(), never, &|_| {})
        .unwrap();
    assert_eq!(
        l.outcome,
        Outcome::Fetched {
            resumed_from: f.desc.size
        }
    );
}

#[test]
fn a_corrupt_partial_is_thrown_away() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let f = layer("app", "gzip");
    let mut bad = f.blob[..f.blob.len() / 2].to_vec();
    let n = bad.len();
    bad[n - 100] ^= 0x55;
    fs::write(store.partial_path(&f.desc.digest), &bad).unwrap();
    ingest(&store, &f, &f.blob).unwrap_err();
    nothing_left(&store, &f.desc);
    // The next attempt starts over and succeeds.
    let l = ingest(&store, &f, &f.blob).unwrap();
    assert_eq!(l.outcome, Outcome::Fetched { resumed_from: 0 });
}

#[test]
fn a_missing_layer_is_extracted_again_from_its_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let f = layer("app", "zstd");
    let first = ingest(&store, &f, &f.blob).unwrap();
    let before = tree(&store.dir().join("layers").join(f.desc.diff_id.hex()));
    drop(first);
    fs::remove_dir_all(store.dir().join("layers").join(f.desc.diff_id.hex())).unwrap();
    let l = store
        .ingest_layer(&f.desc, &ExtractOptions::default(), never, &|_| {})
        .unwrap();
    assert_eq!(l.outcome, Outcome::Extracted);
    assert_eq!(
        tree(&store.dir().join("layers").join(f.desc.diff_id.hex())),
        before
    );
}

/// Hands out the first 64 KiB of `data`, then waits for the gate to open before the rest.
struct Gated {
    data: Vec<u8>,
    pos: usize,
    gate: Arc<(Mutex<bool>, Condvar)>,
}

impl Read for Gated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= 64 * 1024 {
            let (open, cv) = &*self.gate;
            let _g = cv.wait_while(open.lock().unwrap(), |o| !*o).unwrap();
        }
        let n = buf.len().min(self.data.len() - self.pos).min(64 * 1024);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn two_threads_fetch_a_blob_once() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let f = Arc::new(layer("app", "gzip"));
    let calls = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let (waiting_tx, waiting_rx) = mpsc::channel();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (store, f, calls, gate, tx) = (
                store.clone(),
                f.clone(),
                calls.clone(),
                gate.clone(),
                waiting_tx.clone(),
            );
            std::thread::spawn(move || {
                let tx = Mutex::new(tx);
                store
                    .ingest_layer(
                        &f.desc,
                        &ExtractOptions::default(),
                        |offset| {
                            calls.fetch_add(1, Ordering::SeqCst);
                            Ok(Gated {
                                data: f.blob.clone(),
                                pos: offset as usize,
                                gate: gate.clone(),
                            })
                        },
                        &|p| {
                            if let Progress::Waiting(n) = p {
                                let _ = tx.lock().unwrap().send(n);
                            }
                        },
                    )
                    .map(|l| l.outcome)
            })
        })
        .collect();
    // One thread fetches and stops at the gate; the other waits for it and sees its partial file.
    let waited = waiting_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("no thread waited for the other");
    assert!(waited <= f.desc.size);
    {
        let (open, cv) = &*gate;
        *open.lock().unwrap() = true;
        cv.notify_all();
    }
    let mut outcomes: Vec<_> = threads
        .into_iter()
        .map(|t| format!("{:?}", t.join().unwrap().unwrap()))
        .collect();
    outcomes.sort();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(outcomes, ["Fetched { resumed_from: 0 }", "Present"]);
}

/// Run by `two_processes_fetch_a_blob_once` in child processes, with the fixture in `MINOTAUR_TEST_DIR`.
#[test]
#[ignore = "a child process of two_processes_fetch_a_blob_once"]
fn ingest_child() {
    let Some(dir) = std::env::var_os("MINOTAUR_TEST_DIR").map(std::path::PathBuf::from) else {
        println!("skipped: only two_processes_fetch_a_blob_once runs this, as a child process");
        return;
    };
    let store = Store::open(&dir.join("root")).unwrap();
    let blob = fs::read(dir.join("blob")).unwrap();
    let desc = LayerDesc {
        digest: common::sha(&blob),
        size: blob.len() as u64,
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        diff_id: fs::read_to_string(dir.join("diff_id"))
            .unwrap()
            .parse()
            .unwrap(),
    };
    let me = std::process::id();
    let l = store
        .ingest_layer(
            &desc,
            &ExtractOptions::default(),
            |offset| {
                fs::write(dir.join(format!("called-{me}")), b"").unwrap();
                Ok(GatedByFile {
                    data: blob.clone(),
                    pos: offset as usize,
                    go: dir.join("go"),
                })
            },
            &|p| {
                if let Progress::Waiting(_) = p {
                    fs::write(dir.join(format!("waiting-{me}")), b"").unwrap();
                }
            },
        )
        .unwrap();
    println!("outcome: {:?}", l.outcome);
}

/// Like [`Gated`], the gate being a file another process creates.
struct GatedByFile {
    data: Vec<u8>,
    pos: usize,
    go: std::path::PathBuf,
}

impl Read for GatedByFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= 64 * 1024 {
            poll(&|| self.go.exists(), "the go file");
        }
        let n = buf.len().min(self.data.len() - self.pos).min(64 * 1024);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn poll(cond: &dyn Fn() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn two_processes_fetch_a_blob_once() {
    let tmp = tempfile::tempdir().unwrap();
    let f = layer("app", "gzip");
    fs::write(tmp.path().join("blob"), &f.blob).unwrap();
    fs::write(tmp.path().join("diff_id"), f.desc.diff_id.to_string()).unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", "ingest_child", "--ignored", "--nocapture"])
                .env("MINOTAUR_TEST_DIR", tmp.path())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let starting = |prefix: &str| {
        names(tmp.path())
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .count()
    };
    // One child fetches and stops at the gate, the other waits for it; then the gate opens.
    poll(
        &|| starting("called-") == 1 && starting("waiting-") == 1,
        "one fetcher and one waiter",
    );
    fs::write(tmp.path().join("go"), b"").unwrap();
    let mut outcomes = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "a child failed: {:?}", out.status);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("outcome: "))
            .unwrap_or_else(|| panic!("no outcome in {stdout}"))
            .to_string();
        outcomes.push(line);
    }
    outcomes.sort();
    assert_eq!(outcomes, ["Fetched { resumed_from: 0 }", "Present"]);
    assert_eq!(starting("called-"), 1, "the source was read more than once");
    let store = Store::open(&tmp.path().join("root")).unwrap();
    assert!(store.has_blob(&f.desc.digest));
}
