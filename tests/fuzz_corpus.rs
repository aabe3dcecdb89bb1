//! Replays every kept fuzz input (fuzz/corpus/<target>/ and the crash reproducers in
//! fuzz/regressions/<target>/) through the same checks the fuzz targets run, so a fixed crash
//! stays fixed in plain `cargo test` on stable Rust.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in [
        root.join("corpus").join(target),
        root.join("regressions").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "{target}: {} fails its check",
                file.display()
            );
            count += 1;
        }
    }
    count
}

#[test]
fn eventstream_corpus() {
    assert!(replay("eventstream", checks::eventstream) > 0);
}

#[test]
fn request_corpus() {
    assert!(replay("request", checks::request) > 0);
}

#[test]
fn stream_corpus() {
    assert!(replay("stream", checks::stream) > 0);
}

#[test]
fn model_path_corpus() {
    assert!(replay("model_path", checks::model_path) > 0);
}
