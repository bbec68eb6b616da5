//! `pith eval beir`: ingest a BEIR-layout corpus into a temporary store, run
//! its test queries, score them, and optionally write a TREC run file.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::cutoff::{self, CutoffReport, Judged};
use super::metrics::{mrr_at, ndcg_at, recall_at, Qrels};
use crate::engine::{Engine, EngineConfig};
use crate::error::{io_err, PipelineError, Result};
use crate::ingest::{ingest_documents, IngestReport, Progress};
use crate::search::{Fusion, Mode, SearchRequest};

/// One search setting compared on the set (`pith eval beir --fusion ...`).
#[derive(Debug, Clone, Serialize)]
pub struct BeirRow {
    /// `bm25`, `vector`, `rrf`, `convex`, `convex@0.5`, ...
    pub setting: String,
    pub ndcg_at_10: f64,
    pub recall_at_100: f64,
    pub mrr_at_10: f64,
    pub latency_p50_ms: f64,
    /// The relevance cut-off over plain top-10 (graded qrels: grade ≥ 1 is relevant).
    pub cutoff: CutoffReport,
}

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
    /// Every setting asked for; the fields above are the first one's.
    pub rows: Vec<BeirRow>,
    /// Top-10 hits with features, first setting (for `pith calibrate`).
    #[serde(skip)]
    pub judged: Vec<Judged>,
}

/// A search setting to evaluate: mode, fusion and semantic ratio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setting {
    pub mode: Mode,
    pub fusion: Option<Fusion>,
    pub semantic_ratio: Option<f32>,
}

impl Setting {
    /// `bm25`, `vector`, `hybrid` (store defaults), `rrf`, `convex`, `convex@0.5`.
    pub fn parse(s: &str) -> Option<Setting> {
        let plain = |mode| Some(Setting { mode, fusion: None, semantic_ratio: None });
        match s.trim() {
            "bm25" => plain(Mode::Bm25),
            "vector" => plain(Mode::Vector),
            "hybrid" => plain(Mode::Hybrid),
            other => {
                let (f, ratio) = match other.split_once('@') {
                    Some((f, r)) => (f, Some(r.parse::<f32>().ok().filter(|r| (0.0..=1.0).contains(r))?)),
                    None => (other, None),
                };
                Some(Setting { mode: Mode::Hybrid, fusion: Some(Fusion::parse(f)?), semantic_ratio: ratio })
            }
        }
    }

    pub fn label(&self) -> String {
        match (self.mode, self.fusion, self.semantic_ratio) {
            (Mode::Bm25, ..) => "bm25".into(),
            (Mode::Vector, ..) => "vector".into(),
            (_, None, None) => "hybrid".into(),
            (_, f, r) => format!("{}{}", f.map_or("hybrid", |f| f.as_str()), r.map(|r| format!("@{r}")).unwrap_or_default()),
        }
    }
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
#[allow(clippy::too_many_arguments)]
pub fn run(
    dir: &Path,
    cfg_template: &EngineConfig,
    settings: &[Setting],
    run_file: Option<&Path>,
    store_dir: Option<PathBuf>,
    progress: &dyn Progress,
    absent: &[String],
    dump: Option<&Path>,
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
    if let Some(p) = dump {
        dump_lists(&engine, &set.queries, &set.qrels, p)?;
    }
    let mut report = evaluate(&engine, &set.queries, &set.qrels, settings, run_file, &dir.display().to_string(), ingest)?;
    report.judged.extend(judge_absent(&engine, absent)?);
    Ok(report)
}

/// The top-10 hits of queries about things the collection does not hold:
/// every one is non-relevant (negatives for `pith calibrate`).
pub fn judge_absent(engine: &Engine, absent: &[String]) -> Result<Vec<Judged>> {
    let mut out = Vec::new();
    for q in absent {
        let req = SearchRequest { min_relevance: Some(0.0), ..SearchRequest::new(q.clone(), 10) };
        out.extend(engine.search(&req)?.iter().filter_map(|h| Judged::of(h, false)));
    }
    Ok(out)
}

/// Every query's raw candidate lists, collapsed to documents: one JSON line
/// per query, `{"qid", "lists": {"text": [[doc, score], ...], "bm25": ...},
/// "qrels": {doc: grade}}`, for studying fusion and calibration offline.
pub fn dump_lists(engine: &Engine, queries: &HashMap<String, String>, qrels: &Qrels, path: &Path) -> Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io_err(path))?);
    let mut qids: Vec<&String> = qrels.keys().filter(|q| queries.contains_key(*q)).collect();
    qids.sort();
    for qid in qids {
        let lists = engine.retrieve_chunks(&SearchRequest::new(queries[qid].clone(), 100))?;
        let ids: Vec<crate::ids::ChunkId> = lists.iter().flat_map(|l| l.hits.iter().map(|h| h.0)).collect();
        let owner = engine.reader()?.items_of_chunks(&ids)?;
        let mut out = serde_json::Map::new();
        for l in &lists {
            let mut seen = std::collections::HashSet::new();
            let mut docs = Vec::new();
            for (c, s) in &l.hits {
                let Some(item) = owner.get(c) else { continue };
                if seen.insert(*item) {
                    let raw = l.raw.get(c).copied().unwrap_or(*s);
                    docs.push(serde_json::json!([engine.item(*item)?.path, raw]));
                }
            }
            out.insert(l.name.to_string(), serde_json::Value::Array(docs));
        }
        let line = serde_json::json!({"qid": qid, "query": queries[qid], "lists": out, "qrels": qrels[qid]});
        writeln!(f, "{line}").map_err(io_err(path))?;
    }
    f.flush().map_err(io_err(path))
}

