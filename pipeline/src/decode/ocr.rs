//! Text in images: Tesseract (Debian's `tesseract-ocr`, the CLI) on photos
//! and scanned pages, behind a cheap test so holiday photos never pay for it.
//!
//! Why the CLI and not a binding: each run is its own process, so a page that
//! makes Tesseract spin is killed at the per-file time limit without taking
//! pith with it, and no C++ library is linked into the binary. At most
//! `MAX_RUNNING` recognisers run at once (each single-threaded), whatever the
//! number of decode threads waiting on them.
//!
//! The test (`looks_like_text`) binarises a ≤1024 px grey copy (Otsu), finds
//! the connected components of the minority colour, keeps those shaped like
//! glyphs, and counts the glyphs that have a neighbour of similar height on
//! the same baseline a glyph-width away: printed lines have dozens, a photo's
//! texture a few.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use image::{DynamicImage, GrayImage};
use serde::{Deserialize, Serialize};

/// When to run OCR on photos (scanned PDF pages are always read when the
/// recogniser is installed and `mode` is not `off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OcrMode {
    /// Images that pass the text test.
    #[default]
    Auto,
    /// Every image.
    All,
    /// Never.
    Off,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OcrConfig {
    pub mode: OcrMode,
    /// Tesseract language(s), e.g. `eng` or `eng+deu`.
    pub lang: String,
    /// Per-file limit for one recognition, seconds.
    pub timeout_s: f64,
    /// Words recognised with less confidence (0–100) are dropped.
    pub min_confidence: f32,
}

impl Default for OcrConfig {
    fn default() -> Self {
        OcrConfig { mode: OcrMode::Auto, lang: "eng".into(), timeout_s: 60.0, min_confidence: 30.0 }
    }
}

/// What the recogniser found.
#[derive(Debug, Clone, Default)]
pub struct Recognised {
    /// Lines joined by newlines, paragraphs by blank lines.
    pub text: String,
    pub words: usize,
    /// Mean word confidence (0–100) of the words kept.
    pub confidence: f32,
}

const MAX_RUNNING: usize = 2;

/// Whether the `tesseract` CLI can be run (checked once).
pub fn available() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| Command::new("tesseract").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok())
}

/// Recognise the text in an image file Tesseract can read (PNG, JPEG, TIFF...).
pub fn recognize_file(path: &Path, cfg: &OcrConfig) -> Result<Recognised, String> {
    if !available() {
        return Err("OCR needs Tesseract: apt-get install tesseract-ocr tesseract-ocr-eng".into());
    }
    let _slot = Slot::take();
    let mut cmd = Command::new("tesseract");
    cmd.arg(path).arg("stdout").args(["-l", &cfg.lang, "--psm", "3", "tsv"]).env("OMP_THREAD_LIMIT", "1");
    // The limit message says "OCR timed out after N s" (what `pith status` shows).
    let out = super::child::run(cmd, "OCR", Duration::from_secs_f64(cfg.timeout_s.max(0.1)), 64 << 20)?;
    if !out.success {
        let why = out.stderr.lines().find(|l| l.contains("Error") || l.contains("error")).unwrap_or(out.stderr.trim());
        return Err(format!("tesseract failed: {}", why.chars().take(200).collect::<String>()));
    }
    let tsv = String::from_utf8_lossy(&out.stdout);
    Ok(parse_tsv(&tsv, cfg.min_confidence))
}

/// Recognise the text of a decoded image (written to a temporary grey PNG,
/// so EXIF orientation and pith's decoding limits apply).
pub fn recognize_image(img: &DynamicImage, cfg: &OcrConfig) -> Result<Recognised, String> {
    let tmp = tempfile::Builder::new().prefix("pith-ocr-").suffix(".png").tempfile().map_err(|e| format!("temporary file: {e}"))?;
    ocr_ready(img).save_with_format(tmp.path(), image::ImageFormat::Png).map_err(|e| format!("temporary file: {e}"))?;
    recognize_file(tmp.path(), cfg)
}

