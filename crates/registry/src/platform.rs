//! Platforms (`linux/amd64`, `linux/arm/v7`) with Go's names, and choosing one from an image index.
//!
//! An index lists one manifest per platform. The host's platform is chosen by default; `--platform
//! os/arch[/variant]` picks another. Variants fall back the way containerd's matcher does: an `arm/v7` host
//! also runs `v6` and `v5` images, an `arm64` host takes `v8` or no variant, and an entry without a variant
//! is accepted after every explicit match. Entries for other operating systems or architectures (including
//! the `unknown/unknown` attestation manifests BuildKit adds) are never chosen.

use std::fmt;
use std::str::FromStr;

use oci_spec::image::{Descriptor, ImageIndex};

/// Why a platform could not be parsed or chosen.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PlatformError {
    #[error(
        "invalid platform {0:?}: expected os/arch[/variant], e.g. linux/arm64 or linux/arm/v7"
    )]
    Invalid(String),
    #[error("no image for platform {wanted} in the index; it has {}", available.join(", "))]
    Missing {
        wanted: Platform,
        available: Vec<String>,
    },
}

/// An operating system, architecture and optional variant, with Go's (and OCI's) names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

impl Platform {
    /// A platform from its parts, normalising the architecture's aliases (`x86_64` → `amd64`,
    /// `aarch64` → `arm64`, `armhf` → `arm/v7`).
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        let (architecture, implied) = normalise_arch(architecture);
        let variant = variant
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .or(implied);
        let variant = match (architecture.as_str(), variant.as_deref()) {
            // An arm64 image without a variant is v8; name it so the two compare equal.
            ("arm64", Some("8" | "v8")) => None,
            ("arm", None) if os == "linux" => Some("v7".to_string()),
            (_, Some(v)) if v.bytes().all(|b| b.is_ascii_digit()) => Some(format!("v{v}")),
            _ => variant,
        };
        Self {
            os: os.to_ascii_lowercase(),
            architecture,
            variant,
        }
    }

    /// The platform this program runs on.
    pub fn host() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "arm" => "arm",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "powerpc64" => "ppc64",
            "loongarch64" => "loong64",
            other => other,
        };
        Self::new(std::env::consts::OS, arch, None)
    }

    pub fn os(&self) -> &str {
        &self.os
    }

    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }

    /// How well an index entry's platform suits this one: `None` if it cannot run here, otherwise a rank
    /// (lower is better).
    fn rank(&self, other: &Platform) -> Option<usize> {
        if self.os != other.os || self.architecture != other.architecture {
            return None;
        }
        let Some(theirs) = other.variant.as_deref() else {
            return Some(usize::MAX);
        };
        let Some(ours) = self.variant.as_deref() else {
            // We asked for none: a `v1` amd64 image is the baseline; other explicit variants are not ours.
            return (self.architecture == "amd64" && theirs == "v1").then_some(1);
        };
        if ours == theirs {
            return Some(0);
        }
        // Older variants of the same architecture run on newer ones (arm v7 runs v6 and v5 images).
        let level = |v: &str| v.strip_prefix('v').and_then(|n| n.parse::<u32>().ok());
        match (level(ours), level(theirs)) {
            (Some(o), Some(t)) if t < o && self.architecture != "arm64" => {
                Some(1 + (o - t) as usize)
            }
            _ => None,
        }
    }

    /// Chooses the manifest for this platform from an index; the error lists the platforms it has.
    pub fn select<'a>(&self, index: &'a ImageIndex) -> Result<&'a Descriptor, PlatformError> {
        index
            .manifests()
            .iter()
            .filter_map(|d| {
                let p = d.platform().as_ref()?;
                let p = Platform::new(
                    &p.os().to_string(),
                    &p.architecture().to_string(),
                    p.variant().as_deref(),
                );
                Some((self.rank(&p)?, d))
            })
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, d)| d)
            .ok_or_else(|| PlatformError::Missing {
                wanted: self.clone(),
                available: index
                    .manifests()
                    .iter()
                    .filter_map(|d| d.platform().as_ref())
                    .map(|p| {
                        Platform::new(
                            &p.os().to_string(),
                            &p.architecture().to_string(),
                            p.variant().as_deref(),
                        )
                        .to_string()
                    })
                    .filter(|p| p != "unknown/unknown")
                    // The registry's text, on the user's terminal: escaped, so it stays one line.
                    .map(|p| p.escape_default().to_string())
                    .collect(),
            })
    }
}

