//! `decode::text`: BOM / UTF-8 / chardetng decoding, HTML to text, titles.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pith_pipeline::decode::text::{decode_bytes, html_to_text, title_of};

fuzz_target!(|data: &[u8]| {
    let mut notes = Vec::new();
    let text = decode_bytes(data.to_vec(), &mut notes);
    // Valid UTF-8 without a BOM comes back unchanged and without notes.
    if let Ok(s) = std::str::from_utf8(data) {
        let bom = data.starts_with(&[0xEF, 0xBB, 0xBF]) || data.starts_with(&[0xFF, 0xFE]) || data.starts_with(&[0xFE, 0xFF]);
        if !bom {
            assert_eq!(text, s);
            assert!(notes.is_empty(), "{notes:?}");
        }
    }
    let plain = html_to_text(&text);
    let lossy = String::from_utf8_lossy(data);
    let plain2 = html_to_text(&lossy);
    for t in [&text, &plain, &plain2] {
        let title = title_of(t, Path::new("dir/fallback name.txt"));
        assert!(title.len() <= 120 || title == "fallback name.txt", "{title:?}");
    }
});
