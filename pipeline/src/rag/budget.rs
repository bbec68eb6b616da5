//! Which tokenizer counts a context's token budget: pith's own text
//! tokenizer by default (sentence counts are stored with it at ingest), or
//! the `tokenizer.json` of the user's LLM, registered under a name
//! (`pith tokenizers add NAME FILE`, kept in `<data>/tokenizers/NAME.json`)
//! so the budget is counted in the tokens the LLM will actually see.

use std::path::PathBuf;
use std::sync::Arc;

use tokenizers::Tokenizer;

use crate::engine::Engine;
use crate::error::{PipelineError, Result};

/// Name of pith's own tokenizer in requests.
pub const DEFAULT_TOKENIZER: &str = "pith";

/// Counts tokens of text (no special tokens).
#[derive(Clone)]
pub struct Counter {
    pub name: String,
    /// pith's own tokenizer: stored sentence counts apply.
    pub is_default: bool,
    tok: Arc<Tokenizer>,
}

impl Counter {
    pub fn new(name: &str, tok: Arc<Tokenizer>, is_default: bool) -> Counter {
        Counter { name: name.into(), is_default, tok }
    }

    pub fn count(&self, text: &str) -> usize {
        self.tok.encode(text, false).map(|e| e.len()).unwrap_or_else(|_| text.split_whitespace().count())
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

impl Engine {
    fn tokenizer_dir(&self) -> PathBuf {
        self.cfg.data_dir.join("tokenizers")
    }

    /// The counter for a request's `tokenizer` (pith's own when absent).
    pub fn token_counter(&self, name: Option<&str>) -> Result<Counter> {
        let name = name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(DEFAULT_TOKENIZER);
        if name == DEFAULT_TOKENIZER {
            let tok = self.encoders()?.text.raw_tokenizer().clone();
            return Ok(Counter::new(name, self.cached_tokenizer(name, || Ok(tok))?, true));
        }
        if !valid_name(name) {
            return Err(PipelineError::BadInput(format!("`{name}` is not a tokenizer name")));
        }
        let path = self.tokenizer_dir().join(format!("{name}.json"));
        let tok = self.cached_tokenizer(name, || {
            if !path.exists() {
                let known = self.tokenizers().unwrap_or_default().join(", ");
                return Err(PipelineError::BadInput(format!(
                    "no tokenizer `{name}` (registered: {DEFAULT_TOKENIZER}{}{known}; add one with `pith tokenizers add NAME FILE`)",
                    if known.is_empty() { "" } else { ", " }
                )));
            }
            let mut t = Tokenizer::from_file(&path).map_err(|e| PipelineError::Internal(format!("tokenizer {}: {e}", path.display())))?;
            // A file's own truncation or padding would cap or inflate every count.
            t.with_truncation(None).map_err(|e| PipelineError::Internal(e.to_string()))?;
            t.with_padding(None);
            Ok(t)
        })?;
        Ok(Counter::new(name, tok, false))
    }

    fn cached_tokenizer(&self, name: &str, load: impl FnOnce() -> Result<Tokenizer>) -> Result<Arc<Tokenizer>> {
        if let Some(t) = self.tokenizers.read().unwrap_or_else(|p| p.into_inner()).get(name) {
            return Ok(t.clone());
        }
        let t = Arc::new(load()?);
        self.tokenizers.write().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), t.clone());
        Ok(t)
    }

    /// Register a `tokenizer.json` under `name` (checked by loading it).
    pub fn add_tokenizer(&self, name: &str, file: &std::path::Path) -> Result<()> {
        if !valid_name(name) || name == DEFAULT_TOKENIZER {
            return Err(PipelineError::BadInput(format!(
                "`{name}` cannot name a tokenizer (letters, digits, - _ .; not `{DEFAULT_TOKENIZER}`)"
            )));
        }
        Tokenizer::from_file(file).map_err(|e| PipelineError::BadInput(format!("{} is not a tokenizer.json: {e}", file.display())))?;
        let dir = self.tokenizer_dir();
        std::fs::create_dir_all(&dir).map_err(|e| PipelineError::Internal(format!("{}: {e}", dir.display())))?;
        let tmp = dir.join(format!(".{name}.json.tmp"));
        std::fs::copy(file, &tmp).map_err(|e| PipelineError::Internal(format!("{}: {e}", file.display())))?;
        std::fs::rename(&tmp, dir.join(format!("{name}.json"))).map_err(|e| PipelineError::Internal(e.to_string()))?;
        self.tokenizers.write().unwrap_or_else(|p| p.into_inner()).remove(name);
        Ok(())
    }

    /// Registered tokenizer names (besides pith's own), sorted.
    pub fn tokenizers(&self) -> Result<Vec<String>> {
        let Ok(rd) = std::fs::read_dir(self.tokenizer_dir()) else { return Ok(Vec::new()) };
        let mut out: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".json")).map(String::from))
            .filter(|n| valid_name(n))
            .collect();
        out.sort();
        Ok(out)
    }
}
