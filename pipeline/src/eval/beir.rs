//! `pith eval beir`: ingest a BEIR-layout corpus into a temporary store, run
//! its test queries, score them, and optionally write a TREC run file.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::metrics::{mrr_at, ndcg_at, recall_at, Qrels};
use crate::engine::{Engine, EngineConfig};
use crate::error::{io_err, PipelineError, Result};
use crate::ingest::{ingest_documents, IngestReport, Progress};
use crate::search::{Mode, SearchRequest};

#[derive(Debug, Clone, Serialize)]
pub struct BeirReport {
    pub dataset: String,
    pub mode: Mode,
    pub queries: usize,
    pub ndcg_at_10: f64,
    pub recall_at_100: f64,
    pub mrr_at_10: f64,
    pub queries_per_second: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub ingest: IngestReport,
}

pub struct BeirSet {
    pub corpus: Vec<(String, String, String)>,
    pub queries: HashMap<String, String>,
    pub qrels: Qrels,
}

fn jsonl(path: &Path) -> Result<Vec<serde_json::Value>> {
    let f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(io_err(path))?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(|e| PipelineError::BadInput(format!("{} line {}: {e}", path.display(), i + 1)))?);
    }
    Ok(out)
}

fn str_field(v: &serde_json::Value, k: &str) -> String {
    match v.get(k) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

pub fn load(dir: &Path) -> Result<BeirSet> {
    let corpus =
        jsonl(&dir.join("corpus.jsonl"))?.iter().map(|v| (str_field(v, "_id"), str_field(v, "title"), str_field(v, "text"))).collect();
    let queries = jsonl(&dir.join("queries.jsonl"))?.iter().map(|v| (str_field(v, "_id"), str_field(v, "text"))).collect();
    let qpath = dir.join("qrels").join("test.tsv");
    let text = std::fs::read_to_string(&qpath).map_err(io_err(&qpath))?;
    let mut qrels: Qrels = HashMap::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 3 {
            continue;
        }
        // A header line ("query-id corpus-id score") has a non-numeric score.
        let Ok(score) = cols[cols.len() - 1].trim().parse::<i32>() else { continue };
        let (q, d) = if cols.len() >= 4 { (cols[0], cols[2]) } else { (cols[0], cols[1]) };
        qrels.entry(q.to_string()).or_default().insert(d.to_string(), score);
    }
    Ok(BeirSet { corpus, queries, qrels })
}

/// Run the evaluation in a fresh temporary store (kept in `store_dir` if given).
pub fn run(
    dir: &Path,
    cfg_template: &EngineConfig,
    mode: Mode,
    run_file: Option<&Path>,
    store_dir: Option<PathBuf>,
    progress: &dyn Progress,
) -> Result<BeirReport> {
    let set = load(dir)?;
    let tmp = tempfile::tempdir().map_err(io_err(std::env::temp_dir()))?;
    let mut cfg = cfg_template.clone();
    cfg.data_dir = store_dir.unwrap_or_else(|| tmp.path().join("store"));
    let engine = Engine::open(cfg)?;
    let ingest = if engine.status(0)?.counts.files == set.corpus.len() as i64 {
        IngestReport::default()
    } else {
        ingest_documents(&engine, set.corpus, progress)?
    };
    evaluate(&engine, &set.queries, &set.qrels, mode, run_file, &dir.display().to_string(), ingest)
}

pub fn evaluate(
    engine: &Engine,
    queries: &HashMap<String, String>,
    qrels: &Qrels,
    mode: Mode,
    run_file: Option<&Path>,
    name: &str,
    ingest: IngestReport,
) -> Result<BeirReport> {
    let mut qids: Vec<&String> = qrels.keys().filter(|q| queries.contains_key(*q)).collect();
    qids.sort();
    // Warm up the encoders so the first query's latency is not model loading.
    if let Some(q) = qids.first() {
        let _ = engine.search(&SearchRequest { mode, ..SearchRequest::new(queries[*q].clone(), 10) });
    }
    let (mut nd, mut rc, mut mr) = (0.0, 0.0, 0.0);
    let mut lat = Vec::new();
    let mut runs = Vec::new();
    let t0 = Instant::now();
    for qid in &qids {
        let req = SearchRequest { mode, ..SearchRequest::new(queries[*qid].clone(), 100) };
        let t = Instant::now();
        let hits = engine.search(&req)?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        let ranked: Vec<String> = hits.iter().map(|h| h.path.clone()).collect();
        let rels = &qrels[*qid];
        nd += ndcg_at(&ranked, rels, 10);
        rc += recall_at(&ranked, rels, 100);
        mr += mrr_at(&ranked, rels, 10);
        runs.push(((*qid).clone(), hits.iter().map(|h| (h.path.clone(), h.score)).collect::<Vec<_>>()));
    }
    let total = t0.elapsed().as_secs_f64();
    let n = qids.len().max(1) as f64;
    if let Some(p) = run_file {
        super::write_trec_run(p, &runs, &format!("pith-{mode:?}").to_lowercase()).map_err(io_err(p))?;
    }
    Ok(BeirReport {
        dataset: name.to_string(),
        mode,
        queries: qids.len(),
        ndcg_at_10: nd / n,
        recall_at_100: rc / n,
        mrr_at_10: mr / n,
        queries_per_second: qids.len() as f64 / total.max(1e-9),
        latency_p50_ms: super::percentile(&lat, 50.0),
        latency_p95_ms: super::percentile(&lat, 95.0),
        ingest,
    })
}
