//! Targets: what a user names when they mean "the namespaces of that thing", and how a target becomes the
//! source of one namespace.
//!
//! A target is written the way nsenter(1) users write it: all digits is a PID, anything with a `/` is a path
//! to a namespace file (an nsfs bind mount or `/proc/PID/ns/KIND`), and anything else is a name. This crate
//! knows one kind of name, the named network namespaces in `/run/netns`; crates above it add theirs (container
//! names and IDs) by implementing [`NameResolver`] and chaining to [`NetnsNames`], so that this crate never
//! learns what a container is.

use std::path::{Path, PathBuf};

use nix::unistd::Pid;

use crate::NsKind;

/// Where iproute2 keeps named network namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// A target as the user wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A process: its namespaces are `/proc/PID/ns/*`.
    Pid(Pid),
    /// A namespace file.
    Path(PathBuf),
    /// A name for a [`NameResolver`] to look up.
    Name(String),
}

/// Where the namespace of one kind comes from, once a target is resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NsSource {
    /// The namespace of that kind of a process.
    Pid(Pid),
    /// A namespace file, which must turn out to be a namespace of the kind asked for.
    File(PathBuf),
}

/// A target that cannot be parsed or resolved.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("empty target")]
    Empty,
    #[error("invalid PID {0:?}")]
    BadPid(String),
    #[error("no {kind} namespace named {name:?} (a target is a PID, a path to a namespace file, a container, or the name of a network namespace in {NETNS_RUN_DIR})")]
    UnknownName { name: String, kind: NsKind },
    /// A name a resolver knows, whose namespace of this kind cannot be had now.
    #[error("{name:?} has no {kind} namespace now: {why}")]
    Unavailable {
        name: String,
        kind: NsKind,
        why: String,
    },
}

impl Target {
    /// Parses a target: all digits is a PID, a `/` makes a path, anything else is a name.
    pub fn parse(s: &str) -> Result<Target, TargetError> {
        if s.is_empty() {
            return Err(TargetError::Empty);
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.parse::<i32>() {
                Ok(pid) if pid > 0 => Ok(Target::Pid(Pid::from_raw(pid))),
                _ => Err(TargetError::BadPid(s.to_owned())),
            };
        }
        if s.contains('/') {
            return Ok(Target::Path(PathBuf::from(s)));
        }
        Ok(Target::Name(s.to_owned()))
    }

    /// The source of this target's namespace of `kind`; names go to `names`.
    pub fn resolve(&self, kind: NsKind, names: &dyn NameResolver) -> Result<NsSource, TargetError> {
        match self {
            Target::Pid(pid) => Ok(NsSource::Pid(*pid)),
            Target::Path(path) => Ok(NsSource::File(path.clone())),
            Target::Name(name) => {
                names
                    .resolve(name, kind)?
                    .ok_or_else(|| TargetError::UnknownName {
                        name: name.clone(),
                        kind,
                    })
            }
        }
    }

    /// The PID this target names, if it names a process.
    pub fn pid(&self) -> Option<Pid> {
        match self {
            Target::Pid(pid) => Some(*pid),
            _ => None,
        }
    }
}

/// Looks up names that are not PIDs or paths. `Ok(None)` means "not a name I know for this kind".
///
/// The engine implements this for container names and IDs, falling back to [`NetnsNames`].
pub trait NameResolver {
    fn resolve(&self, name: &str, kind: NsKind) -> Result<Option<NsSource>, TargetError>;
}

/// The named network namespaces of iproute2: `NAME` is the file `DIR/NAME` (`/run/netns/NAME` by default).
#[derive(Clone, Debug)]
pub struct NetnsNames {
    dir: PathBuf,
}

impl NetnsNames {
    /// Names in `dir` (a temporary directory in tests, [`NETNS_RUN_DIR`] otherwise).
    pub fn new(dir: impl Into<PathBuf>) -> NetnsNames {
        NetnsNames { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Default for NetnsNames {
    fn default() -> Self {
        NetnsNames::new(NETNS_RUN_DIR)
    }
}

impl NameResolver for NetnsNames {
    fn resolve(&self, name: &str, kind: NsKind) -> Result<Option<NsSource>, TargetError> {
        // Target::parse sends names with a '/' elsewhere; "." and ".." are not names either.
        if kind != NsKind::Net || name == "." || name == ".." || name.contains('/') {
            return Ok(None);
        }
        let path = self.dir.join(name);
        Ok(path.exists().then_some(NsSource::File(path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_pids_slashes_are_paths_the_rest_are_names() {
        assert_eq!(Target::parse("42").unwrap(), Target::Pid(Pid::from_raw(42)));
        assert_eq!(
            Target::parse("/proc/1/ns/net").unwrap(),
            Target::Path("/proc/1/ns/net".into())
        );
        assert_eq!(Target::parse("./ns").unwrap(), Target::Path("./ns".into()));
        assert_eq!(Target::parse("web").unwrap(), Target::Name("web".into()));
        assert!(matches!(Target::parse(""), Err(TargetError::Empty)));
        assert!(matches!(Target::parse("0"), Err(TargetError::BadPid(_))));
        assert!(matches!(
            Target::parse("99999999999"),
            Err(TargetError::BadPid(_))
        ));
    }

    #[test]
    fn netns_names_resolve_only_for_net_and_only_when_present() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("web"), "").unwrap();
        let names = NetnsNames::new(dir.path());
        let web = Target::parse("web").unwrap();
        assert_eq!(
            web.resolve(NsKind::Net, &names).unwrap(),
            NsSource::File(dir.path().join("web"))
        );
        let err = web.resolve(NsKind::Mnt, &names).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("no mnt namespace named \"web\""));
        assert!(Target::parse("db")
            .unwrap()
            .resolve(NsKind::Net, &names)
            .is_err());
        assert!(Target::parse("..")
            .unwrap()
            .resolve(NsKind::Net, &names)
            .is_err());
    }
}
