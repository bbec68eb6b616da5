//! `pith eval video VIDEOS CAPTIONS.json`: text→video retrieval, R@1/5/10 and
//! median rank, once per merge setting so their costs and quality compare in
//! one command. Captions are either a list of `{"query", "video"}` (as in
//! MSR-VTT exports; `video` null marks a distractor query whose clip is
//! absent) or COCO-style `{"videos"|"images": [{id, file_name}],
//! "annotations": [{video_id|image_id, caption}]}`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::{Engine, EngineConfig};
use crate::error::{io_err, PipelineError, Result};
use crate::ingest::video::{MergeMode, VideoStats};
use crate::ingest::{ingest, Progress};
use crate::search::{Filters, SearchRequest};
use crate::store::Kind;

/// A query and the file name of its video (`None`: a distractor).
pub type Query = (String, Option<String>);

pub fn load(videos: &Path, captions: &Path) -> Result<Vec<Query>> {
    let text = std::fs::read_to_string(captions).map_err(io_err(captions))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| PipelineError::BadInput(format!("{}: {e}", captions.display())))?;
    let mut out = Vec::new();
    if let Some(list) = v.as_array() {
        for q in list {
            let Some(query) = q["query"].as_str().or_else(|| q["caption"].as_str()) else { continue };
            let video = q["video"].as_str().map(String::from).filter(|n| videos.join(n).exists());
            out.push((query.trim().to_string(), video));
        }
    } else {
        let mut names = HashMap::new();
        for m in v["videos"].as_array().or_else(|| v["images"].as_array()).into_iter().flatten() {
            if let (Some(id), Some(name)) = (m["id"].as_i64(), m["file_name"].as_str()) {
                names.insert(id, name.to_string());
            }
        }
        for a in v["annotations"].as_array().into_iter().flatten() {
            let id = a["video_id"].as_i64().or_else(|| a["image_id"].as_i64());
            let (Some(id), Some(cap)) = (id, a["caption"].as_str()) else { continue };
            let video = names.get(&id).filter(|n| videos.join(n.as_str()).exists()).cloned();
            out.push((cap.trim().to_string(), video));
        }
    }
    if !out.iter().any(|(_, v)| v.is_some()) {
        return Err(PipelineError::BadInput("no caption refers to a video present in the folder".into()));
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct ModeReport {
    pub merge: MergeMode,
    pub queries: usize,
    pub distractors: usize,
    pub r_at_1: f64,
    pub r_at_5: f64,
    pub r_at_10: f64,
    pub median_rank: f64,
    /// Rank of each query's video (1-based; `None`: not returned).
    pub ranks: Vec<Option<usize>>,
    pub frames_decoded: usize,
    pub encoder_calls: usize,
    pub tokens: usize,
    pub per_video: Vec<(String, VideoStats)>,
    pub ingest_seconds: f64,
}

pub fn run(
    videos: &Path,
    captions: &Path,
    cfg_template: &EngineConfig,
    modes: &[MergeMode],
    run_file: Option<&Path>,
    progress: &dyn Progress,
) -> Result<Vec<ModeReport>> {
    let queries = load(videos, captions)?;
    let mut out = Vec::new();
    let mut runs = Vec::new();
    for &mode in modes {
        let tmp = tempfile::tempdir().map_err(|e| PipelineError::Internal(e.to_string()))?;
        let mut cfg = cfg_template.clone();
        cfg.data_dir = tmp.path().join("store");
        cfg.video.merge = mode;
        let engine = Engine::open(cfg)?;
        let report = ingest(&engine, &[videos.to_path_buf()], progress)?;
        let (ranks, run) = rank_all(&engine, videos, &queries)?;
        runs.push((mode, run));
        let found: Vec<usize> = ranks.iter().flatten().copied().collect();
        let n = queries.iter().filter(|(_, v)| v.is_some()).count();
        let at = |k: usize| found.iter().filter(|&&r| r <= k).count() as f64 / n.max(1) as f64;
        let mut all: Vec<f64> = ranks.iter().map(|r| r.map_or(f64::INFINITY, |r| r as f64)).collect();
        all.sort_by(f64::total_cmp);
        let median = match all.len() {
            0 => 0.0,
            k if k % 2 == 1 => all[k / 2],
            k => (all[k / 2 - 1] + all[k / 2]) / 2.0,
        };
        let sum = |f: fn(&VideoStats) -> usize| report.videos.iter().map(|(_, s)| f(s)).sum::<usize>();
        out.push(ModeReport {
            merge: mode,
            queries: n,
            distractors: queries.len() - n,
            r_at_1: at(1),
            r_at_5: at(5),
            r_at_10: at(10),
            median_rank: median,
            ranks,
            frames_decoded: sum(|s| s.frames_decoded),
            encoder_calls: sum(|s| s.encoder_calls),
            tokens: sum(|s| s.tokens),
            per_video: report.videos.clone(),
            ingest_seconds: report.seconds,
        });
    }
    if let Some(p) = run_file {
        let mut all = Vec::new();
        for (mode, run) in runs {
            for (qid, ranked) in run {
                all.push((
                    format!("{qid}:{}", serde_json::to_value(mode).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()),
                    ranked,
                ));
            }
        }
        super::write_trec_run(p, &all, "pith-video").map_err(io_err(p))?;
    }
    Ok(out)
}

type Run = Vec<(String, Vec<(String, f32)>)>;

/// Rank of each positive query's video among videos, and the ranked lists.
fn rank_all(engine: &Engine, videos: &Path, queries: &[Query]) -> Result<(Vec<Option<usize>>, Run)> {
    let base = videos.canonicalize().map_err(io_err(videos))?;
    let videos = base.as_path();
    let mut ranks = Vec::new();
    let mut run = Vec::new();
    for (i, (q, want)) in queries.iter().enumerate() {
        let req =
            SearchRequest { filters: Filters { kind: Some(Kind::Video), ..Default::default() }, ..SearchRequest::new(q.clone(), 100) };
        let hits = engine.search(&req)?;
        let names: Vec<(String, f32)> = hits
            .iter()
            .map(|h| (Path::new(&h.path).strip_prefix(videos).map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(&h.path)), h.score))
            .map(|(p, s)| (p.to_string_lossy().into_owned(), s))
            .collect();
        if let Some(w) = want {
            ranks.push(names.iter().position(|(n, _)| n == w).map(|p| p + 1));
        }
        run.push((i.to_string(), names));
    }
    Ok((ranks, run))
}
