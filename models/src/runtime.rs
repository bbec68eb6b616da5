//! Loading ONNX Runtime itself. pith links it dynamically (the `load-dynamic`
//! feature) so no build step downloads binaries; the library comes from the
//! `onnxruntime` PyPI wheel via `make models`, `ORT_DYLIB_PATH`, or a copy next
//! to the `pith` binary.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::Session;

use crate::error::{ModelError, Result};
use crate::manifest::Manifest;

pub const LIB_NAME: &str = "libonnxruntime.so.1.32.0";

static ENV: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();

/// Where the runtime library is looked for, in order.
pub fn candidates(models_root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        out.push(PathBuf::from(p));
    }
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        out.push(dir.join(LIB_NAME));
        out.push(dir.join("libonnxruntime.so"));
    }
    out.push(models_root.join("onnxruntime").join(LIB_NAME));
    out
}

/// The process-wide ONNX Runtime environment, initialised on first use.
pub fn environment(models_root: &Path) -> Result<&'static Environment> {
    let env = ENV.get_or_init(|| init(models_root).map_err(|e| e.to_string()));
    env.as_ref().map_err(|e| ModelError::Ort(e.clone()))
}

fn init(models_root: &Path) -> Result<Environment> {
    let cands = candidates(models_root);
    let found = cands.iter().find(|p| p.exists()).cloned().ok_or_else(|| ModelError::RuntimeMissing {
        looked: cands.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
    })?;
    // The copy in the model cache has a manifest; verify it like any model.
    if found.starts_with(models_root) {
        Manifest::read_verified(&models_root.join("onnxruntime"))?;
    }
    let env =
        ort::init_from(&found).map_err(|e| ModelError::Ort(format!("loading {}: {e}", found.display())))?.with_name("pith").build()?;
    Ok(env)
}

/// Open a session with a fixed number of intra-op threads.
pub fn session(models_root: &Path, model: &Path, threads: usize) -> Result<Session> {
    session_with(models_root, model, threads, Memory::Default)
}

/// How a session trades memory for speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memory {
    /// ONNX Runtime's defaults: an arena, memory patterns, constants folded.
    Default,
    /// No CPU memory arena and no memory patterns. For graphs whose shapes
    /// change on every call (Whisper's decoder, its 1500-position encoder):
    /// the arena would keep every peak allocation for the life of the
    /// process. Costs a little speed, saves hundreds of MB.
    Lean,
    /// Weights stored as int8 with a `Cast`+`Mul` dequantisation in the
    /// graph (the MiniLM int8 export) stay int8: constant folding would turn
    /// them into a float32 copy of the whole model in every session (MiniLM:
    /// 23 MB on disk, ~95 MB more per session). They are dequantised layer by
    /// layer as each runs; memory patterns are off so the arena does not
    /// plan all of them at once. Ingest of a 250-page PDF: 399 MB instead
    /// of 630, 7% slower (docs/BENCHMARKS.md); the same vectors to 1e-7.
    KeepQuantized,
}

pub fn session_with(models_root: &Path, model: &Path, threads: usize, memory: Memory) -> Result<Session> {
    let env = environment(models_root)?;
    let mut builder = Session::builder(env)?;
    match memory {
        Memory::Default => {}
        Memory::Lean => {
            builder = builder
                .with_execution_providers([ort::ep::CPU::default().with_arena_allocator(false).build()])
                .map_err(ort::Error::<()>::from)?
                .with_memory_pattern(false)
                .map_err(ort::Error::<()>::from)?;
        }
        Memory::KeepQuantized => {
            builder = builder
                .with_disabled_optimizers("ConstantFolding")
                .map_err(ort::Error::<()>::from)?
                .with_memory_pattern(false)
                .map_err(ort::Error::<()>::from)?;
        }
    }
    let session = builder
        .with_optimization_level(ort::session::builder::GraphOptimizationLevel::All)
        .map_err(ort::Error::<()>::from)?
        .with_intra_threads(threads.max(1))
        .map_err(ort::Error::<()>::from)?
        .with_inter_threads(1)
        .map_err(ort::Error::<()>::from)?
        // Idle intra-op threads must not spin: decoding and serving share the cores.
        .with_intra_op_spinning(false)
        .map_err(ort::Error::<()>::from)?
        .commit_from_file(model)
        .map_err(|e| ModelError::Ort(format!("loading {}: {e}", model.display())))?;
    Ok(session)
}

/// Names of a session's inputs, in order.
pub fn input_names(s: &Session) -> Vec<String> {
    s.inputs().iter().map(|o| o.name().to_string()).collect()
}

pub fn output_names(s: &Session) -> Vec<String> {
    s.outputs().iter().map(|o| o.name().to_string()).collect()
}
