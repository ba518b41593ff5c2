//! Container logs in Docker's json-file format, bounded in size.
//!
//! Each line the container writes becomes one JSON object per line in `<container dir>/container.log`:
//! `{"log":"text\n","stream":"stdout","time":"2026-11-29T18:00:00.123456789Z"}`. A line longer than 16 KiB is
//! split into several records, as Docker does. When the file would grow past `max_size` it is renamed to
//! `container.log.1` (shifting older ones up to `max_files - 1`), so a chatty container costs bounded disk.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const MAX_RECORD: usize = 16 * 1024;

/// The two streams a container writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One log record as stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub log: String,
    pub stream: Stream,
    pub time: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot write log {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read log {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid --since value {0:?}: expected a duration (10m, 1h30m), an RFC 3339 time or Unix seconds")]
    BadSince(String),
}

/// Appends a container's output to its json-file log, splitting it into lines per stream.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_files: u32,
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    /// Opens (or creates) the log at `path`. `max_size` 0 means unbounded.
    pub fn open(
        path: impl Into<PathBuf>,
        max_size: u64,
        max_files: u32,
    ) -> Result<LogWriter, LogError> {
        let path = path.into();
        let file = open_append(&path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogWriter {
            path,
            file,
            size,
            max_size,
            max_files: max_files.max(1),
            partial: Default::default(),
        })
    }

    /// Records bytes the container wrote to `stream`; complete lines are written out at once.
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> Result<(), LogError> {
        let idx = stream as usize;
        self.partial[idx].extend_from_slice(data);
        loop {
            let buf = &self.partial[idx];
            let cut = match buf.iter().position(|&b| b == b'\n') {
                Some(nl) if nl < MAX_RECORD => nl + 1,
                _ if buf.len() >= MAX_RECORD => MAX_RECORD,
                _ => break,
            };
            let line: Vec<u8> = self.partial[idx].drain(..cut).collect();
            self.record(stream, &line)?;
        }
        Ok(())
    }

    /// Writes out what is left of unfinished lines (at the container's exit).
    pub fn flush(&mut self) -> Result<(), LogError> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = std::mem::take(&mut self.partial[stream as usize]);
            if !rest.is_empty() {
                self.record(stream, &rest)?;
            }
        }
        Ok(())
    }

    fn record(&mut self, stream: Stream, line: &[u8]) -> Result<(), LogError> {
        let rec = Record {
            log: String::from_utf8_lossy(line).into_owned(),
            stream,
            time: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
        };
        let mut text = serde_json::to_string(&rec).expect("a record always serializes");
        text.push('\n');
        if self.max_size > 0 && self.size > 0 && self.size + text.len() as u64 > self.max_size {
            self.rotate()?;
        }
        let err = |source| LogError::Write {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(text.as_bytes()).map_err(err)?;
        self.size += text.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), LogError> {
        let err = |source| LogError::Write {
            path: self.path.clone(),
            source,
        };
        if self.max_files <= 1 {
            self.file.set_len(0).map_err(err)?;
        } else {
            for i in (1..self.max_files - 1).rev() {
                let _ = fs::rename(rotated(&self.path, i), rotated(&self.path, i + 1));
            }
            fs::rename(&self.path, rotated(&self.path, 1)).map_err(err)?;
            self.file = open_append(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> Result<File, LogError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| LogError::Write {
            path: path.to_owned(),
            source,
        })
}

fn rotated(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

/// What `logs` shows: which records, and how.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// Only the last N records.
    pub tail: Option<usize>,
    /// Only records at or after this time.
    pub since: Option<SystemTime>,
    /// Prefix each line with its time.
    pub timestamps: bool,
}

/// Parses Docker's `--since`: a relative duration (`10m`), an RFC 3339 time, or Unix seconds.
pub fn parse_since(s: &str, now: SystemTime) -> Result<SystemTime, LogError> {
    if let Ok(secs) = s.parse::<f64>() {
        return Ok(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs.max(0.0)));
    }
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return Ok(t);
    }
    humantime::parse_duration(s)
        .ok()
        .and_then(|d| now.checked_sub(d))
        .ok_or_else(|| LogError::BadSince(s.to_owned()))
}

/// Reads the records of a log (rotated files first) that `opts` selects.
pub fn read(path: &Path, opts: &ReadOptions) -> Result<Vec<Record>, LogError> {
    let mut files: Vec<PathBuf> = (1..100)
        .map(|i| rotated(path, i))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    files.push(path.to_owned());
    let mut out = Vec::new();
    for f in files {
        let file = match File::open(&f) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(LogError::Read { path: f, source }),
        };
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|source| LogError::Read {
                path: f.clone(),
                source,
            })?;
            if let Ok(rec) = serde_json::from_str::<Record>(&line) {
                if selected(&rec, opts) {
                    out.push(rec);
                }
            }
        }
    }
    if let Some(n) = opts.tail {
        let skip = out.len().saturating_sub(n);
        out.drain(..skip);
    }
    Ok(out)
}