/// Grey, and straightened when the lines of text lean by more than
/// `MIN_SKEW` degrees: Tesseract reads a page photographed a few degrees off
/// as broken lines, out of order (measured: CER 40% at 5°, see BENCHMARKS).
pub fn ocr_ready(img: &DynamicImage) -> GrayImage {
    let grey = img.to_luma8();
    let small = if img.width().max(img.height()) > 1024 { img.thumbnail(1024, 1024).to_luma8() } else { grey.clone() };
    let angle = skew_degrees(&small);
    if angle.abs() < MIN_SKEW {
        return grey;
    }
    rotate(&grey, angle)
}

const MIN_SKEW: f32 = 0.75;
const MAX_SKEW: f32 = 10.0;

/// How far text lines lean, in degrees, as the angle `rotate` takes to
/// straighten them: the one whose projection of the ink onto rows is the
/// most peaked (text lines then fall into few rows, gaps into empty ones).
pub fn skew_degrees(grey: &GrayImage) -> f32 {
    let t = otsu(grey);
    let dark = grey.pixels().filter(|p| p.0[0] <= t).count();
    let ink_dark = dark * 2 <= grey.len();
    let (w, h) = (grey.width() as usize, grey.height() as usize);
    let ink: Vec<(f32, f32)> = grey
        .enumerate_pixels()
        .filter(|(_, _, p)| if ink_dark { p.0[0] <= t } else { p.0[0] > t })
        .map(|(x, y, _)| (x as f32 - w as f32 / 2.0, y as f32 - h as f32 / 2.0))
        .collect();
    if ink.len() < 200 {
        return 0.0;
    }
    let rows = (w + h) * 2;
    let score = |deg: f32| -> f64 {
        let (s, c) = deg.to_radians().sin_cos();
        let mut hist = vec![0u32; rows];
        for &(x, y) in &ink {
            let r = (y * c - x * s + rows as f32 / 2.0) as usize;
            if r < rows {
                hist[r] += 1;
            }
        }
        hist.iter().map(|&v| (v as f64) * (v as f64)).sum()
    };
    let best = |from: f32, to: f32, step: f32| -> f32 {
        let mut a = from;
        let (mut best_a, mut best_s) = (0.0f32, f64::MIN);
        while a <= to + 1e-6 {
            let sc = score(a);
            if sc > best_s || (sc == best_s && a.abs() < best_a.abs()) {
                (best_a, best_s) = (a, sc);
            }
            a += step;
        }
        best_a
    };
    let coarse = best(-MAX_SKEW, MAX_SKEW, 0.5);
    best(coarse - 0.5, coarse + 0.5, 0.1)
}

/// Rotate by `deg` degrees about
/// the centre, nearest neighbour, white where nothing maps.
fn rotate(img: &GrayImage, deg: f32) -> GrayImage {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (s, c) = deg.to_radians().sin_cos();
    let (cx, cy) = (w / 2.0, h / 2.0);
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        // Inverse mapping: where this output pixel comes from.
        let (sx, sy) = (dx * c - dy * s + cx, dx * s + dy * c + cy);
        if sx >= 0.0 && sy >= 0.0 && sx < w && sy < h {
            *img.get_pixel(sx as u32, sy as u32)
        } else {
            image::Luma([255])
        }
    })
}

/// Tesseract's TSV: level 5 rows are words with (block, paragraph, line) numbers.
fn parse_tsv(tsv: &str, min_conf: f32) -> Recognised {
    let mut text = String::new();
    let mut last: Option<(u32, u32, u32)> = None;
    let (mut words, mut conf_sum) = (0usize, 0f32);
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 12 || f[0] != "5" {
            continue;
        }
        let word = f[11].trim();
        let conf: f32 = f[10].parse().unwrap_or(-1.0);
        if word.is_empty() || conf < min_conf {
            continue;
        }
        let at = (f[2].parse().unwrap_or(0), f[3].parse().unwrap_or(0), f[4].parse().unwrap_or(0));
        match last {
            Some(l) if (l.0, l.1) != (at.0, at.1) => text.push_str("\n\n"),
            Some(l) if l.2 != at.2 => text.push('\n'),
            Some(_) => text.push(' '),
            None => {}
        }
        text.push_str(word);
        last = Some(at);
        words += 1;
        conf_sum += conf;
    }
    Recognised { text, words, confidence: if words > 0 { conf_sum / words as f32 } else { 0.0 } }
}

