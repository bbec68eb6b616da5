//! Search settings kept in the store (`pith config set KEY VALUE`),
//! validated here, and the per-search options they
//! give together with a request's own overrides.
//!
//! | key | values | default |
//! |---|---|---|
//! | `space.<label>.hubness` | none, csls, qbnorm, dbnorm | none |
//! | `search.fusion` | convex, rrf | convex |
//! | `search.semantic-ratio` | 0..1 (dense share in convex fusion) | 0.8 |
//! | `search.min-relevance` | 0..1 (hide hits below; 0 shows all) | the calibration's threshold (0.5) |
//! | `search.calibration` | JSON written by `pith calibrate`, or `default` | built in |
//! | `search.log-queries` | on, off (off also forgets the log) | off |
//! | `rag.sentence-vectors` | on, off (embed sentences at ingest for RAG contexts; off: on first use) | on |
//! | `rag.token-scorer` | lm (self-information under SmolLM2), llmlingua2 (a registered classifier); changing it forgets stored scores | lm |
//! | `rag.token-scores` | off, on, or comma-separated folders (score tokens with the LM at ingest there; elsewhere on first use) | off |
//! | `ocr.mode` | auto (photos that pass the text test, and scanned PDF pages), all (every photo), off | auto |
//! | `ocr.lang` | Tesseract languages installed, e.g. eng or eng+deu | eng |
//! | `ocr.timeout` | seconds one recognition may take (1–3600) | 60 |

use super::{Fusion, SearchRequest};
use crate::engine::Engine;
use crate::error::{PipelineError, Result};
use crate::hubness::Hubness;
use crate::relevance::Calibration;

/// The semantic ratio chosen on msmarco (docs/BENCHMARKS.md, "Fusion").
pub const DEFAULT_SEMANTIC_RATIO: f32 = 0.8;

/// What one search runs with.
#[derive(Debug, Clone)]
pub struct Options {
    pub fusion: Fusion,
    pub semantic_ratio: f32,
    pub min_relevance: f32,
    pub rrf_k: f32,
    pub calibration: Calibration,
}

fn unit(key: &str, v: &str) -> Result<f32> {
    match v.trim().parse::<f32>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(PipelineError::BadInput(format!("`{key}` takes a number from 0 to 1, got `{v}`"))),
    }
}

impl Engine {
    /// The store's calibration (fitted, or the built-in default).
    pub fn calibration(&self) -> Calibration {
        self.setting("search.calibration").and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default()
    }

    pub fn search_options(&self, req: &SearchRequest) -> Options {
        let calibration = self.calibration();
        let stored_f32 = |k: &str| self.setting(k).and_then(|v| v.parse::<f32>().ok());
        Options {
            fusion: req.fusion.or_else(|| self.setting("search.fusion").and_then(|f| Fusion::parse(&f))).unwrap_or_default(),
            semantic_ratio: req
                .semantic_ratio
                .or_else(|| stored_f32("search.semantic-ratio"))
                .unwrap_or(DEFAULT_SEMANTIC_RATIO)
                .clamp(0.0, 1.0),
            min_relevance: req.min_relevance.or_else(|| stored_f32("search.min-relevance")).unwrap_or(calibration.threshold),
            rrf_k: self.cfg.rrf_k,
            calibration,
        }
    }

    /// Whether searches are logged (opt-in) for the hubness query bank.
    pub fn logs_queries(&self) -> bool {
        self.setting("search.log-queries").as_deref() == Some("on")
    }

    /// Whether ingest embeds every sentence for RAG contexts (on unless
    /// `rag.sentence-vectors` is off).
    pub fn stores_sentence_vectors(&self) -> bool {
        self.setting("rag.sentence-vectors").as_deref() != Some("off")
    }

    /// OCR as configured, with the store's `ocr.*` settings applied.
    pub fn ocr_config(&self) -> crate::decode::ocr::OcrConfig {
        use crate::decode::ocr::OcrMode;
        let mut c = self.cfg.ocr.clone();
        match self.setting("ocr.mode").as_deref() {
            Some("all") => c.mode = OcrMode::All,
            Some("off") => c.mode = OcrMode::Off,
            Some("auto") => c.mode = OcrMode::Auto,
            _ => {}
        }
        if let Some(l) = self.setting("ocr.lang") {
            c.lang = l;
        }
        if let Some(t) = self.setting("ocr.timeout").and_then(|t| t.parse().ok()) {
            c.timeout_s = t;
        }
        c
    }

    /// Whether ingest scores this file's tokens with the LM
    /// (`rag.token-scores`: on, off, or folders).
    pub fn scores_tokens_for(&self, path: &str) -> bool {
        match self.setting("rag.token-scores").as_deref() {
            None | Some("off") => false,
            Some("on") => true,
            Some(dirs) => dirs.split(',').map(str::trim).filter(|d| !d.is_empty()).any(|d| {
                let d = d.trim_end_matches('/');
                path == d || path.starts_with(&format!("{d}/"))
            }),
        }
    }

