//! Videos on the decode threads: frames stream from ffmpeg at `fps`; a frame
//! whose 32×32 grey signature barely differs from the last encoded frame is
//! not encoded (it extends that frame's token); encoded frames become tokens
//! that `temporal::merge` folds across time. The audio track goes through
//! the speech path. What comes out is a list of time-spanned segments.

use std::path::Path;

use image::DynamicImage;
use serde::Serialize;

use crate::decode::video::{self, Frames};
use crate::encoders::Encoders;
use crate::ingest::media::{self, Heard};
use crate::temporal::{self, Token};

pub use crate::types::{MergeMode, VideoConfig};

/// One stretch of video and its vectors.
pub struct VideoSegment {
    pub start_ms: i64,
    pub end_ms: i64,
    /// Pooled visual features (unit length).
    pub visual: Vec<f32>,
    /// Averaged class logits (ConSE turns them into a text-space vector).
    pub logits: Vec<f32>,
    pub clip: Option<Vec<f32>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VideoStats {
    pub frames_decoded: usize,
    pub encoder_calls: usize,
    pub tokens: usize,
}

pub struct Watched {
    pub seconds: f64,
    pub segments: Vec<VideoSegment>,
    pub poster: Option<image::RgbImage>,
    pub speech: Option<Heard>,
    pub stats: VideoStats,
    pub notes: Vec<String>,
}

const BATCH: usize = 16;

pub fn watch(enc: &Encoders, path: &Path, cfg: &VideoConfig) -> Result<Watched, String> {
    let info = video::probe(path)?;
    let mut notes = Vec::new();
    let speech = if info.has_audio {
        match media::listen(enc, path, true) {
            Ok(h) => Some(h),
            Err(e) => {
                notes.push(format!("audio track not indexed: {e}"));
                None
            }
        }
    } else {
        None
    };
    if !info.has_video {
        return match speech {
            Some(s) => Ok(Watched {
                seconds: s.seconds,
                segments: Vec::new(),
                poster: None,
                speech: Some(s),
                stats: VideoStats::default(),
                notes: vec!["the file has no video stream; its audio is indexed".into()],
            }),
            None => Err("no video stream and no audio stream".into()),
        };
    }
    let mut frames = Frames::open(path, cfg.fps)?;
    let mut stats = VideoStats::default();
    let mut tokens: Vec<Token> = Vec::new();
    let mut pending: Vec<(usize, image::RgbImage)> = Vec::new();
    let mut last_sig: Option<Vec<f32>> = None;
    let mut poster: Option<image::RgbImage> = None;
    let poster_at = cfg.fps.ceil() as usize; // one second in: past a fade from black
    let mut i = 0usize;
    while let Some(f) = frames.next_frame()? {
        if poster.is_none() && (i >= poster_at || i == 0) {
            poster = Some(f.clone());
        }
        let sig = video::signature(&f);
        // Same picture as the last encoded frame: not encoded; the token of
        // that frame stands for it (spans are closed up below).
        let skip = cfg.merge != MergeMode::Off && last_sig.as_ref().is_some_and(|s| video::signature_distance(s, &sig) < cfg.skip_below);
        if !skip {
            last_sig = Some(sig);
            pending.push((i, f));
            if pending.len() >= BATCH {
                encode(enc, std::mem::take(&mut pending), &mut tokens, &mut stats)?;
            }
        }
        i += 1;
    }
    encode(enc, std::mem::take(&mut pending), &mut tokens, &mut stats)?;
    stats.frames_decoded = frames.decoded;
    frames.finish()?;
    if stats.frames_decoded == 0 {
        return Err("the video stream has no decodable frames".into());
    }
    // Each token runs up to the next encoded frame (skipped frames are its).
    let n = stats.frames_decoded;
    for k in 0..tokens.len() {
        let last = if k + 1 < tokens.len() { tokens[k + 1].first - 1 } else { n - 1 };
        tokens[k].last = last.max(tokens[k].first);
        tokens[k].size = tokens[k].last - tokens[k].first + 1;
    }
    let seconds = if info.seconds > 0.0 { info.seconds } else { stats.frames_decoded as f64 / cfg.fps };
    let minutes = (seconds / 60.0).max(1.0 / 60.0);
    let merged = match cfg.merge {
        MergeMode::Off => tokens,
        MergeMode::PerVideo => temporal::merge(tokens, f32::INFINITY, 1),
        MergeMode::On => temporal::merge(tokens, cfg.merge_above, ((cfg.tokens_per_minute as f64 * minutes).ceil() as usize).max(1)),
    };
    stats.tokens = merged.len();
    let frame_ms = 1000.0 / cfg.fps;
    let total_ms = (seconds * 1000.0).round() as i64;
    let segments = merged
        .into_iter()
        .map(|t| {
            let mut v = t.vecs.into_iter();
            let mut visual = v.next().unwrap_or_default();
            pith_models::l2_normalize(&mut visual);
            let logits = v.next().unwrap_or_default();
            let clip = v.next().map(|mut c| {
                pith_models::l2_normalize(&mut c);
                c
            });
            let start_ms = ((t.first as f64 * frame_ms).round() as i64).min(total_ms);
            let end_ms = (((t.last + 1) as f64 * frame_ms).round() as i64).min(total_ms).max(start_ms);
            VideoSegment { start_ms, end_ms, visual, logits, clip }
        })
        .collect();
    Ok(Watched { seconds, segments, poster, speech, stats, notes })
}

/// Encode frames; each becomes a one-frame token.
fn encode(enc: &Encoders, batch: Vec<(usize, image::RgbImage)>, tokens: &mut Vec<Token>, stats: &mut VideoStats) -> Result<(), String> {
    if batch.is_empty() {
        return Ok(());
    }
    let (idxs, imgs): (Vec<usize>, Vec<DynamicImage>) = batch.into_iter().map(|(i, f)| (i, DynamicImage::ImageRgb8(f))).unzip();
    let preps = imgs.iter().map(|im| enc.image.prep.prepare(im)).collect();
    let outs = enc.image.encode(preps).map_err(|e| format!("image encoder: {e}"))?;
    let clips = match &enc.clip {
        Some(c) => Some(c.embed_images(imgs.iter().map(|im| c.prep.prepare(im)).collect()).map_err(|e| format!("CLIP: {e}"))?),
        None => None,
    };
    stats.encoder_calls += idxs.len();
    let mut clips = clips.map(|c| c.into_iter());
    for (idx, out) in idxs.into_iter().zip(outs) {
        let mut vecs = vec![out.features, out.logits];
        if let Some(c) = clips.as_mut().and_then(|c| c.next()) {
            vecs.push(c);
        }
        tokens.push(Token { vecs, size: 1, first: idx, last: idx });
    }
    Ok(())
}