/// A counting semaphore over the recogniser processes.
struct Slot;

fn slots() -> &'static (Mutex<usize>, Condvar) {
    static S: OnceLock<(Mutex<usize>, Condvar)> = OnceLock::new();
    S.get_or_init(|| (Mutex::new(0), Condvar::new()))
}

impl Slot {
    fn take() -> Slot {
        let (m, cv) = slots();
        let mut n = m.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= MAX_RUNNING {
            n = cv.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (m, cv) = slots();
        let mut n = m.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        cv.notify_one();
    }
}

/// The outcome of the cheap text test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextTest {
    /// Glyph-shaped components.
    pub glyphs: usize,
    /// Glyphs with a neighbour on the same line.
    pub aligned: usize,
    pub pass: bool,
}

/// At least this many aligned glyphs, and this share of all glyphs aligned.
const MIN_ALIGNED: usize = 24;
const MIN_ALIGNED_SHARE: f32 = 0.5;

/// Whether an image probably carries printed words (see the module doc).
pub fn looks_like_text(img: &DynamicImage) -> TextTest {
    let small = if img.width().max(img.height()) > 1024 { img.thumbnail(1024, 1024) } else { img.clone() };
    let grey = small.to_luma8();
    let t = otsu(&grey);
    let dark = grey.pixels().filter(|p| p.0[0] <= t).count();
    // Ink is the minority colour: dark text on light paper, or the reverse.
    let ink_dark = dark * 2 <= grey.len();
    let is_ink = |v: u8| if ink_dark { v <= t } else { v > t };
    let boxes = components(&grey, is_ink);
    let glyphs: Vec<[u32; 4]> = boxes
        .into_iter()
        .filter(|&[x0, y0, x1, y1, n]| {
            let (w, h) = (x1 - x0 + 1, y1 - y0 + 1);
            let fill = n as f32 / (w * h) as f32;
            (6..=96).contains(&h) && w <= 3 * h && w >= 1 && fill > 0.12 && fill < 0.95
        })
        .map(|[x0, y0, x1, y1, _]| [x0, y0, x1, y1])
        .collect();
    let aligned = count_aligned(&glyphs);
    let pass = aligned >= MIN_ALIGNED && aligned as f32 >= MIN_ALIGNED_SHARE * glyphs.len() as f32;
    TextTest { glyphs: glyphs.len(), aligned, pass }
}

/// Glyphs with another of similar height whose vertical centre is close and
/// which starts within 1.5 heights to the right or left.
fn count_aligned(g: &[[u32; 4]]) -> usize {
    let mut order: Vec<usize> = (0..g.len()).collect();
    order.sort_by_key(|&i| g[i][0]);
    let mut aligned = vec![false; g.len()];
    for (a, &i) in order.iter().enumerate() {
        let [x0, y0, x1, y1] = g[i];
        let h = (y1 - y0 + 1) as f32;
        let cy = (y0 + y1) as f32 / 2.0;
        for &j in &order[a + 1..] {
            let [u0, v0, _, v1] = g[j];
            if u0 as f32 > x1 as f32 + 1.5 * h {
                break;
            }
            if u0 < x0 {
                continue;
            }
            let hj = (v1 - v0 + 1) as f32;
            let cj = (v0 + v1) as f32 / 2.0;
            if (cy - cj).abs() <= 0.35 * h.max(hj) && hj / h > 0.5 && hj / h < 2.0 {
                aligned[i] = true;
                aligned[j] = true;
            }
        }
    }
    aligned.iter().filter(|&&a| a).count()
}

