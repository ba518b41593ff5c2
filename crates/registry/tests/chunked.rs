//! Chunked uploads against a real registry, through a proxy that counts the requests and breaks chosen
//! ones: a big blob goes as several `PATCH`es and pulls back the same; a chunk that fails (an error
//! status, a `416`, with or without a `Range`) is resumed from where the registry stands, not from the
//! start; a lost answer starts the upload again (distribution forgets it); and a short content, a chunk
//! that keeps failing or a `Range` past the blob's end fail naming what went wrong.

mod common;

use std::io::{Cursor, Read};
use std::time::Duration;

use common::fault_proxy::{Fault, FaultProxy};
use common::image::{self, OCI_MANIFEST};
use common::registry::{self, Options, Registry};
use minotaur_registry::{Client, PushError, Reference, RetryPolicy};
use oci_spec::image::MediaType;

const CHUNK: u64 = 64 << 10;

fn client(attempts: u32) -> Client {
    Client::builder()
        .retry(RetryPolicy {
            attempts,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
        })
        .build()
}

/// A registry and a proxy in front of it, or `None` after saying why the test is skipped.
fn setup() -> Option<(Registry, FaultProxy)> {
    if !registry::available() {
        return None;
    }
    let registry = Registry::start(Options::default());
    let proxy = FaultProxy::start(&registry.host);
    Some((registry, proxy))
}

/// The `Content-Range`s of the `PATCH`es the proxy saw, in order.
fn patches(proxy: &FaultProxy) -> Vec<String> {
    proxy
        .requests()
        .iter()
        .filter(|r| r.starts_with("PATCH "))
        .map(|r| r.rsplit(' ').next().unwrap().to_string())
        .collect()
}

/// The `Content-Range`s that cover `len` bytes in chunks of `CHUNK`, from `from`.
fn ranges(from: u64, len: u64) -> Vec<String> {
    (from..len)
        .step_by(CHUNK as usize)
        .map(|start| format!("{start}-{}", (start + CHUNK).min(len) - 1))
        .collect()
}

#[test]
fn a_big_image_goes_in_chunks_and_pulls_back_with_the_same_digests() {
    let Some((_registry, proxy)) = setup() else {
        return;
    };
    let client = client(3);
    let img = image::image(7, "amd64", 300 << 10);
    let r: Reference = format!("{}/big/app:1", proxy.host).parse().unwrap();
    for blob in img.layers.iter().chain([&img.config]) {
        client
            .push_blob_in_chunks(
                r.repository(),
                &blob.descriptor,
                &mut Cursor::new(&blob.bytes),
                CHUNK,
            )
            .unwrap();
    }
    let expected: Vec<String> = img
        .layers
        .iter()
        .chain([&img.config])
        .flat_map(|b| ranges(0, b.bytes.len() as u64))
        .collect();
    assert!(
        img.layers[0].bytes.len() as u64 > 3 * CHUNK,
        "the layers must need several chunks"
    );
    assert_eq!(patches(&proxy), expected);
    let closes = proxy
        .requests()
        .iter()
        .filter(|r| r.starts_with("PUT ") && r.contains("digest=sha256%3A"))
        .count();
    assert_eq!(closes, 3, "{:?}", proxy.requests());
    assert_eq!(
        client
            .push_manifest(&r, OCI_MANIFEST, &img.manifest)
            .unwrap(),
        img.digest()
    );

    let resolved = client.resolve(&r, &"linux/amd64".parse().unwrap()).unwrap();
    assert_eq!(resolved.digest, img.digest());
    assert_eq!(resolved.config, img.config.bytes);
    for (layer, want) in resolved.manifest.layers().iter().zip(&img.layers) {
        assert_eq!(layer.digest(), want.descriptor.digest());
        let mut got = Vec::new();
        client
            .blob(r.repository(), layer)
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        assert!(got == want.bytes, "layer {} differs", layer.digest());
    }
}

#[test]
fn a_failed_chunk_resumes_where_the_registry_stands() {
    let Some((_registry, proxy)) = setup() else {
        return;
    };
    let client = client(4);
    let layer = image::blob(
        image::noise(11, 5 * CHUNK as usize + 123),
        MediaType::ImageLayerGzip,
    );
    let len = layer.bytes.len() as u64;
    let r: Reference = format!("{}/resumed:1", proxy.host).parse().unwrap();
    // The third chunk is answered 503 without reaching the registry, the next attempt 416; then it goes.
    proxy.add_after("PATCH ", 2, Fault::Status(503, 0), 1);
    proxy.add("PATCH ", Fault::Status(416, 0), 1);
    client
        .push_blob_in_chunks(
            r.repository(),
            &layer.descriptor,
            &mut Cursor::new(&layer.bytes),
            CHUNK,
        )
        .unwrap();
    let all = ranges(0, len);
    // The third chunk three times (503, 416, taken); nothing before it again.
    let mut expected = all[..3].to_vec();
    expected.extend(all[2..3].iter().cloned());
    expected.extend(all[2..].iter().cloned());
    assert_eq!(patches(&proxy), expected, "{:?}", proxy.requests());
    let statuses: Vec<String> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("GET ") && r.contains("/blobs/uploads/"))
        .collect();
    assert_eq!(statuses.len(), 2, "{:?}", proxy.requests());

    let mut got = Vec::new();
    client
        .blob(r.repository(), &layer.descriptor)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert!(got == layer.bytes);
}

