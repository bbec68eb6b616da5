use std::path::{Path, PathBuf};

use pith_models::ModelCache;
use pith_pipeline::ingest::{ingest, IngestReport, NoProgress};
use pith_pipeline::{Engine, EngineConfig, SearchHit, SearchRequest};

pub fn models() -> ModelCache {
    let m = ModelCache::from_env();
    assert!(m.has("minilm-l6-v2-int8") && m.has("efficientnet-lite0"), "models missing in {}: run `make models`", m.root.display());
    m
}

pub fn testdata() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/testdata");
    assert!(p.join("skimage/chelsea.png").exists(), "test photos missing in {}: run `make testdata`", p.display());
    p
}

/// Copy the named scikit-image photos into `dir`.
pub fn photos(dir: &Path, names: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    for n in names {
        std::fs::copy(testdata().join("skimage").join(n), dir.join(n)).unwrap();
    }
}

pub fn config(data: &Path) -> EngineConfig {
    EngineConfig::new(data, models())
}

pub fn engine(data: &Path) -> Engine {
    Engine::open(config(data)).unwrap()
}

pub fn ingest_dir(e: &Engine, dir: &Path) -> IngestReport {
    ingest(e, &[dir.to_path_buf()], &NoProgress).unwrap()
}

/// Search with the relevance cut-off off (tests find items by name here).
pub fn search(e: &Engine, q: &str, k: usize) -> Vec<SearchHit> {
    e.search(&SearchRequest { min_relevance: Some(0.0), ..SearchRequest::new(q, k) }).unwrap()
}

pub fn file_name(h: &SearchHit) -> String {
    Path::new(&h.path).file_name().unwrap().to_string_lossy().into_owned()
}

/// The `pith` binary built next to this test binary (`cargo build -p pith`).
pub fn pith_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let p = exe.parent().unwrap().parent().unwrap().join("pith");
    assert!(p.exists(), "{} missing: run `cargo build -p pith` first (make test does)", p.display());
    p
}

/// A model cache in `dir` that links these models from the real one (so a
/// test can register a user-supplied model without touching the real cache).
pub fn linked_cache(dir: &Path, names: &[&str]) -> ModelCache {
    let real = models();
    let cache_dir = dir.join("models");
    std::fs::create_dir_all(&cache_dir).unwrap();
    for name in names {
        std::os::unix::fs::symlink(real.dir(name), cache_dir.join(name)).unwrap();
    }
    ModelCache::new(&cache_dir)
}