fn selected(rec: &Record, opts: &ReadOptions) -> bool {
    match (opts.since, humantime::parse_rfc3339_weak(&rec.time)) {
        (Some(since), Ok(t)) => t >= since,
        _ => true,
    }
}

/// Writes records to the terminal streams they came from.
pub fn print(
    recs: &[Record],
    opts: &ReadOptions,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<()> {
    for rec in recs {
        let w: &mut dyn Write = match rec.stream {
            Stream::Stdout => out,
            Stream::Stderr => err,
        };
        if opts.timestamps {
            write!(w, "{} ", rec.time)?;
        }
        w.write_all(rec.log.as_bytes())?;
    }
    out.flush()?;
    err.flush()
}

/// Follows a log as it grows (`logs -f`), printing new records until `running()` turns false and everything
/// written so far has been printed. Polls every 50 ms; rotation restarts from the new file's beginning.
pub fn follow(
    path: &Path,
    opts: &ReadOptions,
    mut running: impl FnMut() -> bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<(), LogError> {
    let mut opts = opts.clone();
    let first = read(path, &opts)?;
    print(&first, &opts, out, err).map_err(|source| LogError::Write {
        path: path.into(),
        source,
    })?;
    opts.tail = None;
    let mut pos = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    loop {
        let alive = running();
        let len = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len < pos {
            pos = 0;
        }
        if len > pos {
            let mut f = File::open(path).map_err(|source| LogError::Read {
                path: path.into(),
                source,
            })?;
            io::Seek::seek(&mut f, io::SeekFrom::Start(pos)).map_err(|source| LogError::Read {
                path: path.into(),
                source,
            })?;
            let mut reader = BufReader::new(f);
            let mut line = String::new();
            while reader
                .read_line(&mut line)
                .map_err(|source| LogError::Read {
                    path: path.into(),
                    source,
                })?
                > 0
            {
                if !line.ends_with('\n') {
                    break;
                }
                pos += line.len() as u64;
                if let Ok(rec) = serde_json::from_str::<Record>(&line) {
                    print(&[rec], &opts, out, err).map_err(|source| LogError::Write {
                        path: path.into(),
                        source,
                    })?;
                }
                line.clear();
            }
        }
        if !alive {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_per_stream_and_partial_lines_wait() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("container.log");
        let mut w = LogWriter::open(&p, 0, 1).unwrap();
        w.write(Stream::Stdout, b"hel").unwrap();
        w.write(Stream::Stderr, b"oops\n").unwrap();
        w.write(Stream::Stdout, b"lo\nworld").unwrap();
        w.flush().unwrap();
        let recs = read(&p, &ReadOptions::default()).unwrap();
        let got: Vec<(&str, Stream)> = recs.iter().map(|r| (r.log.as_str(), r.stream)).collect();
        assert_eq!(
            got,
            vec![
                ("oops\n", Stream::Stderr),
                ("hello\n", Stream::Stdout),
                ("world", Stream::Stdout)
            ]
        );
        let text = fs::read_to_string(&p).unwrap();
        assert!(
            text.starts_with(r#"{"log":"oops\n","stream":"stderr","time":""#),
            "{text}"
        );
    }

    #[test]
    fn tail_and_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("container.log");
        let mut w = LogWriter::open(&p, 0, 1).unwrap();
        w.write(Stream::Stdout, b"1\n2\n3\n").unwrap();
        let opts = ReadOptions {
            tail: Some(2),
            timestamps: true,
            ..Default::default()
        };
        let recs = read(&p, &opts).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        print(&recs, &opts, &mut out, &mut err).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out.lines().count(), 2);
        assert!(out.lines().all(|l| l.contains("Z ")), "{out}");
        assert!(out.ends_with(" 3\n"));
    }

    #[test]
    fn logs_stay_bounded_by_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("container.log");
        let mut w = LogWriter::open(&p, 4096, 3).unwrap();
        for i in 0..1000 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        let total: u64 = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert!(total <= 3 * 4096, "{total}");
        let recs = read(&p, &ReadOptions::default()).unwrap();
        assert_eq!(recs.last().unwrap().log, "line 999\n");
        assert!(recs.len() < 1000);
    }

    #[test]
    fn long_lines_are_split_like_docker() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("container.log");
        let mut w = LogWriter::open(&p, 0, 1).unwrap();
        w.write(Stream::Stdout, &vec![b'x'; MAX_RECORD + 10])
            .unwrap();
        w.flush().unwrap();
        let recs = read(&p, &ReadOptions::default()).unwrap();
        assert_eq!(
            recs.iter().map(|r| r.log.len()).collect::<Vec<_>>(),
            vec![MAX_RECORD, 10]
        );
    }

    #[test]
    fn since_accepts_durations_times_and_seconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000);
        assert_eq!(
            parse_since("10s", now).unwrap(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(9_990)
        );
        assert_eq!(
            parse_since("5000", now).unwrap(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(5_000)
        );
        assert!(parse_since("1970-01-01T00:00:01Z", now).is_ok());
        assert!(parse_since("yesterday", now).is_err());
    }
}
