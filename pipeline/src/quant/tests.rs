use super::linalg::Rng;
use super::*;

/// `n` unit vectors around `centers` random centres in `dim` dimensions.
pub(crate) fn clustered(n: usize, dim: usize, centers: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut gauss = move || {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * (u + 1e-12).ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    };
    let cents: Vec<f32> = (0..centers * dim).map(|_| gauss()).collect();
    let mut out = Vec::with_capacity(n * dim);
    for i in 0..n {
        let c = &cents[(i % centers) * dim..(i % centers + 1) * dim];
        let mut v: Vec<f32> = c.iter().map(|x| x + 0.6 * gauss()).collect();
        pith_models::l2_normalize(&mut v);
        out.extend(v);
    }
    out
}

fn specs() -> Vec<CodecSpec> {
    ["f32", "f16", "int8", "int4", "binary", "rbq2", "rbq3", "rbq4", "pq16", "opq8", "pca16+int8", "pca16q+binary"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn top(scores: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    idx.truncate(k);
    idx
}

#[test]
fn every_codec_scores_as_its_decoded_vector_and_survives_a_save() {
    let dim = 32;
    let data = clustered(1200, dim, 20, 7);
    let queries = clustered(50, dim, 20, 99);
    for spec in specs() {
        let c = train(&spec, dim, &data, Some(&queries)).unwrap();
        assert_eq!(c.spec(), spec);
        assert_eq!(c.code_bytes(), spec.code_bytes(dim), "{spec}");
        let codes = encode_all(c.as_ref(), &data);
        let w = c.code_words();
        let back = from_bytes(&to_bytes(c.as_ref())).unwrap();
        let mut dec = vec![0f32; dim];
        let mut dec_b = vec![0f32; dim];
        for q in queries.chunks_exact(dim).take(5) {
            let p = c.prepare(q);
            assert_ne!(p.len() + 2, w, "{spec}: prepared queries must not look like codes");
            let pb = back.prepare(q);
            for (i, code) in codes.chunks_exact(w).take(200).enumerate() {
                c.decode(code, &mut dec);
                let want = dot(q, &dec);
                let got = c.score(&p, code);
                assert!((got - want).abs() < 1e-3 * (1.0 + want.abs()), "{spec}: score {got} vs decoded dot {want}");
                assert_eq!(got, back.score(&pb, code), "{spec}: reloaded codec scores differently");
                let other = &codes[((i + 1) % 200) * w..((i + 1) % 200 + 1) * w];
                c.decode(other, &mut dec_b);
                let l2: f32 = dec.iter().zip(&dec_b).map(|(a, b)| (a - b) * (a - b)).sum();
                assert!((c.distance(code, other) - l2).abs() < 1e-3 * (1.0 + l2), "{spec}: code distance");
            }
        }
        let mut again = vec![0u32; w];
        back.encode(&data[..dim], &mut again);
        assert_eq!(&again[..], &codes[..w], "{spec}: reloaded codec encodes differently");
    }
}

#[test]
fn reconstruction_error_shrinks_with_bits() {
    let dim = 32;
    let data = clustered(1200, dim, 20, 3);
    let err = |s: &str| {
        let c = train(&s.parse().unwrap(), dim, &data, None).unwrap();
        let mut out = vec![0f32; dim];
        let mut code = vec![0u32; c.code_words()];
        let mut total = 0f32;
        for row in data.chunks_exact(dim) {
            c.encode(row, &mut code);
            c.decode(&code, &mut out);
            total += row.iter().zip(&out).map(|(a, b)| (a - b) * (a - b)).sum::<f32>();
        }
        (total / (data.len() / dim) as f32).sqrt()
    };
    let e: Vec<(&str, f32)> = ["f32", "f16", "int8", "int4", "rbq4", "rbq3", "rbq2", "binary"].iter().map(|s| (*s, err(s))).collect();
    assert_eq!(e[0].1, 0.0);
    assert!(e[1].1 < 1e-3, "{e:?}");
    assert!(e[2].1 < 0.02, "{e:?}");
    for pair in e[1..].windows(2) {
        assert!(pair[0].1 < pair[1].1, "more bits must mean less error: {e:?}");
    }
    assert!(err("opq16") <= err("pq16") * 1.02, "OPQ should not be worse than PQ");
}

#[test]
fn recall_on_clustered_vectors_is_above_a_floor() {
    let dim = 128;
    let data = clustered(2000, dim, 40, 11);
    let queries = clustered(50, dim, 40, 12);
    let n = data.len() / dim;
    for (spec, floor_raw, floor_rerank) in [
        ("f32", 1.0, 1.0),
        ("int8", 0.9, 0.99),
        ("int4", 0.6, 0.97),
        ("binary", 0.2, 0.7),
        ("rbq4", 0.6, 0.98),
        ("pq16", 0.3, 0.9),
        ("pca32+int8", 0.2, 0.75),
    ] {
        let c = train(&spec.parse().unwrap(), dim, &data, None).unwrap();
        let codes = encode_all(c.as_ref(), &data);
        let w = c.code_words();
        let (mut hit_raw, mut hit_rr) = (0, 0);
        for q in queries.chunks_exact(dim) {
            let exact: Vec<f32> = data.chunks_exact(dim).map(|x| dot(q, x)).collect();
            let truth = top(&exact, 10);
            let p = c.prepare(q);
            let approx: Vec<f32> = (0..n).map(|i| c.score(&p, &codes[i * w..(i + 1) * w])).collect();
            let cand = top(&approx, 100);
            hit_raw += cand[..10].iter().filter(|i| truth.contains(i)).count();
            let mut rr: Vec<(usize, f32)> = cand.iter().map(|&i| (i, exact[i])).collect();
            rr.sort_by(|a, b| b.1.total_cmp(&a.1));
            hit_rr += rr[..10].iter().filter(|(i, _)| truth.contains(i)).count();
        }
        let total = (queries.len() / dim * 10) as f32;
        let (raw, rerank) = (hit_raw as f32 / total, hit_rr as f32 / total);
        assert!(
            raw >= floor_raw && rerank >= floor_rerank,
            "{spec}: recall@10 {raw} (floor {floor_raw}), re-ranked {rerank} (floor {floor_rerank})"
        );
    }
}

#[test]
fn pq_trained_on_ten_vectors_is_a_clear_error() {
    let data = clustered(10, 64, 2, 1);
    let e = train(&"pq16".parse().unwrap(), 64, &data, None).err().expect("must refuse").to_string();
    assert!(e.contains("at least 1000"), "{e}");
    let e = train(&"pq7".parse().unwrap(), 64, &clustered(2000, 64, 2, 1), None).err().expect("7 does not divide 64").to_string();
    assert!(e.contains("divisible"), "{e}");
    let mut bad = clustered(100, 64, 2, 1);
    bad[5] = f32::NAN;
    assert!(train(&CodecSpec::Int8, 64, &bad, None).is_err());
}

#[test]
fn codec_names_round_trip() {
    for s in ["f32", "f16", "int8", "int4", "binary", "rbq2", "pq16", "opq32", "pca96+int8", "pca64q+rbq2"] {
        assert_eq!(s.parse::<CodecSpec>().unwrap().to_string(), s);
    }
    for bad in ["pq", "rbq9", "pca+int8", "pca8+pca4+int8", "zstd"] {
        assert!(bad.parse::<CodecSpec>().is_err(), "{bad}");
    }
}