fn normalise_arch(arch: &str) -> (String, Option<String>) {
    let arch = arch.to_ascii_lowercase();
    match arch.as_str() {
        "x86_64" | "x86-64" => ("amd64".into(), None),
        "aarch64" => ("arm64".into(), None),
        "armhf" => ("arm".into(), Some("v7".into())),
        "armel" => ("arm".into(), Some("v6".into())),
        "i386" | "i686" => ("386".into(), None),
        _ => (arch, None),
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    /// Parses `os/arch[/variant]`, as `--platform` takes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok =
            |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Self::new(os, arch, None)),
            [os, arch, variant] if ok(os) && ok(arch) && ok(variant) => {
                Ok(Self::new(os, arch, Some(variant)))
            }
            _ => Err(PlatformError::Invalid(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(platforms: &[&str]) -> ImageIndex {
        let manifests: Vec<serde_json::Value> = platforms
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let parts: Vec<&str> = p.split('/').collect();
                let mut platform = serde_json::json!({"os": parts[0], "architecture": parts[1]});
                if let Some(v) = parts.get(2) {
                    platform["variant"] = (*v).into();
                }
                serde_json::json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": format!("sha256:{:064x}", i),
                    "size": 100,
                    "platform": platform,
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({"schemaVersion": 2, "manifests": manifests}))
            .unwrap()
    }

    fn chosen(wanted: &str, platforms: &[&str]) -> Result<usize, PlatformError> {
        let index = index(platforms);
        let d = wanted.parse::<Platform>().unwrap().select(&index)?;
        Ok(index
            .manifests()
            .iter()
            .position(|m| m.digest() == d.digest())
            .unwrap())
    }

    #[test]
    fn parse_and_display() {
        assert_eq!(
            "linux/amd64".parse::<Platform>().unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(
            "linux/arm/v7".parse::<Platform>().unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            "linux/arm".parse::<Platform>().unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            "linux/aarch64".parse::<Platform>().unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            "linux/arm64/v8".parse::<Platform>().unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            "linux/x86_64".parse::<Platform>().unwrap().to_string(),
            "linux/amd64"
        );
        for bad in [
            "linux",
            "linux/",
            "/amd64",
            "linux/amd64/v1/x",
            "linux/am d64",
        ] {
            assert!(
                matches!(bad.parse::<Platform>(), Err(PlatformError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn host_platform_uses_go_names() {
        let host = Platform::host();
        assert_eq!(host.os(), "linux");
        assert!(!host.architecture().contains('_'), "{host}");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(host.to_string(), "linux/amd64");
        }
    }

    #[test]
    fn exact_match_wins() {
        let all = [
            "linux/amd64",
            "linux/arm64/v8",
            "linux/arm/v7",
            "linux/arm/v6",
            "linux/s390x",
        ];
        assert_eq!(chosen("linux/amd64", &all).unwrap(), 0);
        assert_eq!(chosen("linux/arm64", &all).unwrap(), 1);
        assert_eq!(chosen("linux/arm/v7", &all).unwrap(), 2);
        assert_eq!(chosen("linux/arm/v6", &all).unwrap(), 3);
        assert_eq!(chosen("linux/s390x", &all).unwrap(), 4);
    }

    #[test]
    fn variants_fall_back_to_older_ones_then_to_none() {
        assert_eq!(
            chosen("linux/arm/v7", &["linux/arm/v5", "linux/arm/v6"]).unwrap(),
            1
        );
        // `linux/arm` without a variant means v7, as containerd reads it.
        assert_eq!(
            chosen("linux/arm/v7", &["linux/arm/v6", "linux/arm"]).unwrap(),
            1
        );
        assert_eq!(chosen("linux/arm64", &["linux/arm64"]).unwrap(), 0);
        assert_eq!(
            chosen("linux/amd64", &["linux/amd64/v3", "linux/amd64"]).unwrap(),
            1
        );
        assert_eq!(chosen("linux/amd64", &["linux/amd64/v1"]).unwrap(), 0);
        // A newer variant never runs on an older one.
        assert!(chosen("linux/arm/v6", &["linux/arm/v7"]).is_err());
        assert!(chosen("linux/amd64", &["linux/amd64/v3"]).is_err());
    }

    #[test]
    fn missing_platform_lists_what_the_index_has() {
        let err = chosen(
            "linux/riscv64",
            &["linux/amd64", "linux/arm/v7", "unknown/unknown"],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no image for platform linux/riscv64 in the index; it has linux/amd64, linux/arm/v7"
        );
        // Another OS is not a match.
        assert!(chosen("linux/amd64", &["windows/amd64"]).is_err());
    }

    #[test]
    fn a_platform_with_a_newline_in_the_index_stays_on_the_errors_one_line() {
        let err = chosen("linux/amd64", &["plan9\nminotaur: forged/amd64"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no image for platform linux/amd64 in the index; it has plan9\\nminotaur: forged/amd64"
        );
    }
}
