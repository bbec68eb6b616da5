//! `decode::detect`: content sniffing (magic numbers) plus extension.
//! The first byte picks a file name (extension) from a small list; the rest
//! is the file head.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pith_pipeline::decode::{detect, Detected};

const NAMES: &[&str] = &[
    "notes",
    "a.txt",
    "page.html",
    "PAGE.HTM",
    "readme.md",
    "photo.jpg",
    "photo.png",
    "data.bin",
    "main.rs",
    "x.json",
    "archive.tar.gz",
    ".hidden",
    "Makefile",
    "résumé.TXT",
    "файл.htm",
    "写真.jpeg",
    "שלום.txt",
    "😀.md",
    "dir/sub/file.",
    "no\u{a0}break.csv",
];

fuzz_target!(|data: &[u8]| {
    let (name, head) = match data.split_first() {
        Some((&b, rest)) => (NAMES[b as usize % NAMES.len()], rest),
        None => ("notes", data),
    };
    let d = detect(Path::new(name), head);
    // Deterministic, and a byte-order mark always means text or HTML.
    assert_eq!(d, detect(Path::new(name), head));
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        assert!(matches!(d, Detected::Html | Detected::Text), "{d:?}");
    }
});
