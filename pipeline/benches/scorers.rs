//! The inner loops of compressed search, so a regression shows as a number:
//! a prepared query scored against one code (int8 dot, binary lookup tables,
//! PQ asymmetric tables), two binary codes compared by popcount, and a
//! float32 dot for scale. `cargo bench -p pith-pipeline --bench scorers`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use pith_pipeline::quant::{self, CodecSpec, Rng};

const DIM: usize = 384;

fn vectors(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n * DIM);
    for _ in 0..n {
        let mut v: Vec<f32> = (0..DIM).map(|_| (rng.next_u64() % 2000) as f32 / 1000.0 - 1.0).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        out.extend(v);
    }
    out
}

fn scorers(c: &mut Criterion) {
    let data = vectors(2000, 1);
    let q = &vectors(1, 2)[..];
    let mut g = c.benchmark_group("score one code (384-d)");
    for name in ["f32", "f16", "int8", "int4", "binary", "rbq2", "pq16", "pq32"] {
        let spec: CodecSpec = name.parse().unwrap();
        let codec = quant::train(&spec, DIM, &data, None).unwrap();
        let codes = quant::encode_all(codec.as_ref(), &data);
        let w = codec.code_words();
        let prepared = codec.prepare(q);
        g.bench_function(format!("{name} ({} B)", codec.code_bytes()), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % 2000;
                black_box(codec.score(&prepared, &codes[i * w..(i + 1) * w]))
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("compare two codes (graph building)");
    for name in ["f32", "int8", "binary", "pq16"] {
        let codec = quant::train(&name.parse().unwrap(), DIM, &data, None).unwrap();
        let codes = quant::encode_all(codec.as_ref(), &data);
        let w = codec.code_words();
        g.bench_function(name, |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % 1999;
                black_box(codec.distance(&codes[i * w..(i + 1) * w], &codes[(i + 1) * w..(i + 2) * w]))
            })
        });
    }
    g.finish();
    c.bench_function("prepare a query: pq16 tables", |b| {
        let codec = quant::train(&"pq16".parse().unwrap(), DIM, &data, None).unwrap();
        b.iter(|| black_box(codec.prepare(q)))
    });
    c.bench_function("prepare a query: binary byte tables", |b| {
        let codec = quant::train(&"binary".parse().unwrap(), DIM, &data, None).unwrap();
        b.iter(|| black_box(codec.prepare(q)))
    });
}

criterion_group!(benches, scorers);
criterion_main!(benches);