#[test]
fn a_chunk_that_keeps_failing_fails_the_upload_naming_the_offset() {
    let Some((_registry, proxy)) = setup() else {
        return;
    };
    let client = client(3);
    let layer = image::blob(
        image::noise(12, 3 * CHUNK as usize),
        MediaType::ImageLayerGzip,
    );
    let r: Reference = format!("{}/stuck:1", proxy.host).parse().unwrap();
    // The second chunk is refused however often it is sent.
    proxy.add_after("PATCH ", 1, Fault::Status(503, 0), 100);
    let err = client
        .push_blob_in_chunks(
            r.repository(),
            &layer.descriptor,
            &mut Cursor::new(&layer.bytes),
            CHUNK,
        )
        .unwrap_err();
    let PushError::Stuck { .. } = &err else {
        panic!("{err:?}")
    };
    let shown = err.to_string();
    assert!(shown.contains(&format!("at byte {CHUNK}")), "{shown}");
}

/// A `416` whose `Range` says where the registry stands is followed without asking for the status.
#[test]
fn a_416_with_a_range_goes_on_where_it_says() {
    let Some((_registry, proxy)) = setup() else {
        return;
    };
    let client = client(3);
    let layer = image::blob(
        image::noise(15, 4 * CHUNK as usize),
        MediaType::ImageLayerGzip,
    );
    let len = layer.bytes.len() as u64;
    let r: Reference = format!("{}/ranged:1", proxy.host).parse().unwrap();
    // The third chunk is refused with the registry's true position, two chunks.
    proxy.add_after("PATCH ", 2, Fault::Answer(416, "Range: 0-131071"), 1);
    assert_eq!(CHUNK, 65536);
    client
        .push_blob_in_chunks(
            r.repository(),
            &layer.descriptor,
            &mut Cursor::new(&layer.bytes),
            CHUNK,
        )
        .unwrap();
    let all = ranges(0, len);
    let mut expected = all[..3].to_vec();
    expected.extend(all[2..].iter().cloned());
    let requests = proxy.requests();
    assert_eq!(patches(&proxy), expected, "{requests:?}");
    assert!(
        !requests.iter().any(|r| r.starts_with("GET ")),
        "{requests:?}"
    );
    let mut got = Vec::new();
    client
        .blob(r.repository(), &layer.descriptor)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert!(got == layer.bytes);
}

/// A registry that claims more bytes than the blob has gets no closing `PUT`.
#[test]
fn a_range_past_the_end_is_an_error() {
    let Some((_registry, proxy)) = setup() else {
        return;
    };
    let layer = image::blob(
        image::noise(16, 2 * CHUNK as usize),
        MediaType::ImageLayerGzip,
    );
    let r: Reference = format!("{}/past:1", proxy.host).parse().unwrap();
    proxy.add("PATCH ", Fault::Answer(416, "Range: 0-999999"), 1);
    let err = client(3)
        .push_blob_in_chunks(
            r.repository(),
            &layer.descriptor,
            &mut Cursor::new(&layer.bytes),
            CHUNK,
        )
        .unwrap_err();
    let PushError::BadRange { range, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(range, "0-999999");
    let requests = proxy.requests();
    assert!(
        !requests.iter().any(|r| r.starts_with("PUT ")),
        "{requests:?}"
    );
}

/// distribution forgets an upload asked about through a location older than its last chunk: the upload
/// starts again, and still arrives whole.
#[test]
fn a_chunk_whose_answer_was_lost_starts_the_upload_again() {
    let Some((_registry, proxy)) = setup() else {
        return;
    };
    let client = client(4);
    let layer = image::blob(
        image::noise(13, 4 * CHUNK as usize + 7),
        MediaType::ImageLayerGzip,
    );
    let len = layer.bytes.len() as u64;
    let r: Reference = format!("{}/lost:1", proxy.host).parse().unwrap();
    // The registry takes the second chunk, but the client hears 502.
    proxy.add_after("PATCH ", 1, Fault::LoseAnswer(502), 1);
    client
        .push_blob_in_chunks(
            r.repository(),
            &layer.descriptor,
            &mut Cursor::new(&layer.bytes),
            CHUNK,
        )
        .unwrap();
    let mut expected = ranges(0, len)[..2].to_vec();
    expected.extend(ranges(0, len));
    assert_eq!(patches(&proxy), expected, "{:?}", proxy.requests());
    let starts = proxy
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST "))
        .count();
    assert_eq!(starts, 2, "{:?}", proxy.requests());
    let mut got = Vec::new();
    client
        .blob(r.repository(), &layer.descriptor)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert!(got == layer.bytes);
}

#[test]
fn content_shorter_than_its_descriptor_is_an_error_naming_the_blob() {
    let Some((_registry, proxy)) = setup() else {
        return;
    };
    let layer = image::blob(
        image::noise(14, 3 * CHUNK as usize),
        MediaType::ImageLayerGzip,
    );
    let r: Reference = format!("{}/short:1", proxy.host).parse().unwrap();
    let short = &layer.bytes[..CHUNK as usize + 100];
    let err = client(3)
        .push_blob_in_chunks(
            r.repository(),
            &layer.descriptor,
            &mut Cursor::new(short),
            CHUNK,
        )
        .unwrap_err();
    let PushError::Content { digest, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(digest, layer.descriptor.digest().as_ref());
    // The first chunk went whole; the short second one was given up at once (the proxy logs a request
    // only once it has its whole body), with no status asked and no new upload started.
    let requests = proxy.requests();
    assert_eq!(patches(&proxy), ranges(0, CHUNK), "{requests:?}");
    assert!(
        requests
            .iter()
            .all(|r| r.starts_with("PATCH ") || r == "POST /v2/short/blobs/uploads/"),
        "{requests:?}"
    );
    assert_eq!(requests.len(), 2, "{requests:?}");
}
