//! Text-encoder throughput on a file of lines: `cargo run --release -p pith-models --example embed_speed FILE [threads] [window]`.
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let texts: Vec<String> = std::fs::read_to_string(&args[1]).unwrap().lines().map(String::from).collect();
    let threads = args.get(2).map_or(2, |s| s.parse().unwrap());
    let window = args.get(3).map_or(texts.len(), |s| s.parse().unwrap());
    let cache = pith_models::ModelCache::from_env();
    let enc = pith_models::TextEncoder::load(&cache.root, &cache.dir("minilm-l6-v2-int8"), threads).unwrap();
    enc.embed(&["warm up"]).unwrap();
    let t = Instant::now();
    for w in texts.chunks(window) {
        let refs: Vec<&str> = w.iter().map(String::as_str).collect();
        enc.embed(&refs).unwrap();
    }
    let s = t.elapsed().as_secs_f64();
    println!("{} texts in {s:.2}s = {:.1}/s (threads {threads}, window {window})", texts.len(), texts.len() as f64 / s);
}
