//! `load` and `save`: moving images in and out of the store as archives.
//!
//! `load` reads what `docker save` writes (a tar with `manifest.json`, configs and `layer.tar`s, in the classic
//! layout and in Docker 25's OCI-based one) and OCI image layouts (`oci-layout`, `index.json`, `blobs/`), as a
//! tar stream, plain or compressed. The archive is untrusted: it is unpacked with the same safe extractor as a
//! layer into a work directory, every member it names is opened inside that directory only, each layer's
//! content must hash to the diff ID its config lists, and OCI blobs must match their descriptors' digests.
//! Nothing is registered until every image of the archive has been read.
//!
//! `save` writes the classic `docker save` layout (`<config>.json`, `<diff-id>/layer.tar` uncompressed,
//! `manifest.json`, `repositories`), which `docker load` and `podman load` read.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::extract::{self, ExtractError};
use crate::import::Pending;
use crate::index::resolve_in;
use crate::layer::decompress;
use crate::reference::{Digest, ImageId, Reference};
use crate::store::Store;
use crate::time::rfc3339;

/// Why an archive could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("the archive has neither manifest.json (docker save) nor index.json (OCI layout)")]
    Format,
    #[error("cannot unpack the archive")]
    Unpack(#[source] ExtractError),
    #[error("cannot read {0} from the archive")]
    Member(String, #[source] ExtractError),
    #[error("cannot read {0} from the archive")]
    MemberRead(String, #[source] io::Error),
    #[error("{0} in the archive is not valid")]
    Json(String, #[source] serde_json::Error),
    #[error("{0} in the archive is not a valid OCI document")]
    Oci(String, #[source] oci_spec::OciSpecError),
    #[error("image config {config} lists {expected} layers but the archive gives {actual}")]
    LayerCount {
        config: String,
        expected: usize,
        actual: usize,
    },
    #[error("layer {path} has diff ID {actual}, but its image config says {expected}")]
    DiffId {
        path: String,
        expected: String,
        actual: String,
    },
    #[error("blob {path} has digest {actual}, but the archive says {expected}")]
    BlobDigest {
        path: String,
        expected: String,
        actual: String,
    },
    #[error("unsupported digest {0} (only sha256)")]
    DigestAlgorithm(String),
    #[error("the archive holds no image for linux/{0}")]
    NoPlatform(String),
    #[error("cannot write the archive")]
    Write(#[source] io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An image `load` registered, with the tags the archive gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub id: ImageId,
    pub tags: Vec<Reference>,
}

/// One entry of `docker save`'s `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifest {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// An image found in an archive: where its parts are, before anything is read.
struct Candidate {
    config_path: String,
    /// The config digest the archive promises (OCI), checked against the bytes.
    config_digest: Option<String>,
    /// Paths inside the archive, bottom layer first, with the blob digest the archive promises (OCI).
    layers: Vec<(String, Option<String>)>,
    tags: Vec<Reference>,
}

/// The unpacked archive.
struct Unpacked {
    dir: PathBuf,
}

impl Unpacked {
    fn open(&self, path: &str) -> Result<File, ArchiveError> {
        extract::open_in_root(&self.dir, Path::new(path))
            .map_err(|e| ArchiveError::Member(path.into(), e))
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, ArchiveError> {
        let mut b = Vec::new();
        self.open(path)?
            .read_to_end(&mut b)
            .map_err(|e| ArchiveError::MemberRead(path.into(), e))?;
        Ok(b)
    }

    fn exists(&self, path: &str) -> bool {
        self.open(path).is_ok()
    }
}

fn blob_path(d: &Descriptor) -> Result<String, ArchiveError> {
    let digest = d.digest().to_string();
    match digest.strip_prefix("sha256:") {
        Some(hex) => Ok(format!("blobs/sha256/{hex}")),
        None => Err(ArchiveError::DigestAlgorithm(digest)),
    }
}

impl Store {
    /// `docker load`: registers every image of a `docker save` archive or OCI image layout (tar stream,
    /// plain, gzip or zstd) with the tags it carries. All or nothing.
    pub fn load(
        &self,
        reader: impl Read,
        opts: &extract::Options,
    ) -> Result<Vec<Loaded>, ArchiveError> {
        let work = self.work_dir("load-")?;
        let dir = work.path().join("archive");
        fs::create_dir(&dir).map_err(|e| {
            ArchiveError::Store(StoreError::Io {
                op: "create",
                path: dir.clone(),
                source: e,
            })
        })?;
        let mut buf = BufReader::with_capacity(128 * 1024, reader);
        let (_, tar) = decompress(&mut buf)?;
        let plain = extract::Options {
            allow_devices: false,
            same_owner: false,
            id_map: None,
        };
        extract::extract(tar, &dir, &plain).map_err(ArchiveError::Unpack)?;
        let ar = Unpacked { dir };

        let candidates = if ar.exists("manifest.json") {
            docker_candidates(&ar)?
        } else if ar.exists("index.json") {
            oci_candidates(&ar)?
        } else {
            return Err(ArchiveError::Format);
        };

        let mut staged = Vec::new();
        let mut by_path: HashMap<String, usize> = HashMap::new();
        let mut pending = Vec::new();
        for c in candidates {
            let config_bytes = ar.read(&c.config_path)?;
            let actual = Digest::of(&config_bytes).to_string();
            if let Some(expected) = c.config_digest {
                if expected != actual {
                    return Err(ArchiveError::BlobDigest {
                        path: c.config_path,
                        expected,
                        actual,
                    });
                }
            }
            let config: ImageConfiguration = serde_json::from_slice(&config_bytes)
                .map_err(|e| ArchiveError::Json(c.config_path.clone(), e))?;
            let diff_ids = config.rootfs().diff_ids();
            if diff_ids.len() != c.layers.len() {
                return Err(ArchiveError::LayerCount {
                    config: c.config_path,
                    expected: diff_ids.len(),
                    actual: c.layers.len(),
                });
            }
            let mut layers = Vec::new();
            for ((path, blob_digest), expected) in c.layers.iter().zip(diff_ids) {
                let i = match by_path.get(path) {
                    Some(&i) => i,
                    None => {
                        let file = ar.open(path)?;
                        let s =
                            self.stage_layer(work.path(), &staged.len().to_string(), file, opts)?;
                        if let Some(d) = blob_digest {
                            if *d != s.blob.to_string() {
                                return Err(ArchiveError::BlobDigest {
                                    path: path.clone(),
                                    expected: d.clone(),
                                    actual: s.blob.to_string(),
                                });
                            }
                        }
                        staged.push(s);
                        by_path.insert(path.clone(), staged.len() - 1);
                        staged.len() - 1
                    }
                };
                if staged[i].diff_id.to_string() != *expected {
                    return Err(ArchiveError::DiffId {
                        path: path.clone(),
                        expected: expected.clone(),
                        actual: staged[i].diff_id.to_string(),
                    });
                }
                layers.push(i);
            }
            pending.push(Pending {
                config: config_bytes,
                created: config
                    .created()
                    .clone()
                    .unwrap_or_else(|| rfc3339(SystemTime::now())),
                layers,
                tags: c.tags,
            });
        }
        let tags: Vec<Vec<Reference>> = pending.iter().map(|p| p.tags.clone()).collect();
        let ids = self.publish(work.path(), &staged, pending)?;
        Ok(ids
            .into_iter()
            .zip(tags)
            .map(|(id, tags)| Loaded { id, tags })
            .collect())
    }

    /// `docker save`: writes the images named by `refs` (references or IDs) as a classic `docker save`
    /// archive. An image named by a tag carries that tag; one named by ID carries none, as with Docker.
    pub fn save(&self, refs: &[&str], out: impl Write) -> Result<(), ArchiveError> {
        let index = self.read_index()?;
        // Image ID → tags, in the order first named.
        let mut order: Vec<ImageId> = Vec::new();
        let mut tags: HashMap<ImageId, Vec<String>> = HashMap::new();
        for s in refs {
            let id = resolve_in(&index, s)?;
            let tag = s
                .parse::<Reference>()
                .ok()
                .map(|r| r.to_string())
                .filter(|r| index.repositories.get(r) == Some(&id.to_string()));
            if !tags.contains_key(&id) {
                order.push(id.clone());
            }
            let t = tags.entry(id).or_default();
            if let Some(r) = tag {
                if !t.contains(&r) {
                    t.push(r);
                }
            }
        }

        let work = self.work_dir("save-")?;
        let mut tar = tar::Builder::new(out);
        let mut written = std::collections::HashSet::new();
        let mut manifest = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for id in order {
            let rec = &index.images[&id.to_string()];
            let config_name = format!("{}.json", id.hex());
            let config = fs::read(self.blob_path(id.hex())).map_err(|e| StoreError::Io {
                op: "read",
                path: self.blob_path(id.hex()),
                source: e,
            })?;
            append(
                &mut tar,
                &config_name,
                &mut &config[..],
                config.len() as u64,
            )?;
            let mut layers = Vec::new();
            for l in &rec.layers {
                let hex = l.diff_id.trim_start_matches("sha256:");
                let name = format!("{hex}/layer.tar");
                if written.insert(name.clone()) {
                    let (mut file, len) = self.uncompressed_layer(work.path(), &l.blob)?;
                    append(&mut tar, &name, &mut file, len)?;
                }
                layers.push(name);
            }
            let repo_tags = tags.remove(&id).unwrap_or_default();
            for t in &repo_tags {
                let r: Reference = t.parse().map_err(StoreError::from)?;
                repositories
                    .entry(r.name().to_string())
                    .or_default()
                    .insert(r.tag().to_string(), id.hex().to_string());
            }
            manifest.push(DockerManifest {
                config: config_name,
                repo_tags: (!repo_tags.is_empty()).then_some(repo_tags),
                layers,
            });
        }
        let manifest = serde_json::to_vec(&manifest).expect("manifest.json serialises");
        append(
            &mut tar,
            "manifest.json",
            &mut &manifest[..],
            manifest.len() as u64,
        )?;
        let repositories = serde_json::to_vec(&repositories).expect("repositories serialises");
        append(
            &mut tar,
            "repositories",
            &mut &repositories[..],
            repositories.len() as u64,
        )?;
        tar.into_inner()
            .map_err(ArchiveError::Write)?
            .flush()
            .map_err(ArchiveError::Write)
    }

    /// Decompresses a stored layer blob into a work file; returns it rewound, with its length.
    fn uncompressed_layer(&self, work: &Path, blob: &str) -> Result<(File, u64), ArchiveError> {
        let src = self.blob_path(blob);
        let io = |op, path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { op, path, source }
        };
        let f = File::open(&src).map_err(io("read", &src))?;
        let mut buf = BufReader::new(f);
        let (_, mut r) = decompress(&mut buf)?;
        let tmp = work.join("layer.tar");
        let mut out = File::options()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&tmp)
            .map_err(io("create", &tmp))?;
        let len = io::copy(&mut r, &mut out).map_err(io("decompress", &src))?;
        std::io::Seek::rewind(&mut out).map_err(io("rewind", &tmp))?;
        Ok((out, len))
    }
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    data: &mut impl Read,
    len: u64,
) -> Result<(), ArchiveError> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(len);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    tar.append_data(&mut h, name, data)
        .map_err(ArchiveError::Write)
}

fn parse_tags(names: impl IntoIterator<Item = String>) -> Vec<Reference> {
    names
        .into_iter()
        .filter_map(|n| match n.parse() {
            Ok(r) => Some(r),
            Err(e) => {
                log::warn!("ignoring the archive's tag {n:?}: {e}");
                None
            }
        })
        .collect()
}

fn docker_candidates(ar: &Unpacked) -> Result<Vec<Candidate>, ArchiveError> {
    let manifest: Vec<DockerManifest> = serde_json::from_slice(&ar.read("manifest.json")?)
        .map_err(|e| ArchiveError::Json("manifest.json".into(), e))?;
    Ok(manifest
        .into_iter()
        .map(|m| Candidate {
            config_path: m.config,
            config_digest: None,
            layers: m.layers.into_iter().map(|l| (l, None)).collect(),
            tags: parse_tags(m.repo_tags.unwrap_or_default()),
        })
        .collect())
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

fn oci_candidates(ar: &Unpacked) -> Result<Vec<Candidate>, ArchiveError> {
    let index: ImageIndex = ImageIndex::from_reader(ar.open("index.json")?)
        .map_err(|e| ArchiveError::Oci("index.json".into(), e))?;
    let mut out = Vec::new();
    for d in index.manifests() {
        let annotations = d.annotations().clone().unwrap_or_default();
        // containerd and Docker put the full name here; `ref.name` alone is often just a tag.
        let name = annotations
            .get("io.containerd.image.name")
            .or_else(|| {
                annotations
                    .get("org.opencontainers.image.ref.name")
                    .filter(|n| n.contains(':'))
            })
            .cloned();
        let manifest = find_manifest(ar, d, 0)?;
        out.push(Candidate {
            config_path: blob_path(manifest.config())?,
            config_digest: Some(manifest.config().digest().to_string()),
            layers: manifest
                .layers()
                .iter()
                .map(|l| Ok((blob_path(l)?, Some(l.digest().to_string()))))
                .collect::<Result<_, ArchiveError>>()?,
            tags: parse_tags(name),
        });
    }
    Ok(out)
}

/// The image manifest `d` points at, choosing this machine's platform through (nested) indexes.
fn find_manifest(
    ar: &Unpacked,
    d: &Descriptor,
    depth: usize,
) -> Result<ImageManifest, ArchiveError> {
    let path = blob_path(d)?;
    let bytes = ar.read(&path)?;
    let actual = Digest::of(&bytes).to_string();
    if actual != d.digest().to_string() {
        return Err(ArchiveError::BlobDigest {
            path,
            expected: d.digest().to_string(),
            actual,
        });
    }
    if !INDEX_TYPES.contains(&d.media_type().to_string().as_str()) {
        return ImageManifest::from_reader(&bytes[..]).map_err(|e| ArchiveError::Oci(path, e));
    }
    let index =
        ImageIndex::from_reader(&bytes[..]).map_err(|e| ArchiveError::Oci(path.clone(), e))?;
    let arch = oci_spec::image::Arch::default();
    let chosen = index.manifests().iter().find(|m| match m.platform() {
        Some(p) => *p.os() == oci_spec::image::Os::Linux && *p.architecture() == arch,
        None => true,
    });
    match chosen {
        Some(m) if depth < 4 => find_manifest(ar, m, depth + 1),
        _ => Err(ArchiveError::NoPlatform(arch.to_string())),
    }
}
