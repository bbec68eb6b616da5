//! Search latency of one vector index while another thread inserts into it
//! (the watcher's ingest): max and p99 search time, with and without inserts.
//!
//!     cargo run --release -p pith-pipeline --example ann_contention
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use pith_pipeline::ids::ChunkId;
use pith_pipeline::index::vector::VectorIndex;

fn unit(seed: u64, dim: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut v: Vec<f32> = (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 2000) as f32 / 1000.0 - 1.0
        })
        .collect();
    pith_models::l2_normalize(&mut v);
    v
}

fn main() {
    let dim = 384;
    let ix = Arc::new(VectorIndex::empty("t", dim));
    let base: Vec<(ChunkId, Vec<f32>)> = (0..5000).map(|i| (ChunkId(i), unit(i as u64, dim))).collect();
    ix.insert(&base);
    for phase in ["idle", "while inserting 2000 in batches of 512"] {
        let stop = Arc::new(AtomicBool::new(false));
        let writer = (phase != "idle").then(|| {
            let (ix, stop) = (ix.clone(), stop.clone());
            std::thread::spawn(move || {
                for b in 0..4 {
                    let batch: Vec<(ChunkId, Vec<f32>)> =
                        (0..512).map(|j| (ChunkId(10_000 + b * 512 + j), unit((10_000 + b * 512 + j) as u64, dim))).collect();
                    ix.insert(&batch);
                }
                stop.store(true, Ordering::SeqCst);
            })
        });
        let mut lat = Vec::new();
        let t0 = Instant::now();
        let mut i = 0u64;
        while (writer.is_some() && !stop.load(Ordering::SeqCst)) || (writer.is_none() && t0.elapsed().as_secs_f64() < 3.0) {
            let q = unit(1_000_000 + i, dim);
            i += 1;
            let t = Instant::now();
            ix.search(&q, 100, None);
            lat.push(t.elapsed().as_secs_f64() * 1e3);
        }
        if let Some(w) = writer {
            w.join().unwrap();
        }
        lat.sort_by(f64::total_cmp);
        let p = |x: f64| lat[((lat.len() as f64 - 1.0) * x) as usize];
        println!(
            "{phase}: {} searches, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {:.1} s",
            lat.len(),
            p(0.5),
            p(0.99),
            p(1.0),
            t0.elapsed().as_secs_f64()
        );
    }
}
