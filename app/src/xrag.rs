//! `pith xrag tune` / `pith xrag reset`: fine-tune the xRAG bridge on the
//! store's own text. Training is PyTorch (`scripts/train_xrag.py`, compiled
//! into this binary and written to the work folder, so an installed `pith`
//! needs no checkout), started from the shipped bridge's weights; the run
//! is copied out by `scripts/ship_xrag.py` and registered in the model
//! cache as `xrag-bridge-tuned`. Its new identity makes stored tokens of
//! the old bridge stale: they are remade on use.

use std::path::Path;
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use pith_models::catalog::{TEXT_MODEL, XRAG_MODEL, XRAG_TUNED_MODEL};
use pith_pipeline::{Engine, EngineConfig};

use crate::cli::XragCmd;

const SCRIPTS: [(&str, &str); 3] = [
    ("train_xrag.py", include_str!("../../scripts/train_xrag.py")),
    ("export_smollm2.py", include_str!("../../scripts/export_smollm2.py")),
    ("ship_xrag.py", include_str!("../../scripts/ship_xrag.py")),
];

pub fn run(cfg: EngineConfig, cmd: XragCmd) -> Result<()> {
    let tuned = cfg.models.dir(XRAG_TUNED_MODEL);
    match cmd {
        XragCmd::Reset => {
            if tuned.exists() {
                std::fs::remove_dir_all(&tuned).with_context(|| format!("removing {}", tuned.display()))?;
                println!("removed {}: the shipped bridge is used again (restart a running `pith serve`)", tuned.display());
            } else {
                println!("no tuned bridge: the shipped one is in use");
            }
            Ok(())
        }
        XragCmd::Tune { steps, minutes, lr, eval_n, max_bytes, python } => {
            if !cfg.models.has(XRAG_MODEL) {
                bail!("the shipped xRAG bridge is not installed: run `make models`");
            }
            let work = cfg.data_dir.join("xrag-tune");
            let texts = {
                let engine = Engine::open_read_only(cfg.clone())?;
                engine.texts_for_xrag(max_bytes)?
            };
            if texts.is_empty() {
                bail!("the store has no text to train on: ingest some documents first");
            }
            let _ = std::fs::remove_dir_all(&work);
            std::fs::create_dir_all(work.join("scripts"))?;
            for (name, body) in SCRIPTS {
                std::fs::write(work.join("scripts").join(name), body)?;
            }
            std::fs::write(work.join("texts.json"), serde_json::to_vec(&texts)?)?;
            let bytes: usize = texts.iter().map(String::len).sum();
            println!("training on {} texts ({:.1} MB) from the store; this takes minutes", texts.len(), bytes as f64 / 1e6);
            let run_dir = work.join("run");
            let status = Command::new(&python)
                .arg(work.join("scripts/train_xrag.py"))
                .args(["--out".as_ref(), run_dir.as_os_str()])
                .args(["--texts".as_ref(), work.join("texts.json").as_os_str()])
                .args(["--init-onnx".as_ref(), cfg.models.dir(XRAG_MODEL).join("bridge.onnx").as_os_str()])
                .args(["--cache".as_ref(), work.join("cache").as_os_str()])
                .args(["--minilm".as_ref(), cfg.models.dir(TEXT_MODEL).as_os_str()])
                .args(["--steps", &steps.to_string(), "--max-minutes", &minutes.to_string(), "--lr", &lr.to_string()])
                .args(["--warmup", &(steps / 10).clamp(1, 30).to_string(), "--eval-n", &eval_n.to_string()])
                .args(["--threads", &cfg.threads.max(1).to_string()])
                .status()
                .with_context(|| format!("starting {} (a python with torch: `make models` installs Debian's)", python.display()))?;
            if !status.success() {
                bail!("training failed ({status}); its log is above");
            }
            let shipped = work.join("shipped");
            let status = Command::new(&python)
                .arg(work.join("scripts/ship_xrag.py"))
                .arg(&run_dir)
                .args(["--dest".as_ref(), shipped.as_os_str(), "--minilm".as_ref(), cfg.models.dir(TEXT_MODEL).as_os_str()])
                .status()?;
            if !status.success() {
                bail!("copying the trained bridge failed ({status})");
            }
            let m = pith_models::Bridge::register(&cfg.models.root, &shipped, &tuned)?;
            report(&tuned, &m.name)?;
            Ok(())
        }
    }
}

fn report(dir: &Path, name: &str) -> Result<()> {
    let ev: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("eval.json"))?)?;
    let n = ev["heldout_chunks_scored"].as_u64().unwrap_or(0);
    let bridge = pith_models::ModelCache::new(dir.parent().ok_or_else(|| anyhow!("no parent"))?).model_id(name).unwrap_or_default();
    if n > 0 {
        println!(
            "registered {bridge}: on {n} held-out chunks of your text its token closes {:.1}% of the gap to the full text (another chunk's: {:.1}%)",
            ev["gap_closed_b"].as_f64().unwrap_or(0.0) * 100.0,
            ev["gap_closed_c"].as_f64().unwrap_or(0.0) * 100.0
        );
    } else {
        println!("registered {bridge} (too little text to hold any out for a score)");
    }
    println!("xRAG now uses it (restart a running `pith serve`); `pith xrag reset` goes back to the shipped bridge");
    Ok(())
}
