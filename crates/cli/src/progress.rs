//! How pulls and pushes show their progress, as Docker shows it: a bar per layer on a terminal (indicatif),
//! a few plain lines otherwise, one JSON event per line for scripts, or nothing but the result.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use minotaur_engine::image::progress::{BlobStatus, LayerStatus, Progress, PullEvent, PushEvent};

/// `--progress`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Bars on a terminal, plain lines otherwise
    #[default]
    Auto,
    /// Plain lines, as Docker prints them when its output is not a terminal
    Plain,
    /// One JSON object per event and line
    Json,
    /// Only the image's name at the end
    Quiet,
}

/// Where the progress goes: `pull` and `push` print on stdout, `run` and `create` on stderr (their stdout
/// is the container's ID or output).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn is_terminal(self) -> bool {
        match self {
            Stream::Stdout => std::io::stdout().is_terminal(),
            Stream::Stderr => std::io::stderr().is_terminal(),
        }
    }

    fn line(self, text: &str) {
        // A closed stdout is not an error for a progress line; the command's result is reported elsewhere.
        let _ = match self {
            Stream::Stdout => writeln!(std::io::stdout().lock(), "{text}"),
            Stream::Stderr => writeln!(std::io::stderr().lock(), "{text}"),
        };
    }
}

/// The reporter for `mode` on `stream`.
pub fn reporter(mode: Mode, stream: Stream) -> Box<dyn Progress> {
    match mode {
        Mode::Auto if stream.is_terminal() => Box::new(Bars::new(stream)),
        Mode::Auto | Mode::Plain => Box::new(Plain { stream }),
        Mode::Json => Box::new(Json {
            stream,
            last: Mutex::default(),
        }),
        Mode::Quiet => Box::new(Quiet { stream }),
    }
}

/// The 12 hex digits Docker names a layer by.
fn short(digest: &str) -> &str {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    &hex[..hex.len().min(12)]
}

/// "Unable to find image 'busybox:latest' locally", always on stderr, as Docker's `run` says it.
fn missing(reference: &str) {
    Stream::Stderr.line(&format!("Unable to find image '{reference}' locally"));
}

/// Docker's closing lines of a pull.
fn pulled_lines(reference: &str, name: &str, digest: &str, up_to_date: bool) -> [String; 3] {
    let status = if up_to_date {
        format!("Status: Image is up to date for {reference}")
    } else {
        format!("Status: Downloaded newer image for {reference}")
    };
    [format!("Digest: {digest}"), status, name.to_owned()]
}

fn push_line(event: &PushEvent) -> Option<String> {
    match event {
        PushEvent::Pushing { repository } => {
            Some(format!("The push refers to repository [{repository}]"))
        }
        PushEvent::Blob {
            digest,
            status,
            from,
            ..
        } => {
            let what = match status {
                BlobStatus::Exists => "Layer already exists".to_owned(),
                BlobStatus::Mounted => {
                    format!("Mounted from {}", from.as_deref().unwrap_or_default())
                }
                BlobStatus::Pushing => return None,
                BlobStatus::Pushed => "Pushed".to_owned(),
            };
            Some(format!("{}: {what}", short(digest)))
        }
        PushEvent::Pushed { tag, digest, size } => {
            Some(format!("{tag}: digest: {digest} size: {size}"))
        }
    }
}

/// Docker's non-terminal output: a line when a pull starts, one per layer when it is done, the digest and
/// status at the end.
struct Plain {
    stream: Stream,
}

impl Progress for Plain {
    fn pull(&self, event: &PullEvent) {
        match event {
            PullEvent::Missing { reference } => missing(reference),
            PullEvent::Pulling {
                tag, repository, ..
            } => self
                .stream
                .line(&format!("{tag}: Pulling from {repository}")),
            PullEvent::Layers { .. } => {}
            PullEvent::Layer { digest, status, .. } => {
                let what = match status {
                    LayerStatus::Waiting | LayerStatus::Downloading => return,
                    LayerStatus::Exists => "Already exists",
                    LayerStatus::Complete => "Pull complete",
                };
                self.stream.line(&format!("{}: {what}", short(digest)));
            }
            PullEvent::Pulled {
                reference,
                name,
                digest,
                up_to_date,
                ..
            } => {
                for l in pulled_lines(reference, name, digest, *up_to_date) {
                    self.stream.line(&l);
                }
            }
        }
    }

    fn push(&self, event: &PushEvent) {
        if let Some(l) = push_line(event) {
            self.stream.line(&l);
        }
    }
}

