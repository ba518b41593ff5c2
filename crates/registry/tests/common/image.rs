//! Small generated images: a configuration and gzip layers (tarballs of pseudo-random, incompressible
//! files, so a layer's size is predictable), pushed with the client under test.

use std::io::Write;

use minotaur_registry::{Client, Reference};
use oci_spec::image::{Descriptor, Digest, ImageManifest, MediaType};
use sha2::{Digest as _, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub struct Blob {
    pub bytes: Vec<u8>,
    pub descriptor: Descriptor,
}

pub struct TestImage {
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub manifest: Vec<u8>,
}

pub fn digest_of(bytes: &[u8]) -> Digest {
    format!("sha256:{:x}", Sha256::digest(bytes))
        .parse()
        .unwrap()
}

pub fn blob(bytes: Vec<u8>, media_type: MediaType) -> Blob {
    let descriptor = Descriptor::new(media_type, bytes.len() as u64, digest_of(&bytes));
    Blob { bytes, descriptor }
}

/// Deterministic pseudo-random bytes (xorshift).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn gzip_layer(seed: u64, len: usize) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let data = noise(seed, len);
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, format!("file-{seed}"), &data[..])
        .unwrap();
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

/// An image for `arch` with two layers of about `layer_len` bytes each.
pub fn image(seed: u64, arch: &str, layer_len: usize) -> TestImage {
    let layers: Vec<Blob> = (0..2)
        .map(|i| {
            blob(
                gzip_layer(seed * 10 + i, layer_len),
                MediaType::ImageLayerGzip,
            )
        })
        .collect();
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [{"created_by": format!("test image {seed}")}],
    });
    let config = blob(serde_json::to_vec(&config).unwrap(), MediaType::ImageConfig);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor,
        "layers": layers.iter().map(|l| &l.descriptor).collect::<Vec<_>>(),
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let _: ImageManifest = serde_json::from_slice(&manifest).unwrap();
    TestImage {
        config,
        layers,
        manifest,
    }
}

impl TestImage {
    pub fn digest(&self) -> Digest {
        digest_of(&self.manifest)
    }

    /// Pushes the blobs and the manifest under `reference`.
    pub fn push(&self, client: &Client, reference: &Reference) -> Digest {
        let repo = reference.repository();
        for b in self.layers.iter().chain([&self.config]) {
            if !client.blob_exists(repo, b.descriptor.digest()).unwrap() {
                client
                    .push_blob(repo, &b.descriptor, &mut &b.bytes[..])
                    .unwrap();
            }
        }
        client
            .push_manifest(reference, OCI_MANIFEST, &self.manifest)
            .unwrap()
    }
}

/// An index of already pushed manifests, by platform (`linux/arm64`).
pub fn index(entries: &[(&TestImage, &str)]) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = entries
        .iter()
        .map(|(image, platform)| {
            let parts: Vec<&str> = platform.split('/').collect();
            let mut p = serde_json::json!({"os": parts[0], "architecture": parts[1]});
            if let Some(v) = parts.get(2) {
                p["variant"] = (*v).into();
            }
            serde_json::json!({
                "mediaType": OCI_MANIFEST,
                "digest": image.digest().to_string(),
                "size": image.manifest.len(),
                "platform": p,
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": manifests,
    }))
    .unwrap()
}
