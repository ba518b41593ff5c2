//! What `images` lists: one row per repository and tag of each image.

use serde::Serialize;

use crate::reference::{Digest, ImageId};

/// One line of `images`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageSummary {
    /// `<none>` for an untagged image.
    pub repository: String,
    /// `<none>` for an untagged image.
    pub tag: String,
    /// The digest this repository knows the image by (`images --digests`), if it was pulled or pushed.
    pub digest: Option<Digest>,
    pub id: ImageId,
    /// RFC 3339, as in the image config.
    pub created: String,
    /// Seconds since the epoch of `created` (0 when unparsable), for "2 hours ago".
    pub created_unix: i64,
    /// Bytes of file content in the image's layers.
    pub size: u64,
}
