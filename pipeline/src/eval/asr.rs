//! `pith eval asr DIR`: word error rate and speed of pith's speech path on
//! recordings that have a reference transcript beside them (`talk.mp3` +
//! `talk.txt`). Audio goes through exactly what ingest uses (the decoders,
//! the resampler, the Rust front end and decoder), so the numbers are
//! ingest's numbers.

use std::path::{Path, PathBuf};
use std::time::Instant;

use pith_models::catalog::SPEECH_MODEL;
use pith_models::{ModelError, Whisper};
use serde::Serialize;

use crate::decode::{self, Detected};
use crate::engine::EngineConfig;
use crate::error::{PipelineError, Result};

#[derive(Debug, Clone, Serialize)]
pub struct FileScore {
    pub file: String,
    pub seconds: f64,
    pub compute_s: f64,
    pub words: usize,
    pub errors: usize,
    pub wer: f64,
    pub hypothesis: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AsrReport {
    pub files: Vec<FileScore>,
    /// Errors over reference words, all files together.
    pub wer: f64,
    pub audio_seconds: f64,
    pub compute_seconds: f64,
    /// Compute seconds per audio second.
    pub real_time_factor: f64,
    pub model: String,
}

/// Lower-case words, punctuation dropped (apostrophes kept), for scoring.
pub fn words(s: &str) -> Vec<String> {
    s.to_lowercase().split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).map(String::from).collect()
}

/// Edit distance (substitutions + deletions + insertions) between two
/// sequences: of words for WER, of characters for OCR's CER.
pub fn edit_distance<T: PartialEq>(r: &[T], h: &[T]) -> usize {
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(rw != hw)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[h.len()]
}

pub fn run(dir: &Path, cfg: &EngineConfig) -> Result<AsrReport> {
    let cache = &cfg.models;
    if !cache.has(SPEECH_MODEL) {
        return Err(PipelineError::BadInput(format!("speech model {SPEECH_MODEL} is not installed: run `make models`")));
    }
    let whisper = Whisper::load(&cache.root, &cache.dir(SPEECH_MODEL), cfg.threads.max(2))?;
    let mut pairs: Vec<(PathBuf, PathBuf, bool)> = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| PipelineError::BadInput(format!("{}: {e}", dir.display())))? {
        let p = e.map_err(|e| PipelineError::BadInput(e.to_string()))?.path();
        let txt = p.with_extension("txt");
        if p.extension().is_some_and(|x| x != "txt") && txt.exists() {
            let mut head = Vec::with_capacity(8192);
            if let Ok(f) = std::fs::File::open(&p) {
                let _ = std::io::Read::read_to_end(&mut std::io::Read::take(f, 8192), &mut head);
            }
            match decode::detect(&p, &head) {
                Detected::Audio(_) => pairs.push((p, txt, false)),
                Detected::Video(_) => pairs.push((p, txt, true)),
                _ => {}
            }
        }
    }
    pairs.sort();
    if pairs.is_empty() {
        return Err(PipelineError::BadInput(format!("{}: no audio file with a same-named .txt transcript", dir.display())));
    }
    let mut files = Vec::new();
    for (audio_path, txt, is_video) in pairs {
        let reference = std::fs::read_to_string(&txt).map_err(|e| PipelineError::BadInput(format!("{}: {e}", txt.display())))?;
        let t0 = Instant::now();
        let mut stream = decode::audio::open(&audio_path, is_video).map_err(PipelineError::BadInput)?;
        let mut next = || stream.next_chunk().map_err(ModelError::Input);
        let tr = whisper.transcribe(&mut next)?;
        stream.finish().map_err(PipelineError::BadInput)?;
        let compute_s = t0.elapsed().as_secs_f64();
        let hyp = tr.text();
        let (r, h) = (words(&reference), words(&hyp));
        let errors = edit_distance(&r, &h);
        files.push(FileScore {
            file: audio_path.display().to_string(),
            seconds: stream.seconds(),
            compute_s,
            words: r.len(),
            errors,
            wer: errors as f64 / r.len().max(1) as f64,
            hypothesis: hyp,
        });
    }
    let words_total: usize = files.iter().map(|f| f.words).sum();
    let errors_total: usize = files.iter().map(|f| f.errors).sum();
    let audio_seconds: f64 = files.iter().map(|f| f.seconds).sum();
    let compute_seconds: f64 = files.iter().map(|f| f.compute_s).sum();
    Ok(AsrReport {
        files,
        wer: errors_total as f64 / words_total.max(1) as f64,
        audio_seconds,
        compute_seconds,
        real_time_factor: compute_seconds / audio_seconds.max(1e-9),
        model: cache.model_id(SPEECH_MODEL).unwrap_or_else(|| SPEECH_MODEL.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wer_counts_substitutions_insertions_and_deletions() {
        let r = words("The cat sat on the mat.");
        assert_eq!(edit_distance(&r, &words("the cat sat on the mat")), 0);
        assert_eq!(edit_distance(&r, &words("the bat sat on mat")), 2);
        assert_eq!(edit_distance(&r, &words("the cat sat on the red mat")), 1);
    }
}
