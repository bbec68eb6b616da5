//! `decode::image::decode_bytes` (the upload path, same limits as ingest),
//! then preprocessing and the JPEG thumbnail on what decodes.
#![no_main]

use image::imageops::FilterType;
use libfuzzer_sys::fuzz_target;
use pith_models::ImagePrep;
use pith_pipeline::decode::image::{decode_bytes, thumbnail_jpeg, MAX_PIXELS, MAX_SIDE};

fuzz_target!(|data: &[u8]| {
    let Ok(img) = decode_bytes(data) else { return };
    let (w, h) = (img.width(), img.height());
    assert!(w > 0 && h > 0 && w <= MAX_SIDE && h <= MAX_SIDE && w as u64 * h as u64 <= MAX_PIXELS, "{w}x{h}");
    // Small sizes keep an iteration fast; the code path is the same as 256/224.
    let prep = ImagePrep {
        resize_short: 64,
        crop: 56,
        mean: ImagePrep::IMAGENET_MEAN,
        std: ImagePrep::IMAGENET_STD,
        filter: FilterType::Triangle,
    };
    let (pre, resized) = prep.prepare_keep_resized(&img);
    assert_eq!(pre.side, 56);
    assert_eq!(pre.data.len(), 3 * 56 * 56);
    assert!(pre.data.iter().all(|v| v.is_finite()));
    assert!(resized.width() >= 56 && resized.height() >= 56, "{}x{}", resized.width(), resized.height());
    let jpeg = thumbnail_jpeg(&resized).expect("thumbnail of a resized image");
    assert!(jpeg.starts_with(&[0xFF, 0xD8]));
    // The thumbnail's own shrink path (> 512 px) on the decoded image itself,
    // when small enough to stay fast.
    if w as u64 * h as u64 <= 1 << 20 {
        let _ = thumbnail_jpeg(&img.to_rgb8());
    }
});
