//! Pulling through a proxy that breaks things: cut connections, stalls, 503 and 429 with `Retry-After`, a
//! flipped byte, and a server that answers a range request with the whole blob.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::fault_proxy::{Fault, FaultProxy};
use common::image::{self, TestImage};
use common::registry::{self, Options, Registry};
use minotaur_registry::{BlobError, Client, ClientError, Platform, Reference, RetryPolicy};

const LAYER: usize = 256 << 10;

/// A registry with an image pushed to it, and a fault proxy in front of it.
fn setup() -> Option<(Registry, FaultProxy, TestImage, Reference)> {
    if !registry::available() {
        return None;
    }
    let registry = Registry::start(Options::default());
    let img = image::image(50, "amd64", LAYER);
    img.push(
        &Client::builder().build(),
        &format!("{}/app:1", registry.host).parse().unwrap(),
    );
    let proxy = FaultProxy::start(&registry.host);
    let through_proxy = format!("{}/app:1", proxy.host).parse().unwrap();
    Some((registry, proxy, img, through_proxy))
}

fn client() -> Client {
    Client::builder()
        .stall_timeout(Duration::from_millis(500))
        .retry(RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_secs(2),
        })
        .build()
}

fn pull_layer(client: &Client, img: &TestImage, r: &Reference) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    client
        .blob(r.repository(), &img.layers[0].descriptor)
        .unwrap()
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn range_requests(proxy: &FaultProxy) -> Vec<String> {
    proxy
        .requests()
        .into_iter()
        .filter(|r| r.contains("bytes="))
        .collect()
}

#[test]
fn a_cut_connection_resumes_with_a_range() {
    let Some((_registry, proxy, img, r)) = setup() else {
        return;
    };
    proxy.add("/blobs/", Fault::CutAfter(10_000), 1);
    proxy.add("/blobs/", Fault::CutAfter(50_000), 1);
    let bytes = pull_layer(&client(), &img, &r).unwrap();
    assert!(bytes == img.layers[0].bytes);
    let ranges = range_requests(&proxy);
    assert_eq!(ranges.len(), 2, "{ranges:?}");
    assert!(ranges[0].ends_with("bytes=10000-"), "{ranges:?}");
    assert!(ranges[1].ends_with("bytes=60000-"), "{ranges:?}");
}

#[test]
fn a_stalled_connection_is_dropped_and_resumed() {
    let Some((_registry, proxy, img, r)) = setup() else {
        return;
    };
    proxy.add("/blobs/", Fault::Stall(20_000), 1);
    let start = Instant::now();
    let bytes = pull_layer(&client(), &img, &r).unwrap();
    assert!(bytes == img.layers[0].bytes);
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "resumed before the stall timeout"
    );
    assert_eq!(range_requests(&proxy).len(), 1, "{:?}", proxy.requests());
}

#[test]
fn a_range_answered_with_the_whole_blob_skips_the_prefix() {
    let Some((_registry, proxy, img, r)) = setup() else {
        return;
    };
    proxy.add("/blobs/", Fault::CutAfter(30_000), 1);
    proxy.add("/blobs/", Fault::IgnoreRange, 1);
    let bytes = pull_layer(&client(), &img, &r).unwrap();
    assert!(bytes == img.layers[0].bytes);
    assert_eq!(range_requests(&proxy).len(), 1, "{:?}", proxy.requests());
}

#[test]
fn a_flipped_byte_is_a_digest_mismatch() {
    let Some((_registry, proxy, img, r)) = setup() else {
        return;
    };
    proxy.add("/blobs/", Fault::FlipByte(1000), 1);
    let err = BlobError::from_io(pull_layer(&client(), &img, &r).unwrap_err());
    let digest = img.layers[0].descriptor.digest().to_string();
    assert!(
        matches!(&err, BlobError::DigestMismatch { expected, .. } if *expected == digest),
        "{err}"
    );
    assert!(err
        .to_string()
        .starts_with(&format!("digest mismatch for blob {digest}: got sha256:")));
}

#[test]
fn busy_answers_are_retried_after_retry_after() {
    let Some((_registry, proxy, img, r)) = setup() else {
        return;
    };
    proxy.add("/manifests/", Fault::Status(503, 1), 1);
    proxy.add("/manifests/", Fault::Status(429, 1), 1);
    let start = Instant::now();
    let resolved = client().resolve(&r, &Platform::host()).unwrap();
    assert_eq!(resolved.digest, img.digest());
    // Both waits were the one asked for, not the 20 ms backoff.
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_registry_that_stays_busy_is_an_error_after_bounded_retries() {
    let Some((_registry, proxy, _img, r)) = setup() else {
        return;
    };
    proxy.add("/manifests/", Fault::Status(503, 0), 100);
    let err = client().resolve(&r, &Platform::host()).unwrap_err();
    assert!(matches!(err, ClientError::Transport(_)), "{err}");
    assert!(
        err.to_string().contains("answered 503 to manifest"),
        "{err}"
    );
    let attempts = proxy
        .requests()
        .iter()
        .filter(|r| r.contains("/manifests/"))
        .count();
    assert_eq!(attempts, 5);
}
