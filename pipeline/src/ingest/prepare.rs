//! Per-file work done on the decode threads: read, hash, detect, decode, chunk.

use std::io::Read;
use std::path::Path;

use pith_models::Preprocessed;

use super::walk::FileEntry;
use crate::chunk::{chunk_spans, Span};
use crate::decode::{self, Detected};
use crate::encoders::Encoders;
use crate::engine::Engine;
use crate::store::FileRow;

#[derive(Debug, Clone)]
pub struct Meta {
    pub path: String,
    pub size: u64,
    pub mtime: i64,
    pub hash: String,
    pub existed: bool,
}

pub enum Prepared {
    Unchanged {
        path: String,
        file_id: crate::ids::FileId,
        mtime: i64,
    },
    Skipped {
        path: String,
    },
    Failed {
        path: String,
        reason: String,
        existed: bool,
    },
    Text {
        meta: Meta,
        title: String,
        text: String,
        spans: Vec<Span>,
        notes: Vec<String>,
    },
    /// A recording: its transcript segments (empty without speech or model).
    Audio {
        meta: Meta,
        title: String,
        mime: String,
        seconds: f64,
        segments: Vec<pith_models::Segment>,
        /// CLAP window embeddings (start s, end s, vector), with a CLAP model.
        sounds: Vec<(f64, f64, Vec<f32>)>,
        labels: String,
        notes: Vec<String>,
    },
    Video {
        meta: Meta,
        title: String,
        mime: String,
        watched: super::video::Watched,
    },
    Image {
        meta: Meta,
        title: String,
        mime: String,
        width: u32,
        height: u32,
        prep: Preprocessed,
        clip_prep: Option<Preprocessed>,
        thumbnail: Vec<u8>,
        notes: Vec<String>,
    },
}

pub struct Ctx<'a> {
    pub engine: &'a Engine,
    pub enc: &'a Encoders,
}

impl Ctx<'_> {
    pub fn prepare(&self, e: FileEntry, existing: Option<FileRow>) -> Prepared {
        let existed = existing.is_some();
        // A decoder that panics on one hostile file costs that file only
        // (and cannot stall the in-order writer waiting for its result).
        let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.try_prepare(&e, existing)));
        match attempt {
            Ok(Ok(p)) => p,
            Ok(Err(reason)) => Prepared::Failed { path: e.path, reason, existed },
            Err(_) => Prepared::Failed { path: e.path, reason: "internal error: the decoder panicked on this file".into(), existed },
        }
    }

    fn try_prepare(&self, e: &FileEntry, existing: Option<FileRow>) -> Result<Prepared, String> {
        let path = Path::new(&e.path);
        if e.size == 0 {
            return Err("empty file (0 bytes)".into());
        }
        let mut f = std::fs::File::open(path).map_err(|err| match err.kind() {
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => format!("cannot open: {err}"),
        })?;
        let mut head = vec![0u8; 8192];
        let n = read_up_to(&mut f, &mut head).map_err(|err| format!("cannot read: {err}"))?;
        head.truncate(n);
        let kind = decode::detect(path, &head);
        if kind == Detected::Unsupported {
            return Ok(Prepared::Skipped { path: e.path.clone() });
        }
        let mut hasher = blake3::Hasher::new();
        hasher.update(&head);
        std::io::copy(&mut f, &mut hasher).map_err(|err| format!("cannot read: {err}"))?;
        let hash = hasher.finalize().to_hex().to_string();
        if let Some(old) = &existing {
            if old.hash == hash {
                return Ok(Prepared::Unchanged { path: e.path.clone(), file_id: old.id, mtime: e.mtime });
            }
        }
        let meta = Meta { path: e.path.clone(), size: e.size, mtime: e.mtime, hash, existed: existing.is_some() };
        let cfg = &self.engine.cfg;
        match kind {
            Detected::Text | Detected::Html => {
                let c = decode::text::read_text(path, e.size, cfg.max_text_bytes, kind == Detected::Html).map_err(|err| err.to_string())?;
                if c.text.trim().is_empty() {
                    return Err("no text content".into());
                }
                let spans = chunk_spans(self.enc.text.raw_tokenizer(), &c.text, cfg.chunk_tokens, cfg.chunk_overlap)?;
                let title = decode::text::title_of(&c.text, path);
                Ok(Prepared::Text { meta, title, text: c.text, spans, notes: c.notes })
            }
            Detected::Image(mime) => {
                let img = decode::image::decode(path, mime).map_err(|err| err.to_string())?;
                let (width, height) = (img.width(), img.height());
                let (prep, resized) = self.enc.image.prep.prepare_keep_resized(&img);
                let clip_prep = self.enc.clip.as_ref().map(|c| c.prep.prepare(&img));
                let thumbnail = decode::image::thumbnail_jpeg(&resized).map_err(|err| err.to_string())?;
                let title = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                Ok(Prepared::Image { meta, title, mime: mime.to_string(), width, height, prep, clip_prep, thumbnail, notes: vec![] })
            }
            Detected::Audio(mime) => {
                let heard = super::media::listen(self.enc, path, false)?;
                let title = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                Ok(Prepared::Audio {
                    meta,
                    title,
                    mime: mime.to_string(),
                    seconds: heard.seconds,
                    labels: heard.labels(),
                    segments: heard.segments,
                    sounds: heard.sounds,
                    notes: heard.notes,
                })
            }
            Detected::Video(mime) => {
                let watched = super::video::watch(self.enc, path, &cfg.video)?;
                let title = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                Ok(Prepared::Video { meta, title, mime: mime.to_string(), watched })
            }
            Detected::Unsupported => Ok(Prepared::Skipped { path: e.path.clone() }),
        }
    }
}

fn read_up_to(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let r = f.read(&mut buf[n..])?;
        if r == 0 {
            break;
        }
        n += r;
    }
    Ok(n)
}
