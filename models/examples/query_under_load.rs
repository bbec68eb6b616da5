//! Query-embedding latency while another thread embeds a large ingest batch:
//! `cargo run --release -p pith-models --example query_under_load FILE`.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let file = std::env::args().nth(1).expect("a file of lines");
    let texts: Vec<String> = std::fs::read_to_string(file).unwrap().lines().take(2000).map(String::from).collect();
    let cache = pith_models::ModelCache::from_env();
    let enc = Arc::new(pith_models::TextEncoder::load(&cache.root, &cache.dir("minilm-l6-v2-int8"), 2).unwrap());
    enc.embed(&["warm up"]).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let ingest = {
        let (enc, done) = (enc.clone(), done.clone());
        std::thread::spawn(move || {
            for w in texts.chunks(512) {
                let refs: Vec<&str> = w.iter().map(String::as_str).collect();
                enc.embed(&refs).unwrap();
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut lat = Vec::new();
    while !done.load(Ordering::SeqCst) {
        let t = Instant::now();
        enc.embed_one("what is the capital of portugal").unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ingest.join().unwrap();
    lat.sort_by(f64::total_cmp);
    let p = |x: f64| lat[((lat.len() as f64 - 1.0) * x) as usize];
    println!("{} queries during the ingest: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", lat.len(), p(0.5), p(0.99), p(1.0));
}
