//! Image preprocessing for ImageNet-style encoders: resize the short side,
//! centre-crop, scale to [0,1], normalise per channel, lay out as CHW.
//! Runs on the caller's thread so decoding overlaps with inference.

use image::imageops::FilterType;
use image::DynamicImage;

use crate::manifest::Manifest;

#[derive(Debug, Clone)]
pub struct ImagePrep {
    pub resize_short: u32,
    pub crop: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub filter: FilterType,
}

/// One preprocessed image, `3 × crop × crop` floats in CHW order.
#[derive(Debug, Clone)]
pub struct Preprocessed {
    pub data: Vec<f32>,
    pub side: u32,
}

impl ImagePrep {
    pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
    pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

    pub fn from_manifest(m: &Manifest) -> Self {
        let filter = match m.preprocess.get("interpolation").and_then(|v| v.as_str()) {
            Some("bicubic") => FilterType::CatmullRom,
            Some("nearest") => FilterType::Nearest,
            _ => FilterType::Triangle,
        };
        ImagePrep {
            resize_short: m.pre_f64("resize_short", 256.0) as u32,
            crop: m.pre_f64("crop", 224.0) as u32,
            mean: m.pre_vec3("mean", Self::IMAGENET_MEAN),
            std: m.pre_vec3("std", Self::IMAGENET_STD),
            filter,
        }
    }

    pub fn prepare(&self, img: &DynamicImage) -> Preprocessed {
        self.prepare_keep_resized(img).0
    }

    /// Also returns the resized (uncropped) RGB image, a ready-made source for a thumbnail.
    pub fn prepare_keep_resized(&self, img: &DynamicImage) -> (Preprocessed, image::RgbImage) {
        let rgb = match img {
            DynamicImage::ImageRgb8(b) => std::borrow::Cow::Borrowed(b),
            other => std::borrow::Cow::Owned(other.to_rgb8()),
        };
        // A 16000×1 strip would otherwise be resized to 4 million × 256
        // pixels. The encoder only sees the centre crop, so cropping the
        // source to a bounded aspect ratio first changes nothing it sees and
        // bounds the work and memory of any image to that of a 3:1 one.
        let rgb = crop_aspect(rgb, MAX_ASPECT);
        let (w, h) = rgb.dimensions();
        // As torchvision: the short side becomes `resize_short`, the long side is floored.
        let short = w.min(h).max(1) as u64;
        let r = self.resize_short as u64;
        let nw = ((w as u64 * r / short) as u32).max(self.crop);
        let nh = ((h as u64 * r / short) as u32).max(self.crop);
        let resized = resize(&rgb, nw, nh, self.filter);
        let x0 = (nw - self.crop) / 2;
        let y0 = (nh - self.crop) / 2;
        let side = self.crop as usize;
        let plane = side * side;
        let mut data = vec![0f32; 3 * plane];
        for y in 0..side {
            for x in 0..side {
                let p = resized.get_pixel(x0 + x as u32, y0 + y as u32);
                for c in 0..3 {
                    data[c * plane + y * side + x] = (p[c] as f32 / 255.0 - self.mean[c]) / self.std[c];
                }
            }
        }
        (Preprocessed { data, side: self.crop }, resized)
    }
}

/// Longest side over shortest side kept before resizing.
pub const MAX_ASPECT: u32 = 3;

