//! `images --filter KEY=VALUE`: Docker's `dangling` and `reference`. Parsed once, before anything is listed.

use std::str::FromStr;

use glob::{MatchOptions, Pattern};

use crate::store::ImageSummary;

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
    #[error("invalid filter {0:?}: expected dangling or reference")]
    Key(String),
}

/// One `images --filter`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageFilter {
    /// `true`: only untagged images; `false`: only tagged ones.
    Dangling(bool),
    /// A shell pattern (Go's `path.Match`: `*` stops at `/`) over `REPOSITORY:TAG` or `REPOSITORY`.
    Reference(Pattern),
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
            _ => return Err(ImageFilterError::Key(k.to_owned())),
        })
    }
}

/// `path.Match`'s rules: a wildcard never matches a `/`.
const PATH_MATCH: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl ImageFilter {
    pub fn matches(&self, i: &ImageSummary) -> bool {
        self.matches_name(&i.repository, &i.tag)
    }

    /// [`Self::matches`] for an image listed as `repository` and `tag` (`<none>` when untagged).
    pub fn matches_name(&self, repository: &str, tag: &str) -> bool {
        let untagged = repository == "<none>";
        match self {
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
        assert!(f("reference=busybox").matches(&bb));
        assert!(f("reference=busy*:1.*").matches(&bb));
        assert!(!f("reference=busybox:latest").matches(&bb));
        assert!(f("reference=localhost:5000/*/app").matches(&local));
        assert!(
            !f("reference=localhost:5000/*").matches(&local),
            "* stops at /"
        );
        assert!(f("dangling=true").matches(&image("<none>", "<none>")));
        assert!(!f("dangling=true").matches(&bb));
        assert!(!f("reference=*").matches(&image("<none>", "<none>")));
        for bad in ["dangling=maybe", "reference=[", "label=a", "nokey"] {
            let e = bad.parse::<ImageFilter>().unwrap_err();
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }
}
