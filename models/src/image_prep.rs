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
        let prep = ImagePrep {
            resize_short: 8,
            crop: 4,
            mean: [0.5; 3],
            std: [0.5; 3],
            filter: FilterType::Triangle,
        };
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
}
