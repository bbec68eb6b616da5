//! The little linear algebra the codecs need, written out rather than pulling
//! a BLAS: k-means (PQ codebooks), a symmetric eigensolver (PCA, and the
//! polar factor behind OPQ's rotation), and a seeded generator so training is
//! reproducible.

/// splitmix64: deterministic, good enough to pick k-means seeds.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

fn l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Index of the centroid nearest to `x`.
pub fn nearest(x: &[f32], centroids: &[f32], d: usize) -> usize {
    let mut best = (f32::INFINITY, 0);
    for (c, cent) in centroids.chunks_exact(d).enumerate() {
        let dist = l2(x, cent);
        if dist < best.0 {
            best = (dist, c);
        }
    }
    best.1
}

/// Lloyd's k-means on `n` rows of `d` (flattened): `k` centroids, seeded
/// with distinct random rows; an emptied cluster is re-seeded by splitting
/// the largest one (as FAISS does).
pub fn kmeans(data: &[f32], d: usize, k: usize, iters: usize, seed: u64) -> Vec<f32> {
    let n = data.len() / d;
    let k = k.min(n).max(1);
    let mut rng = Rng::new(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for i in 0..k {
        let j = i + rng.below(n - i);
        order.swap(i, j);
    }
    let mut cent: Vec<f32> = order[..k].iter().flat_map(|&i| data[i * d..(i + 1) * d].iter().copied()).collect();
    let mut assign = vec![0usize; n];
    for _ in 0..iters {
        let mut changed = 0;
        for (i, row) in data.chunks_exact(d).enumerate() {
            let c = nearest(row, &cent, d);
            if c != assign[i] {
                changed += 1;
                assign[i] = c;
            }
        }
        let mut sums = vec![0f64; k * d];
        let mut counts = vec![0usize; k];
        for (row, &c) in data.chunks_exact(d).zip(&assign) {
            counts[c] += 1;
            sums[c * d..(c + 1) * d].iter_mut().zip(row).for_each(|(s, x)| *s += *x as f64);
        }
        for c in 0..k {
            if counts[c] > 0 {
                for j in 0..d {
                    cent[c * d + j] = (sums[c * d + j] / counts[c] as f64) as f32;
                }
            }
        }
        for c in 0..k {
            if counts[c] == 0 {
                let big = (0..k).max_by_key(|&i| counts[i]).unwrap_or(0);
                for j in 0..d {
                    let v = cent[big * d + j];
                    let eps = 1e-4 * (1.0 + v.abs());
                    cent[c * d + j] = v + eps;
                    cent[big * d + j] = v - eps;
                }
                counts[c] = counts[big] / 2;
                counts[big] -= counts[c];
            }
        }
        if changed == 0 {
            break;
        }
    }
    cent
}

/// Eigen-decomposition of a symmetric `n × n` matrix (row-major) by cyclic
/// Jacobi rotations. Returns eigenvalues in descending order and the
/// matching eigenvectors as rows.
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0f64; n * n];
    (0..n).for_each(|i| v[i * n + i] = 1.0);
    let norm: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
    for _sweep in 0..30 {
        let off: f64 = (0..n).flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| a[i * n + j].powi(2)).sum();
        if off.sqrt() < 1e-12 * norm {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]));
    let values = order.iter().map(|&i| a[i * n + i]).collect();
    let vectors = order.iter().flat_map(|&i| (0..n).map(move |k| (i, k))).map(|(i, k)| v[k * n + i]).collect();
    (values, vectors)
}

/// `Aᵀ B` for row-major `A` (`n × p`) and `B` (`n × q`): a `p × q` matrix.
pub fn at_b(a: &[f32], p: usize, b: &[f32], q: usize) -> Vec<f64> {
    let mut out = vec![0f64; p * q];
    for (ra, rb) in a.chunks_exact(p).zip(b.chunks_exact(q)) {
        for (i, x) in ra.iter().enumerate() {
            let x = *x as f64;
            let row = &mut out[i * q..(i + 1) * q];
            row.iter_mut().zip(rb).for_each(|(o, y)| *o += x * *y as f64);
        }
    }
    out
}

/// Multiply each row of `x` (`n × d`) by `m` (`d × e`, row-major): `x · m`.
pub fn times(x: &[f32], d: usize, m: &[f32], e: usize) -> Vec<f32> {
    let mut out = vec![0f32; (x.len() / d) * e];
    for (row, o) in x.chunks_exact(d).zip(out.chunks_exact_mut(e)) {
        for (i, xi) in row.iter().enumerate() {
            o.iter_mut().zip(&m[i * e..(i + 1) * e]).for_each(|(o, mij)| *o += xi * mij);
        }
    }
    out
}
