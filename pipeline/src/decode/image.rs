//! Image decoding with hard limits, shared by ingest and the upload endpoint:
//! sides, total pixels and allocations are checked from the header before
//! any pixel buffer exists (a 172-byte PNG claiming 100000×100000 is refused
//! at once), EXIF orientation applied, and a JPEG thumbnail for the UI.
//! Extreme aspect ratios are not refused: preprocessing crops them (see
//! `pith_models::image_prep`), so they cost no more than a square image.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use crate::error::{io_err, PipelineError, Result};

pub const MAX_SIDE: u32 = 20_000;
/// Total pixels of the decoded frame: a 50-megapixel phone photo passes, a
/// decompression bomb (a few KB of PNG claiming 20000×20000) does not.
pub const MAX_PIXELS: u64 = 52_000_000;
pub const MAX_ALLOC: u64 = 512 << 20;
pub const THUMB_SIDE: u32 = 256;

/// Decode a file whose content sniffed as `mime`.
pub fn decode(path: &Path, mime: &str) -> Result<DynamicImage> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    if mime == "image/jpeg" {
        let len = file.seek(SeekFrom::End(0)).map_err(io_err(path))?;
        let n = len.min(4096);
        file.seek(SeekFrom::End(-(n as i64))).map_err(io_err(path))?;
        let mut tail = vec![0u8; n as usize];
        file.read_exact(&mut tail).map_err(io_err(path))?;
        check_jpeg_complete(&tail)?;
        file.seek(SeekFrom::Start(0)).map_err(io_err(path))?;
    }
    let reader = ImageReader::new(BufReader::new(file)).with_guessed_format().map_err(io_err(path))?;
    decode_reader(reader)
}

/// Decode an uploaded image under exactly the limits a file on disk gets.
pub fn decode_bytes(bytes: &[u8]) -> Result<DynamicImage> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        check_jpeg_complete(&bytes[bytes.len().saturating_sub(4096)..])?;
    }
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PipelineError::Unsupported(format!("unreadable image: {e}")))?;
    decode_reader(reader)
}

/// The one decoding path: dimensions are checked from the header before any
/// pixel buffer exists; only the first frame of an animation is decoded, so
/// a 10,000-frame GIF costs one frame.
fn decode_reader<R: std::io::BufRead + Seek>(mut reader: ImageReader<R>) -> Result<DynamicImage> {
    if reader.format().is_none() {
        return Err(PipelineError::Unsupported("not an image format pith can decode".into()));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let bad = |e: image::ImageError| PipelineError::Unsupported(format!("cannot decode image: {e}"));
    let mut decoder = reader.into_decoder().map_err(bad)?;
    let (w, h) = decoder.dimensions();
    check_dimensions(w, h)?;
    let orientation = decoder.orientation().map_err(bad)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(bad)?;
    img.apply_orientation(orientation);
    Ok(img)
}

pub fn check_dimensions(w: u32, h: u32) -> Result<()> {
    if w == 0 || h == 0 {
        return Err(PipelineError::Unsupported(format!("image has no pixels ({w}×{h})")));
    }
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(PipelineError::Unsupported(format!("image is {w}×{h}; sides above {MAX_SIDE} pixels are refused")));
    }
    if w as u64 * h as u64 > MAX_PIXELS {
        return Err(PipelineError::Unsupported(format!(
            "image is {w}×{h} ({} megapixels); more than {} megapixels are refused",
            w as u64 * h as u64 / 1_000_000,
            MAX_PIXELS / 1_000_000
        )));
    }
    Ok(())
}

/// A JPEG must end with FFD9 (ignoring trailing padding); decoders otherwise
/// happily return a half-grey picture for a truncated file.
fn check_jpeg_complete(tail: &[u8]) -> Result<()> {
    let mut end = tail.len();
    while end > 0 && matches!(tail[end - 1], 0 | b'\n' | b'\r' | b' ') {
        end -= 1;
    }
    if tail[..end].windows(2).rev().take(64).any(|w| w == [0xFF, 0xD9]) {
        Ok(())
    } else {
        Err(PipelineError::Unsupported("truncated JPEG (no end-of-image marker)".into()))
    }
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
