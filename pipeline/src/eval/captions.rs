//! `pith eval captions`: text→image retrieval on a COCO-captions set. The
//! gallery is the captioned images; each caption's gold is its own image.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::cutoff::{self, CutoffReport, Judged};
use crate::engine::{Engine, EngineConfig};
use crate::error::{io_err, PipelineError, Result};
use crate::hubness::{k_occurrence, Hubness, HubnessReport};
use crate::ingest::{ingest, IngestReport, Progress};
use crate::search::{Filters, Mode, SearchRequest};
use crate::store::Kind;

/// One hubness setting's results.
#[derive(Debug, Clone, Serialize)]
pub struct CaptionsRow {
    pub hubness: Hubness,
    pub r_at_1: f64,
    pub r_at_5: f64,
    pub r_at_10: f64,
    pub median_rank: f64,
    /// k-occurrence (k = 10) of the gallery under the caption queries.
    pub hubness_stats: HubnessReport,
    pub cutoff: CutoffReport,
    pub latency_p50_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaptionsReport {
    pub images: usize,
    pub captions: usize,
    pub rows: Vec<CaptionsRow>,
    /// What a search in this store would apply by default.
    pub default_hubness: Hubness,
    pub ingest: IngestReport,
    /// Top-10 hits with their features (for `pith calibrate`).
    #[serde(skip)]
    pub judged: Vec<(String, Vec<Judged>)>,
}

/// (caption id, caption, image file name) for every caption whose image exists.
pub fn load(images_dir: &Path, captions_json: &Path) -> Result<Vec<(String, String, String)>> {
    let text = std::fs::read_to_string(captions_json).map_err(io_err(captions_json))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| PipelineError::BadInput(format!("{}: {e}", captions_json.display())))?;
    let mut names = HashMap::new();
    for img in v["images"].as_array().into_iter().flatten() {
        if let (Some(id), Some(name)) = (img["id"].as_i64(), img["file_name"].as_str()) {
            if images_dir.join(name).exists() {
                names.insert(id, name.to_string());
            }
        }
    }
    let mut out = Vec::new();
    for a in v["annotations"].as_array().into_iter().flatten() {
        let (Some(img), Some(cap)) = (a["image_id"].as_i64(), a["caption"].as_str()) else { continue };
        if let Some(name) = names.get(&img) {
            let id = a["id"].as_i64().map(|i| i.to_string()).unwrap_or_else(|| out.len().to_string());
            out.push((id, cap.trim().to_string(), name.clone()));
        }
    }
    if out.is_empty() {
        return Err(PipelineError::BadInput("no captions refer to images present in the folder".into()));
    }
    Ok(out)
}

/// Which captions a run uses: all, or the half whose image id is odd or
/// even (fit a calibration on one half, measure on the other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    All,
    Odd,
    Even,
}

fn in_half(name: &str, half: Half) -> bool {
    let id: u64 = name.chars().filter(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0);
    match half {
        Half::All => true,
        Half::Odd => !id.is_multiple_of(2),
        Half::Even => id.is_multiple_of(2),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn run(
    images_dir: &Path,
    captions_json: &Path,
    cfg_template: &EngineConfig,
    run_file: Option<&Path>,
    store_dir: Option<PathBuf>,
    progress: &dyn Progress,
    methods: &[Hubness],
    half: Half,
    absent: &[String],
    query_log: &[String],
) -> Result<CaptionsReport> {
    let caps: Vec<_> = load(images_dir, captions_json)?.into_iter().filter(|c| in_half(&c.2, half)).collect();
    let tmp = tempfile::tempdir().map_err(io_err(std::env::temp_dir()))?;
    let mut cfg = cfg_template.clone();
    cfg.data_dir = store_dir.unwrap_or_else(|| tmp.path().join("store"));
    let engine = Engine::open(cfg)?;
    let ingest = ingest(&engine, &[images_dir.to_path_buf()], progress)?;
    // Other people's searches, for the hubness query bank (never these captions).
    engine.import_query_log(query_log)?;
    let gallery = engine.status(0)?.counts.image_items as usize;
    let threshold = engine.search_options(&SearchRequest::new("", 1)).min_relevance;
    let file = |p: &str| Path::new(p).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut rows = Vec::new();
    let mut judged_out = Vec::new();
    for &method in methods {
        let mut ranks = Vec::new();
        let mut lat = Vec::new();
        let mut runs = Vec::new();
        let mut top_lists = Vec::new();
        let mut judged = Vec::new();
        for (id, cap, name) in &caps {
            let req = SearchRequest {
                filters: Filters { kind: Some(Kind::Image), ..Default::default() },
                mode: Mode::Vector,
                min_relevance: Some(0.0),
                hubness: Some(method),
                ..SearchRequest::new(cap.clone(), gallery.max(1))
            };
            let t = Instant::now();
            let hits = engine.search(&req)?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            let rank = hits.iter().position(|h| &file(&h.path) == name).map_or(gallery + 1, |i| i + 1);
            ranks.push(rank);
            top_lists.push(hits.iter().take(10).map(|h| crate::ids::ChunkId(h.id.0)).collect::<Vec<_>>());
            let mine: Vec<Judged> = hits.iter().take(10).filter_map(|h| Judged::of(h, &file(&h.path) == name)).collect();
            judged.extend(mine.iter().copied());
            if method == methods[0] {
                judged_out.push((id.clone(), mine));
            }
            runs.push((format!("{id}:{method}"), hits.iter().map(|h| (file(&h.path), h.score)).collect::<Vec<_>>()));
        }
        if let Some(p) = run_file {
            super::write_trec_run(&p.with_extension(format!("{method}.run")), &runs, "pith-captions").map_err(io_err(p))?;
        }
        // Items stand in for chunks here: one image, one chunk.
        let ids: Vec<crate::ids::ChunkId> = engine.image_item_ids()?.into_iter().map(|i| crate::ids::ChunkId(i.0)).collect();
        let n = ranks.len().max(1) as f64;
        let r = |k: usize| ranks.iter().filter(|&&x| x <= k).count() as f64 / n;
        let mut sorted: Vec<f64> = ranks.iter().map(|&x| x as f64).collect();
        sorted.sort_by(f64::total_cmp);
        let median = if sorted.is_empty() {
            0.0
        } else if sorted.len() % 2 == 1 {
            sorted[sorted.len() / 2]
        } else {
            (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
        };
        rows.push(CaptionsRow {
            hubness: method,
            r_at_1: r(1),
            r_at_5: r(5),
            r_at_10: r(10),
            median_rank: median,
            hubness_stats: k_occurrence(&top_lists, &ids, 10),
            cutoff: cutoff::report(&judged, threshold),
            latency_p50_ms: super::percentile(&lat, 50.0),
        });
    }
    // Queries about what no photo shows: their hits are all non-relevant.
    for (i, q) in absent.iter().enumerate() {
        let req = SearchRequest {
            filters: Filters { kind: Some(Kind::Image), ..Default::default() },
            mode: Mode::Vector,
            min_relevance: Some(0.0),
            ..SearchRequest::new(q.clone(), 10)
        };
        let mine = engine.search(&req)?.iter().filter_map(|h| Judged::of(h, false)).collect();
        judged_out.push((format!("absent-{i}"), mine));
    }
    let default_hubness = engine.hubness_of(crate::encoders::space::CONSE);
    Ok(CaptionsReport { images: gallery, captions: caps.len(), rows, default_hubness, ingest, judged: judged_out })
}