/// Otsu's threshold of a grey image.
fn otsu(img: &GrayImage) -> u8 {
    let mut hist = [0u64; 256];
    for p in img.pixels() {
        hist[p.0[0] as usize] += 1;
    }
    let total = img.len() as f64;
    let sum: f64 = hist.iter().enumerate().map(|(i, &c)| i as f64 * c as f64).sum();
    let (mut w0, mut sum0, mut best, mut best_t) = (0f64, 0f64, -1f64, 127u8);
    for (t, &c) in hist.iter().enumerate() {
        w0 += c as f64;
        if w0 == 0.0 {
            continue;
        }
        let w1 = total - w0;
        if w1 == 0.0 {
            break;
        }
        sum0 += t as f64 * c as f64;
        let (m0, m1) = (sum0 / w0, (sum - sum0) / w1);
        let between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if between > best {
            best = between;
            best_t = t as u8;
        }
    }
    best_t
}

/// Bounding boxes `[x0, y0, x1, y1, pixels]` of 8-connected ink components.
fn components(img: &GrayImage, is_ink: impl Fn(u8) -> bool) -> Vec<[u32; 5]> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let mut seen = vec![false; w * h];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if seen[start] || !is_ink(raw[start]) {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1, mut n) = (usize::MAX, usize::MAX, 0, 0, 0u32);
        while let Some(p) = stack.pop() {
            let (x, y) = (p % w, p / w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            n += 1;
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                        continue;
                    }
                    let q = ny as usize * w + nx as usize;
                    if !seen[q] && is_ink(raw[q]) {
                        seen[q] = true;
                        stack.push(q);
                    }
                }
            }
        }
        out.push([x0 as u32, y0 as u32, x1 as u32, y1 as u32, n]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_words_join_into_lines_and_paragraphs_dropping_low_confidence() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t96\tHello\n\
                   5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t91\tworld\n\
                   5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t5\t~~\n\
                   5\t1\t1\t1\t2\t2\t0\t0\t1\t1\t88\tsecond\n\
                   5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t90\tnext\n";
        let r = parse_tsv(tsv, 30.0);
        assert_eq!(r.text, "Hello world\nsecond\n\nnext");
        assert_eq!(r.words, 4);
        assert!((r.confidence - 91.25).abs() < 1e-3);
    }

    #[test]
    fn blank_and_noise_images_do_not_look_like_text() {
        let blank = DynamicImage::ImageLuma8(GrayImage::from_pixel(400, 300, image::Luma([255])));
        assert!(!looks_like_text(&blank).pass);
        // A smooth gradient: no glyphs at all.
        let grad = DynamicImage::ImageLuma8(GrayImage::from_fn(400, 300, |x, _| image::Luma([(x * 255 / 400) as u8])));
        assert!(!looks_like_text(&grad).pass);
    }

    #[test]
    fn a_leaning_block_of_lines_is_straightened_to_its_angle() {
        let lines = GrayImage::from_fn(600, 400, |x, y| {
            let in_line = (y % 40) < 10 && (40..560).contains(&x) && (40..360).contains(&y);
            image::Luma([if in_line { 0 } else { 255 }])
        });
        assert!(skew_degrees(&lines).abs() < 0.2);
        let leaning = rotate(&lines, 4.0);
        let got = skew_degrees(&leaning);
        assert!((got.abs() - 4.0).abs() <= 0.3, "{got}");
        let straight = rotate(&leaning, got);
        assert!(skew_degrees(&straight).abs() <= 0.3);
    }

    #[test]
    fn rows_of_glyph_shaped_blobs_look_like_text() {
        // Three lines of 20 "letters" (6×10 boxes, 4 px apart) on white.
        let img = GrayImage::from_fn(300, 120, |x, y| {
            let in_line = (10..20).contains(&(y % 40));
            let in_glyph = x >= 10 && (x - 10) % 10 < 6 && x < 210;
            image::Luma([if in_line && in_glyph && (x + y) % 7 != 0 { 0 } else { 255 }])
        });
        let t = looks_like_text(&DynamicImage::ImageLuma8(img));
        assert!(t.pass, "{t:?}");
    }
}