fn crop_aspect(rgb: std::borrow::Cow<'_, image::RgbImage>, max: u32) -> std::borrow::Cow<'_, image::RgbImage> {
    let (w, h) = rgb.dimensions();
    let short = w.min(h).max(1);
    if w.max(h) <= short.saturating_mul(max) {
        return rgb;
    }
    let long = short.saturating_mul(max);
    let (x, y, cw, ch) = if w > h { ((w - long) / 2, 0, long, h) } else { (0, (h - long) / 2, w, long) };
    std::borrow::Cow::Owned(image::imageops::crop_imm(rgb.as_ref(), x, y, cw, ch).to_image())
}

/// SIMD resize (fast_image_resize); convolution filters are antialiased when
/// shrinking, like Pillow's, which the reference preprocessing uses.
fn resize(src: &image::RgbImage, nw: u32, nh: u32, filter: FilterType) -> image::RgbImage {
    use fast_image_resize as fr;
    let alg = match filter {
        FilterType::Nearest => fr::ResizeAlg::Nearest,
        FilterType::CatmullRom | FilterType::Gaussian => fr::ResizeAlg::Convolution(fr::FilterType::CatmullRom),
        FilterType::Lanczos3 => fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3),
        FilterType::Triangle => fr::ResizeAlg::Convolution(fr::FilterType::Bilinear),
    };
    let (w, h) = src.dimensions();
    let fast = fr::images::ImageRef::new(w, h, src.as_raw(), fr::PixelType::U8x3).ok().and_then(|view| {
        let mut dst = fr::images::Image::new(nw, nh, fr::PixelType::U8x3);
        fr::Resizer::new().resize(&view, &mut dst, &fr::ResizeOptions::new().resize_alg(alg)).ok()?;
        image::RgbImage::from_raw(nw, nh, dst.into_vec())
    });
    fast.unwrap_or_else(|| image::imageops::resize(src, nw, nh, filter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_chw_normalised_centre_crop() {
        let prep = ImagePrep { resize_short: 8, crop: 4, mean: [0.5; 3], std: [0.5; 3], filter: FilterType::Triangle };
        // 16x8 image, left half black, right half white, pure red channel only.
        let img = image::RgbImage::from_fn(16, 8, |x, _| if x < 8 { image::Rgb([0, 0, 0]) } else { image::Rgb([255, 0, 0]) });
        let out = prep.prepare(&DynamicImage::ImageRgb8(img));
        assert_eq!(out.data.len(), 3 * 16);
        // Resized to 16x8 → crop columns 6..10: left two black (-1), right two red (+1) in channel 0.
        assert!((out.data[0] + 1.0).abs() < 0.3, "{}", out.data[0]);
        assert!((out.data[3] - 1.0).abs() < 0.3, "{}", out.data[3]);
        // Green channel is all -1.
        assert!(out.data[16..32].iter().all(|v| (v + 1.0).abs() < 1e-6));
    }

    #[test]
    fn extreme_strips_are_cropped_before_resizing() {
        let prep = ImagePrep { resize_short: 256, crop: 224, mean: [0.0; 3], std: [1.0; 3], filter: FilterType::Triangle };
        for (w, h) in [(16000, 1), (1, 16000), (5000, 3)] {
            let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 10, 10]));
            let (out, resized) = prep.prepare_keep_resized(&DynamicImage::ImageRgb8(img));
            assert_eq!(out.data.len(), 3 * 224 * 224);
            let (rw, rh) = resized.dimensions();
            assert!(rw.max(rh) <= 256 * MAX_ASPECT && rw.min(rh) == 256, "{w}x{h} resized to {rw}x{rh}");
        }
        // The encoder sees (nearly) what it saw before: compare with resizing
        // the whole 2000×300 image and taking its centre crop.
        let img = image::RgbImage::from_fn(2000, 300, |x, y| image::Rgb([(x / 8) as u8, (y / 2) as u8, ((x + y) / 10) as u8]));
        let new = prep.prepare(&DynamicImage::ImageRgb8(img.clone()));
        let whole = resize(&img, 2000 * 256 / 300, 256, FilterType::Triangle);
        let (x0, y0) = ((whole.width() - 224) / 2, (whole.height() - 224) / 2);
        let mut worst = 0f32;
        for y in 0..224 {
            for x in 0..224 {
                let p = whole.get_pixel(x0 + x, y0 + y);
                for c in 0..3 {
                    let old = p[c] as f32 / 255.0;
                    worst = worst.max((old - new.data[c * 224 * 224 + (y * 224 + x) as usize]).abs());
                }
            }
        }
        assert!(worst < 0.02, "centre crop moved by {worst}");
    }
}
