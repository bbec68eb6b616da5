//! Video through the `ffmpeg` CLI (Debian's): `ffprobe` for the streams and
//! duration, then frames at a fixed rate as raw RGB on a pipe, scaled and
//! centre-cropped to a square on the ffmpeg side. Frames stream: one frame
//! is in memory at a time, whatever the video's length.

use std::io::Read;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

/// Side of the square frames handed to the encoders (the image encoder's
/// resize target; it centre-crops to its own input size).
pub const SIDE: u32 = 256;

#[derive(Debug, Clone, Default)]
pub struct VideoInfo {
    pub has_video: bool,
    pub has_audio: bool,
    pub seconds: f64,
    pub width: u32,
    pub height: u32,
}

pub fn probe(path: &Path) -> Result<VideoInfo, String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type,width,height:format=duration", "-of", "json"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ffprobe cannot run ({e}); install ffmpeg"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let msg = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("failed").trim();
        return Err(format!("not a video ffmpeg can read: {}", msg.rsplit(": ").next().unwrap_or(msg)));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("ffprobe output: {e}"))?;
    let mut info = VideoInfo::default();
    for s in v["streams"].as_array().into_iter().flatten() {
        match s["codec_type"].as_str() {
            Some("video") if !info.has_video => {
                info.has_video = true;
                info.width = s["width"].as_u64().unwrap_or(0) as u32;
                info.height = s["height"].as_u64().unwrap_or(0) as u32;
            }
            Some("audio") => info.has_audio = true,
            _ => {}
        }
    }
    info.seconds = v["format"]["duration"].as_str().and_then(|d| d.parse().ok()).unwrap_or(0.0);
    Ok(info)
}

/// Frames at `fps`, each `SIDE`×`SIDE` RGB; frame `i` shows time `i / fps`.
pub struct Frames {
    child: Child,
    out: ChildStdout,
    pub fps: f64,
    pub decoded: usize,
}

impl Frames {
    pub fn open(path: &Path, fps: f64) -> Result<Frames, String> {
        let vf = format!("fps={fps},scale={SIDE}:{SIDE}:force_original_aspect_ratio=increase,crop={SIDE}:{SIDE}");
        let mut child = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(path)
            .args(["-an", "-sn", "-vf", &vf, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("ffmpeg cannot run ({e}); install ffmpeg"))?;
        let out = child.stdout.take().ok_or("ffmpeg: no stdout")?;
        Ok(Frames { child, out, fps, decoded: 0 })
    }

    /// The next frame, or `None` at the end of the video.
    pub fn next_frame(&mut self) -> Result<Option<image::RgbImage>, String> {
        let mut buf = vec![0u8; (SIDE * SIDE * 3) as usize];
        let mut n = 0;
        while n < buf.len() {
            match self.out.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) => return Err(format!("reading frames from ffmpeg: {e}")),
            }
        }
        if n < buf.len() {
            return Ok(None);
        }
        self.decoded += 1;
        Ok(image::RgbImage::from_raw(SIDE, SIDE, buf))
    }

    /// After the last frame: ffmpeg's verdict.
    pub fn finish(mut self) -> Result<(), String> {
        let status = self.child.wait().map_err(|e| format!("ffmpeg: {e}"))?;
        if !status.success() && self.decoded == 0 {
            let mut err = String::new();
            if let Some(mut e) = self.child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let msg = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("failed").trim().to_string();
            return Err(format!("ffmpeg decoded no frames: {msg}"));
        }
        Ok(())
    }
}

impl Drop for Frames {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A cheap picture signature: 32×32 grey, box-averaged.
pub fn signature(f: &image::RgbImage) -> Vec<f32> {
    let (w, h) = (f.width() as usize, f.height() as usize);
    let (bw, bh) = ((w / 32).max(1), (h / 32).max(1));
    let mut sig = vec![0f32; 32 * 32];
    let raw = f.as_raw();
    for (i, s) in sig.iter_mut().enumerate() {
        let (gx, gy) = (i % 32, i / 32);
        let mut sum = 0u32;
        for y in gy * bh..((gy + 1) * bh).min(h) {
            for x in gx * bw..((gx + 1) * bw).min(w) {
                let p = (y * w + x) * 3;
                sum += (raw[p] as u32 * 299 + raw[p + 1] as u32 * 587 + raw[p + 2] as u32 * 114) / 1000;
            }
        }
        *s = sum as f32 / (bw * bh) as f32 / 255.0;
    }
    sig
}

/// Mean absolute difference of two signatures (0 = identical, 1 = opposite).
pub fn signature_distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len().max(1) as f32
}
