//! `images --filter KEY=VALUE`: Docker's `dangling`, `reference`, `label`, `before` and `since`. Parsed once,
//! before anything is listed; the images `before` and `since` name are looked up by the store's `images_filtered`.

use std::collections::HashMap;
use std::str::FromStr;

use glob::{MatchOptions, Pattern};

use crate::listing::ImageSummary;

/// Why an `images --filter` expression was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImageFilterError {
    #[error("invalid filter {0:?}: expected KEY=VALUE")]
    NotKeyValue(String),
    #[error("invalid filter dangling={0:?}: expected true or false")]
    Dangling(String),
    #[error("invalid filter reference={pattern:?}")]
    Pattern {
        pattern: String,
        #[source]
        source: glob::PatternError,
    },
    #[error("invalid filter {0:?}: expected dangling, reference, label, before or since")]
    Key(String),
    #[error("invalid filter {0}=: expected an image")]
    NoImage(&'static str),
}

/// One `images --filter`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageFilter {
    /// `true`: only untagged images; `false`: only tagged ones.
    Dangling(bool),
    /// A shell pattern (Go's `path.Match`: `*` stops at `/`) over `REPOSITORY:TAG` or `REPOSITORY`.
    Reference(Pattern),
    /// `label=KEY` or `label=KEY=VALUE`, over the image config's labels.
    Label(String, Option<String>),
    /// Created before the image named (a reference or ID), as Docker compares them: by creation time.
    Before(String),
    /// Created after the image named.
    Since(String),
}

impl FromStr for ImageFilter {
    type Err = ImageFilterError;

    fn from_str(s: &str) -> Result<ImageFilter, ImageFilterError> {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| ImageFilterError::NotKeyValue(s.to_owned()))?;
        Ok(match k {
            "dangling" => match v {
                "true" | "1" => ImageFilter::Dangling(true),
                "false" | "0" => ImageFilter::Dangling(false),
                _ => return Err(ImageFilterError::Dangling(v.to_owned())),
            },
            "reference" => ImageFilter::Reference(Pattern::new(v).map_err(|source| {
                ImageFilterError::Pattern {
                    pattern: v.to_owned(),
                    source,
                }
            })?),
            "label" => match v.split_once('=') {
                Some((k, v)) => ImageFilter::Label(k.to_owned(), Some(v.to_owned())),
                None => ImageFilter::Label(v.to_owned(), None),
            },
            "before" | "since" if v.is_empty() => {
                return Err(ImageFilterError::NoImage(if k == "before" {
                    "before"
                } else {
                    "since"
                }))
            }
            "before" => ImageFilter::Before(v.to_owned()),
            "since" => ImageFilter::Since(v.to_owned()),
            _ => return Err(ImageFilterError::Key(k.to_owned())),
        })
    }
}

/// When `i` was made, to the nanosecond; `None` when its config gives no readable time.
fn created(i: &ImageSummary) -> Option<i128> {
    crate::time::parse_rfc3339_nanos(&i.created)
}

/// `path.Match`'s rules: a wildcard never matches a `/`.
const PATH_MATCH: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl ImageFilter {
    /// Whether `i` passes. `created_of` gives the creation time (nanoseconds since the epoch) of the image a
    /// `before` or `since` names; `labels` gives `i`'s config labels, and is called only by `label`.
    pub fn matches(
        &self,
        i: &ImageSummary,
        created_of: impl Fn(&str) -> Option<i128>,
        labels: impl FnOnce() -> HashMap<String, String>,
    ) -> bool {
        match self {
            ImageFilter::Label(k, v) => {
                let labels = labels();
                match v {
                    Some(v) => labels.get(k) == Some(v),
                    None => labels.contains_key(k),
                }
            }
            ImageFilter::Before(r) => created_of(r).zip(created(i)).is_some_and(|(t, c)| c < t),
            ImageFilter::Since(r) => created_of(r).zip(created(i)).is_some_and(|(t, c)| c > t),
            _ => self.matches_name(&i.repository, &i.tag),
        }
    }

    /// [`Self::matches`] for an image known only as `repository` and `tag` (`<none>` when untagged), with no
    /// config: the built-in `host` image, which has no labels and no creation time.
    pub fn matches_name(&self, repository: &str, tag: &str) -> bool {
        let untagged = repository == "<none>";
        match self {
            ImageFilter::Label(..) | ImageFilter::Before(_) | ImageFilter::Since(_) => false,
            ImageFilter::Dangling(d) => *d == untagged,
            ImageFilter::Reference(p) => {
                !untagged
                    && (p.matches_with(&format!("{repository}:{tag}"), PATH_MATCH)
                        || p.matches_with(repository, PATH_MATCH))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(repository: &str, tag: &str) -> ImageSummary {
        ImageSummary {
            repository: repository.into(),
            tag: tag.into(),
            digest: None,
            id: format!("sha256:{}", "0".repeat(64)).parse().unwrap(),
            created: String::new(),
            created_unix: 0,
            size: 0,
        }
    }

    #[test]
    fn references_match_as_go_path_match_does() {
        let f = |s: &str| s.parse::<ImageFilter>().unwrap();
        let bb = image("busybox", "1.36");
        let local = image("localhost:5000/team/app", "v1");
        let names = |f: ImageFilter, i: &ImageSummary| f.matches_name(&i.repository, &i.tag);
        assert!(names(f("reference=busybox"), &bb));
        assert!(names(f("reference=busy*:1.*"), &bb));
        assert!(!names(f("reference=busybox:latest"), &bb));
        assert!(names(f("reference=localhost:5000/*/app"), &local));
        assert!(
            !names(f("reference=localhost:5000/*"), &local),
            "* stops at /"
        );
        assert!(f("dangling=true").matches_name("<none>", "<none>"));
        assert!(!names(f("dangling=true"), &bb));
        assert!(!f("reference=*").matches_name("<none>", "<none>"));
        for bad in [
            "dangling=maybe",
            "reference=[",
            "before=",
            "colour=red",
            "nokey",
        ] {
            let e = bad.parse::<ImageFilter>().unwrap_err();
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }

    #[test]
    fn labels_and_creation_times_filter_as_docker_s_do() {
        let f = |s: &str| s.parse::<ImageFilter>().unwrap();
        let mut old = image("old", "1");
        old.created = "2026-12-06T10:00:00.1Z".into();
        let labels = || HashMap::from([("tier".to_string(), "web".to_string())]);
        let mid = crate::time::parse_rfc3339_nanos("2026-12-06T10:00:00.200000000Z");
        let at = |r: &str| (r == "mid").then_some(mid.unwrap());
        assert!(f("label=tier").matches(&old, at, labels));
        assert!(f("label=tier=web").matches(&old, at, labels));
        assert!(!f("label=tier=db").matches(&old, at, labels));
        assert!(!f("label=owner").matches(&old, at, labels));
        assert!(f("before=mid").matches(&old, at, labels));
        assert!(!f("since=mid").matches(&old, at, labels));
        old.created = "2026-12-06T10:00:00.2Z".into();
        assert!(
            !f("before=mid").matches(&old, at, labels),
            "strictly before"
        );
        assert!(!f("since=mid").matches(&old, at, labels), "strictly after");
        assert!(!f("label=tier").matches_name("host", "latest"), "no labels");
        assert!(!f("since=mid").matches_name("host", "latest"), "no time");
    }
}