    /// Remember a searched text, unless the writer is busy (an ingest batch
    /// being written): a search never waits to be logged.
    pub(crate) fn log_query(&self, q: &str) {
        let text: String = q.chars().take(512).collect();
        if text.is_empty() {
            return;
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        if let Some(store) = self.try_store() {
            if let Err(e) = store.log_query(&text, now) {
                tracing::warn!(error = %e, "could not log the query");
            }
        }
    }

    /// How many distinct queries the log holds.
    pub fn query_log_len(&self) -> Result<usize> {
        self.reader()?.count_logged_queries()
    }

    /// Add queries to the log as if they had been searched (`pith eval
    /// captions --query-log`: other users' queries, simulated).
    pub fn import_query_log(&self, queries: &[String]) -> Result<()> {
        let store = self.store()?;
        for (i, q) in queries.iter().enumerate() {
            let q = q.trim();
            if !q.is_empty() {
                store.log_query(&q.chars().take(512).collect::<String>(), i as i64)?;
            }
        }
        Ok(())
    }

    /// Validate and store a search setting (`None` or `default` clears it).
    pub fn set_setting(&self, key: &str, value: Option<&str>) -> Result<()> {
        let value = value.map(str::trim).filter(|v| !v.eq_ignore_ascii_case("default"));
        if let Some(v) = value {
            match key {
                "search.fusion" => {
                    Fusion::parse(v).ok_or_else(|| PipelineError::BadInput(format!("`search.fusion` is convex or rrf, got `{v}`")))?;
                }
                "search.semantic-ratio" | "search.min-relevance" => {
                    unit(key, v)?;
                }
                "search.log-queries" | "rag.sentence-vectors" => {
                    if !matches!(v, "on" | "off") {
                        return Err(PipelineError::BadInput(format!("`{key}` is on or off, got `{v}`")));
                    }
                }
                "rag.token-scorer" => {
                    if !matches!(v, "lm" | "llmlingua2") {
                        return Err(PipelineError::BadInput(format!("`rag.token-scorer` is lm or llmlingua2, got `{v}`")));
                    }
                }
                "rag.token-scores" => {
                    if !matches!(v, "on" | "off") && v.split(',').any(|p| !std::path::Path::new(p.trim()).is_absolute()) {
                        return Err(PipelineError::BadInput(format!(
                            "`rag.token-scores` is on, off, or absolute folders separated by commas, got `{v}`"
                        )));
                    }
                }
                "ocr.mode" => {
                    if !matches!(v, "auto" | "all" | "off") {
                        return Err(PipelineError::BadInput(format!("`ocr.mode` is auto, all or off, got `{v}`")));
                    }
                }
                "ocr.lang" => {
                    if v.is_empty() || !v.split('+').all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) {
                        return Err(PipelineError::BadInput(format!(
                            "`ocr.lang` is Tesseract language codes joined by +, e.g. eng+deu, got `{v}`"
                        )));
                    }
                }
                "ocr.timeout" => {
                    if !v.parse::<f64>().is_ok_and(|t| (1.0..=3600.0).contains(&t)) {
                        return Err(PipelineError::BadInput(format!("`ocr.timeout` is seconds from 1 to 3600, got `{v}`")));
                    }
                }
                "search.calibration" => {
                    serde_json::from_str::<Calibration>(v)
                        .map_err(|e| PipelineError::BadInput(format!("`search.calibration` is not a calibration: {e}")))?;
                }
                k if k.strip_prefix("space.").and_then(|r| r.strip_suffix(".hubness")).is_some_and(|l| !l.is_empty()) => {
                    let label = k.strip_prefix("space.").and_then(|r| r.strip_suffix(".hubness")).unwrap_or_default();
                    if !self.spaces().iter().any(|s| s.row.label == label) {
                        return Err(PipelineError::BadInput(format!("no space `{label}`")));
                    }
                    Hubness::parse(v)
                        .ok_or_else(|| PipelineError::BadInput(format!("`{k}` is none, csls, qbnorm or dbnorm, got `{v}`")))?;
                }
                _ => return Err(PipelineError::BadInput(format!("unknown setting `{key}`"))),
            }
        }
        self.put_setting(key, value)?;
        // Off (or back to the default, off) forgets what was logged; the
        // setting is stored first, so no search logs after the clear.
        if key == "search.log-queries" && value.is_none_or(|v| v == "off") {
            self.store()?.clear_query_log()?;
        }
        // Scores from another scorer mean something else: forget them.
        if key == "rag.token-scorer" {
            self.store()?.clear_token_bits()?;
        }
        Ok(())
    }
}
