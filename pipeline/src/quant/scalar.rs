//! Scalar codecs: float32 (the reference), float16, and 8- or 4-bit scalar
//! quantisation with per-dimension ranges learnt from a sample.

use super::params::{Reader, Writer};
use super::{bytes_of, bytes_of_mut, Codec, CodecSpec};
use crate::error::Result;

pub struct F32 {
    pub dim: usize,
}

impl Codec for F32 {
    fn spec(&self) -> CodecSpec {
        CodecSpec::F32
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn code_words(&self) -> usize {
        self.dim
    }
    fn encode(&self, v: &[f32], code: &mut [u32]) {
        code.iter_mut().zip(v).for_each(|(c, x)| *c = x.to_bits());
    }
    fn decode(&self, code: &[u32], out: &mut [f32]) {
        out.iter_mut().zip(code).for_each(|(o, c)| *o = f32::from_bits(*c));
    }
    fn prepare(&self, q: &[f32]) -> Vec<f32> {
        q.to_vec()
    }
    fn score(&self, prepared: &[f32], code: &[u32]) -> f32 {
        pith_models::dot(&prepared[..self.dim], bytemuck::cast_slice(code))
    }
    fn distance(&self, a: &[u32], b: &[u32]) -> f32 {
        pith_models::l2_squared(bytemuck::cast_slice(a), bytemuck::cast_slice(b))
    }
    fn write_params(&self, _: &mut Writer) {}
}

pub struct F16 {
    pub dim: usize,
}

fn halves(code: &[u32]) -> impl Iterator<Item = f32> + '_ {
    bytemuck::cast_slice::<u32, u16>(code).iter().map(|h| half::f16::from_bits(*h).to_f32())
}

