//! Image decoding with hard limits (a header claiming 100000×100000 pixels is
//! refused before any allocation), EXIF orientation applied, and a JPEG
//! thumbnail for the UI.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use crate::error::{io_err, PipelineError, Result};

pub const MAX_SIDE: u32 = 20_000;
pub const MAX_ALLOC: u64 = 512 << 20;
pub const THUMB_SIDE: u32 = 320;

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

pub fn thumbnail_jpeg(img: &DynamicImage) -> Result<Vec<u8>> {
    let t = img.thumbnail(THUMB_SIDE, THUMB_SIDE).to_rgb8();
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82);
    t.write_with_encoder(enc).map_err(|e| PipelineError::Unsupported(format!("thumbnail: {e}")))?;
    Ok(out)
}