pub fn evaluate(
    engine: &Engine,
    queries: &HashMap<String, String>,
    qrels: &Qrels,
    settings: &[Setting],
    run_file: Option<&Path>,
    name: &str,
    ingest: IngestReport,
) -> Result<BeirReport> {
    let mut qids: Vec<&String> = qrels.keys().filter(|q| queries.contains_key(*q)).collect();
    qids.sort();
    let first = settings.first().copied().unwrap_or(Setting { mode: Mode::Hybrid, fusion: None, semantic_ratio: None });
    // Warm up the encoders so the first query's latency is not model loading.
    if let Some(q) = qids.first() {
        let _ = engine.search(&SearchRequest::new(queries[*q].clone(), 10));
    }
    let threshold = engine.search_options(&SearchRequest::new("", 1)).min_relevance;
    let mut rows = Vec::new();
    let (mut qps, mut p95, mut judged_first) = (0.0, 0.0, Vec::new());
    for (si, st) in settings.iter().enumerate() {
        let (mut nd, mut rc, mut mr) = (0.0, 0.0, 0.0);
        let mut lat = Vec::new();
        let mut runs = Vec::new();
        let mut judged = Vec::new();
        let t0 = Instant::now();
        for qid in &qids {
            let req = SearchRequest {
                mode: st.mode,
                fusion: st.fusion,
                semantic_ratio: st.semantic_ratio,
                min_relevance: Some(0.0),
                ..SearchRequest::new(queries[*qid].clone(), 100)
            };
            let t = Instant::now();
            let hits = engine.search(&req)?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            let ranked: Vec<String> = hits.iter().map(|h| h.path.clone()).collect();
            let rels = &qrels[*qid];
            nd += ndcg_at(&ranked, rels, 10);
            rc += recall_at(&ranked, rels, 100);
            mr += mrr_at(&ranked, rels, 10);
            judged.extend(hits.iter().take(10).filter_map(|h| Judged::of(h, rels.get(&h.path).is_some_and(|g| *g > 0))));
            runs.push(((*qid).clone(), hits.iter().map(|h| (h.path.clone(), h.score)).collect::<Vec<_>>()));
        }
        let total = t0.elapsed().as_secs_f64();
        let n = qids.len().max(1) as f64;
        if let Some(p) = run_file {
            let path = if si == 0 { p.to_path_buf() } else { p.with_extension(format!("{}.run", st.label())) };
            super::write_trec_run(&path, &runs, &format!("pith-{}", st.label())).map_err(io_err(p))?;
        }
        if si == 0 {
            qps = qids.len() as f64 / total.max(1e-9);
            p95 = super::percentile(&lat, 95.0);
            judged_first = judged.clone();
        }
        rows.push(BeirRow {
            setting: st.label(),
            ndcg_at_10: nd / n,
            recall_at_100: rc / n,
            mrr_at_10: mr / n,
            latency_p50_ms: super::percentile(&lat, 50.0),
            cutoff: cutoff::report(&judged, threshold),
        });
    }
    let r0 = rows.first().cloned().ok_or_else(|| PipelineError::BadInput("no search setting to evaluate".into()))?;
    Ok(BeirReport {
        dataset: name.to_string(),
        mode: first.mode,
        queries: qids.len(),
        ndcg_at_10: r0.ndcg_at_10,
        recall_at_100: r0.recall_at_100,
        mrr_at_10: r0.mrr_at_10,
        queries_per_second: qps,
        latency_p50_ms: r0.latency_p50_ms,
        latency_p95_ms: p95,
        ingest,
        rows,
        judged: judged_first,
    })
}
