//! Free space: the estimate of a pull, and the error when it does not fit.

mod common;

use std::fs;

use common::layer;
use minotaur_image::{human_size, SpaceError, Store, EXPANSION};

#[test]
fn a_pull_that_does_not_fit_fails_saying_need_and_have() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    store.check_space(0).unwrap();
    let have = store.space_available().unwrap();
    let e = store.check_space(have + 1_000_000_000).unwrap_err();
    assert!(matches!(e, SpaceError::NotEnough { .. }), "{e:?}");
    let msg = e.to_string();
    let expected = format!("need {}, have ", human_size(have + 1_000_000_000));
    assert!(msg.contains(&expected), "{msg}");
    assert!(msg.contains(&store.dir().display().to_string()), "{msg}");
}

#[test]
fn the_estimate_counts_only_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let gz = layer("gz", "gzip");
    let plain = layer("plain", "none");
    let descs = [gz.desc.clone(), plain.desc.clone()];
    let (g, p) = (gz.desc.size, plain.desc.size);
    assert_eq!(store.space_needed(&descs), g * (1 + EXPANSION) + 2 * p);
    // A partial file's bytes are already on disk.
    fs::write(store.partial_path(&gz.desc.digest), &gz.blob[..100]).unwrap();
    assert_eq!(store.space_needed(&descs), g - 100 + g * EXPANSION + 2 * p);
    store
        .ingest_layer(
            &gz.desc,
            &Default::default(),
            |o| Ok(&gz.blob[o as usize..]),
            &|_| {},
        )
        .unwrap();
    assert_eq!(store.space_needed(&descs), 2 * p);
}