/// Only the name of what was pulled (`pull -q`), or nothing for a push (`push -q` prints the digest line).
struct Quiet {
    stream: Stream,
}

impl Progress for Quiet {
    fn pull(&self, event: &PullEvent) {
        if let PullEvent::Pulled { name, .. } = event {
            self.stream.line(name);
        }
    }

    fn push(&self, event: &PushEvent) {
        if let PushEvent::Pushed { .. } = event {
            if let Some(l) = push_line(event) {
                self.stream.line(&l);
            }
        }
    }
}

/// How often a layer's byte count is reported in JSON at most.
const JSON_INTERVAL: Duration = Duration::from_millis(200);

/// One JSON object per line; a layer's running byte count at most every [`JSON_INTERVAL`].
struct Json {
    stream: Stream,
    last: Mutex<HashMap<String, Instant>>,
}

impl Json {
    fn emit(&self, value: &impl serde::Serialize) {
        if let Ok(line) = serde_json::to_string(value) {
            self.stream.line(&line);
        }
    }
}

impl Progress for Json {
    fn pull(&self, event: &PullEvent) {
        if let PullEvent::Layer {
            digest,
            status: LayerStatus::Waiting | LayerStatus::Downloading,
            current,
            total,
        } = event
        {
            let now = Instant::now();
            let mut last = self.last.lock().expect("no panics while held");
            let due = last
                .get(digest)
                .is_none_or(|t| now.duration_since(*t) >= JSON_INTERVAL);
            if !due && current != total {
                return;
            }
            last.insert(digest.clone(), now);
        }
        self.emit(event);
    }

    fn push(&self, event: &PushEvent) {
        self.emit(event);
    }
}

/// A bar per layer, as Docker draws them on a terminal.
struct Bars {
    stream: Stream,
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn new(stream: Stream) -> Bars {
        let target = match stream {
            Stream::Stdout => ProgressDrawTarget::stdout(),
            Stream::Stderr => ProgressDrawTarget::stderr(),
        };
        Bars {
            stream,
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::default(),
        }
    }

    fn println(&self, text: &str) {
        if self.multi.println(text).is_err() {
            self.stream.line(text);
        }
    }

    fn style(template: &str) -> ProgressStyle {
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
    }
}

impl Progress for Bars {
    fn pull(&self, event: &PullEvent) {
        let mut bars = self.bars.lock().expect("no panics while held");
        match event {
            PullEvent::Missing { reference } => missing(reference),
            PullEvent::Pulling {
                tag, repository, ..
            } => self.println(&format!("{tag}: Pulling from {repository}")),
            PullEvent::Layers { layers } => {
                for l in layers {
                    let bar = self.multi.add(ProgressBar::new(l.size));
                    bar.set_style(Self::style("{prefix}: {msg}"));
                    bar.set_prefix(short(&l.digest).to_owned());
                    bar.set_message("Pulling fs layer");
                    bar.tick();
                    bars.insert(l.digest.clone(), bar);
                }
            }
            PullEvent::Layer {
                digest,
                status,
                current,
                ..
            } => {
                let Some(bar) = bars.get(digest) else { return };
                match status {
                    LayerStatus::Waiting | LayerStatus::Downloading => {
                        if bar.message() == "Pulling fs layer" || bar.position() == 0 {
                            bar.set_style(Self::style(
                                "{prefix}: {msg:<11} [{bar:50}] {bytes:>9}/{total_bytes}",
                            ));
                        }
                        let msg = if *status == LayerStatus::Waiting {
                            "Waiting"
                        } else {
                            "Downloading"
                        };
                        if bar.message() != msg {
                            bar.set_message(msg);
                        }
                        bar.set_position(*current);
                    }
                    LayerStatus::Exists | LayerStatus::Complete => {
                        bar.set_style(Self::style("{prefix}: {msg}"));
                        bar.finish_with_message(if *status == LayerStatus::Exists {
                            "Already exists"
                        } else {
                            "Pull complete"
                        });
                    }
                }
            }
            PullEvent::Pulled {
                reference,
                name,
                digest,
                up_to_date,
                ..
            } => {
                // The layers' last lines stay on the screen, as Docker leaves them.
                for (_, bar) in bars.drain() {
                    if !bar.is_finished() {
                        bar.finish();
                    }
                }
                for l in pulled_lines(reference, name, digest, *up_to_date) {
                    self.stream.line(&l);
                }
            }
        }
    }

    fn push(&self, event: &PushEvent) {
        if let Some(l) = push_line(event) {
            self.println(&l);
        }
    }
}
