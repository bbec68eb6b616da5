//! `pith serve` and `pith watch`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use pith_pipeline::EngineConfig;

use crate::cli::ServeArgs;

pub fn serve(_cfg: EngineConfig, _args: ServeArgs) -> Result<()> {
    bail!("pith serve: not built yet")
}

pub fn watch_only(_cfg: EngineConfig, _dirs: Vec<PathBuf>) -> Result<()> {
    bail!("pith watch: not built yet")
}