thread_local! {
    static WIDE: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Widen one or two f16 codes into per-thread float buffers (F16C when the
/// CPU has it) and run `f` on them.
fn widened<R>(dim: usize, a: &[u32], b: Option<&[u32]>, f: impl FnOnce(&[f32], &[f32]) -> R) -> R {
    use half::slice::HalfFloatSliceExt;
    WIDE.with(|w| {
        let (wa, wb) = &mut *w.borrow_mut();
        wa.resize(dim, 0.0);
        let ha: &[half::f16] = bytemuck::cast_slice(a);
        ha[..dim].convert_to_f32_slice(wa);
        if let Some(b) = b {
            wb.resize(dim, 0.0);
            let hb: &[half::f16] = bytemuck::cast_slice(b);
            hb[..dim].convert_to_f32_slice(wb);
        }
        f(wa, wb)
    })
}

impl Codec for F16 {
    fn spec(&self) -> CodecSpec {
        CodecSpec::F16
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn code_words(&self) -> usize {
        self.dim.div_ceil(2)
    }
    fn encode(&self, v: &[f32], code: &mut [u32]) {
        let h: &mut [u16] = bytemuck::cast_slice_mut(code);
        h.fill(0);
        h.iter_mut().zip(v).for_each(|(h, x)| *h = half::f16::from_f32(*x).to_bits());
    }
    fn decode(&self, code: &[u32], out: &mut [f32]) {
        out.iter_mut().zip(halves(code)).for_each(|(o, x)| *o = x);
    }
    fn prepare(&self, q: &[f32]) -> Vec<f32> {
        q.to_vec()
    }
    fn score(&self, prepared: &[f32], code: &[u32]) -> f32 {
        widened(self.dim, code, None, |x, _| pith_models::dot(&prepared[..self.dim], x))
    }
    fn distance(&self, a: &[u32], b: &[u32]) -> f32 {
        widened(self.dim, a, Some(b), pith_models::l2_squared)
    }
    fn write_params(&self, _: &mut Writer) {}
}

/// `bits`-bit scalar quantisation (8 or 4): `x ≈ lo + step · c`.
pub struct Sq {
    dim: usize,
    bits: u32,
    lo: Vec<f32>,
    step: Vec<f32>,
}

impl Sq {
    /// Ranges from the sample: min..max for 8 bits; for 4 bits the 0.1 % and
    /// 99.9 % quantiles, since 16 levels spent on outliers cost more than
    /// clipping them.
    pub fn train(dim: usize, sample: &[f32], bits: u32) -> Self {
        let n = sample.len() / dim;
        let levels = ((1u32 << bits) - 1) as f32;
        let (mut lo, mut step) = (vec![0f32; dim], vec![0f32; dim]);
        let mut col = Vec::with_capacity(n);
        for i in 0..dim {
            col.clear();
            col.extend(sample.iter().skip(i).step_by(dim).copied());
            col.sort_by(f32::total_cmp);
            let clip = if bits == 4 { n / 1000 } else { 0 };
            let (a, b) = (col[clip], col[n - 1 - clip]);
            lo[i] = a;
            step[i] = if b > a { (b - a) / levels } else { 1.0 };
        }
        Sq { dim, bits, lo, step }
    }

    pub fn read(dim: usize, bits: u32, r: &mut Reader) -> Result<Self> {
        Ok(Sq { dim, bits, lo: r.f32s(dim)?, step: r.f32s(dim)? })
    }

    fn level(&self, i: usize, x: f32) -> u8 {
        let max = ((1u32 << self.bits) - 1) as f32;
        ((x - self.lo[i]) / self.step[i]).round().clamp(0.0, max) as u8
    }

    /// Level of dimension `i` in a code's bytes.
    fn get(&self, bytes: &[u8], i: usize) -> u8 {
        if self.bits == 8 {
            bytes[i]
        } else {
            (bytes[i / 2] >> ((i % 2) * 4)) & 15
        }
    }
}

impl Codec for Sq {
    fn spec(&self) -> CodecSpec {
        if self.bits == 8 {
            CodecSpec::Int8
        } else {
            CodecSpec::Int4
        }
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn code_words(&self) -> usize {
        (self.dim * self.bits as usize).div_ceil(32)
    }
    fn encode(&self, v: &[f32], code: &mut [u32]) {
        let bytes = bytes_of_mut(code);
        bytes.fill(0);
        for (i, x) in v.iter().enumerate() {
            let c = self.level(i, *x);
            if self.bits == 8 {
                bytes[i] = c;
            } else {
                bytes[i / 2] |= c << ((i % 2) * 4);
            }
        }
    }
    fn decode(&self, code: &[u32], out: &mut [f32]) {
        let bytes = bytes_of(code);
        for (i, o) in out.iter_mut().enumerate().take(self.dim) {
            *o = self.lo[i] + self.step[i] * self.get(bytes, i) as f32;
        }
    }
    /// `q·x̂ = Σ q·lo + Σ (q·step)·c`: the per-dimension weights, then the constant.
    fn prepare(&self, q: &[f32]) -> Vec<f32> {
        let mut p: Vec<f32> = q.iter().zip(&self.step).map(|(q, s)| q * s).collect();
        p.push(q.iter().zip(&self.lo).map(|(q, l)| q * l).sum());
        p
    }
    fn score(&self, p: &[f32], code: &[u32]) -> f32 {
        let bytes = bytes_of(code);
        let d = self.dim;
        if self.bits == 8 {
            p[d] + weighted(&p[..d], &bytes[..d])
        } else {
            p[d] + nibbles(bytes, d, None, |c, _| weighted(&p[..d], c))
        }
    }
    fn distance(&self, a: &[u32], b: &[u32]) -> f32 {
        let (a, b) = (bytes_of(a), bytes_of(b));
        if self.bits == 8 {
            return step_l2(&self.step, &a[..self.dim], &b[..self.dim]);
        }
        nibbles(a, self.dim, Some(b), |x, y| step_l2(&self.step, x, y))
    }
    fn write_params(&self, w: &mut Writer) {
        w.f32s(&self.lo);
        w.f32s(&self.step);
    }
}

thread_local! {
    static UNPACKED: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Unpack one or two 4-bit codes to a level per byte (per-thread buffers), so
/// the 8-bit kernels score them.
fn nibbles<R>(a: &[u8], dim: usize, b: Option<&[u8]>, f: impl FnOnce(&[u8], &[u8]) -> R) -> R {
    fn unpack(src: &[u8], dim: usize, out: &mut Vec<u8>) {
        out.clear();
        out.extend(src[..dim.div_ceil(2)].iter().flat_map(|b| [b & 15, b >> 4]));
        out.truncate(dim);
    }
    UNPACKED.with(|u| {
        let (ua, ub) = &mut *u.borrow_mut();
        unpack(a, dim, ua);
        if let Some(b) = b {
            unpack(b, dim, ub);
        }
        f(ua, ub)
    })
}

pith_models::cpu_dispatch! {
    /// `Σ w_i · c_i` over bytes, vectorised (AVX2 when present).
    fn weighted(w: &[f32], c: &[u8]) -> f32 = "avx2" weighted_lanes
}

#[inline(always)]
fn weighted_lanes(w: &[f32], c: &[u8]) -> f32 {
    const L: usize = 16;
    let (cw, cc) = (w.chunks_exact(L), c.chunks_exact(L));
    let tail: f32 = cw.remainder().iter().zip(cc.remainder()).map(|(x, y)| x * *y as f32).sum();
    let mut acc = [0f32; L];
    for (x, y) in cw.zip(cc) {
        for i in 0..L {
            acc[i] += x[i] * y[i] as f32;
        }
    }
    acc.iter().sum::<f32>() + tail
}

pith_models::cpu_dispatch! {
    /// `Σ (s_i (a_i − b_i))²` over 8-bit levels, vectorised.
    fn step_l2(s: &[f32], a: &[u8], b: &[u8]) -> f32 = "avx2" step_l2_lanes
}

#[inline(always)]
fn step_l2_lanes(s: &[f32], a: &[u8], b: &[u8]) -> f32 {
    const L: usize = 16;
    let (cs, ca, cb) = (s.chunks_exact(L), a.chunks_exact(L), b.chunks_exact(L));
    let tail: f32 =
        cs.remainder().iter().zip(ca.remainder().iter().zip(cb.remainder())).map(|(s, (x, y))| (s * (*x as f32 - *y as f32)).powi(2)).sum();
    let mut acc = [0f32; L];
    for (s, (x, y)) in cs.zip(ca.zip(cb)) {
        for i in 0..L {
            let d = s[i] * (x[i] as f32 - y[i] as f32);
            acc[i] += d * d;
        }
    }
    acc.iter().sum::<f32>() + tail
}
