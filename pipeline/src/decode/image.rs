//! Image decoding with hard limits (a header claiming 100000×100000 pixels is
//! refused before any allocation), EXIF orientation applied, and a JPEG
//! thumbnail for the UI.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use crate::error::{io_err, PipelineError, Result};

pub const MAX_SIDE: u32 = 20_000;
pub const MAX_ALLOC: u64 = 512 << 20;
pub const THUMB_SIDE: u32 = 256;

pub fn decode(path: &Path, mime: &str) -> Result<DynamicImage> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    if mime == "image/jpeg" {
        check_jpeg_complete(&mut file).map_err(io_err(path))?.then_some(()).ok_or_else(|| {
            PipelineError::Unsupported("truncated JPEG (no end-of-image marker)".into())
        })?;
        file.seek(SeekFrom::Start(0)).map_err(io_err(path))?;
    }
    let mut reader = ImageReader::new(BufReader::new(file)).with_guessed_format().map_err(io_err(path))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let bad = |e: image::ImageError| PipelineError::Unsupported(format!("cannot decode image: {e}"));
    let mut decoder = reader.into_decoder().map_err(bad)?;
    let orientation = decoder.orientation().map_err(bad)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(bad)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// A JPEG must end with FFD9 (ignoring trailing padding); decoders otherwise
/// happily return a half-grey picture for a truncated file.
fn check_jpeg_complete(f: &mut std::fs::File) -> std::io::Result<bool> {
    let len = f.seek(SeekFrom::End(0))?;
    let n = len.min(4096);
    f.seek(SeekFrom::End(-(n as i64)))?;
    let mut tail = vec![0u8; n as usize];
    f.read_exact(&mut tail)?;
    while tail.last().is_some_and(|&b| b == 0 || b == b'\n' || b == b'\r' || b == b' ') {
        tail.pop();
    }
    Ok(tail.windows(2).rev().take(64).any(|w| w == [0xFF, 0xD9]))
}

/// JPEG thumbnail from an image already shrunk for the encoder (short side
/// 256); only larger ones are shrunk again.
pub fn thumbnail_jpeg(img: &image::RgbImage) -> Result<Vec<u8>> {
    let shrunk;
    let t = if img.width().max(img.height()) > 2 * THUMB_SIDE {
        shrunk = image::imageops::thumbnail(img, THUMB_SIDE * 2, THUMB_SIDE * 2);
        &shrunk
    } else {
        img
    };
    // jpeg-encoder (SIMD) is several times faster than the image crate's encoder.
    let mut out = Vec::new();
    let (w, h) = t.dimensions();
    jpeg_encoder::Encoder::new(&mut out, 82)
        .encode(t.as_raw(), w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| PipelineError::Unsupported(format!("thumbnail: {e}")))?;
    Ok(out)
}
