//! Whisper's log-mel front end, as openai-whisper's `audio.py` computes it:
//! 16 kHz audio padded or cut to 30 s, a centred STFT (n_fft 400, hop 160,
//! periodic Hann window, reflect padding), the power spectrum times 80 Slaney
//! mel filters (librosa's `filters.mel`), `log10` clamped at 1e-10, floored at
//! the window's maximum minus 8, then `(x + 4) / 4`.
//!
//! `scripts/whisper_reference.py` computes the same in numpy and checks its
//! filters against openai-whisper's `mel_filters.npz`; the test below and
//! `examples/whisper_mel.rs` compare this code with that script.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

pub const SAMPLE_RATE: usize = 16_000;
pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
pub const N_MELS: usize = 80;
/// Samples in one 30 s window and mel frames in it.
pub const N_SAMPLES: usize = SAMPLE_RATE * 30;
pub const N_FRAMES: usize = N_SAMPLES / HOP;

pub struct MelFrontEnd {
    filters: Vec<f32>,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl Default for MelFrontEnd {
    fn default() -> Self {
        Self::new()
    }
}

impl MelFrontEnd {
    pub fn new() -> Self {
        let window = (0..N_FFT).map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32).collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        MelFrontEnd { filters: slaney_filters(), window, fft }
    }

    /// The filter bank, row-major [80, 201].
    pub fn filters(&self) -> &[f32] {
        &self.filters
    }

    /// Log-mel [80, 3000] (row-major) of one window; `audio` longer than
    /// 30 s is cut, shorter is padded with zeros.
    pub fn log_mel(&self, audio: &[f32]) -> Vec<f32> {
        let bins = N_FFT / 2 + 1;
        let pad = N_FFT / 2;
        let mut x = vec![0f32; N_SAMPLES + 2 * pad];
        let n = audio.len().min(N_SAMPLES);
        x[pad..pad + n].copy_from_slice(&audio[..n]);
        // Reflect padding (torch.stft center=True): x[-i] = x[i], x[len-1+i] = x[len-1-i].
        for i in 1..=pad {
            x[pad - i] = x[pad + i];
            x[pad + N_SAMPLES - 1 + i] = x[pad + N_SAMPLES - 1 - i];
        }
        let mut frame = self.fft.make_input_vec();
        let mut spec = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f32; bins];
        let mut mel = vec![0f32; N_MELS * N_FRAMES];
        for t in 0..N_FRAMES {
            let s = &x[t * HOP..t * HOP + N_FFT];
            for ((f, v), w) in frame.iter_mut().zip(s).zip(&self.window) {
                *f = v * w;
            }
            self.fft.process_with_scratch(&mut frame, &mut spec, &mut scratch).expect("buffer sizes come from the plan");
            for (p, c) in power.iter_mut().zip(&spec) {
                *p = c.re * c.re + c.im * c.im;
            }
            for m in 0..N_MELS {
                let row = &self.filters[m * bins..(m + 1) * bins];
                mel[m * N_FRAMES + t] = row.iter().zip(&power).map(|(a, b)| a * b).sum();
            }
        }
        let mut max = f32::NEG_INFINITY;
        for v in mel.iter_mut() {
            *v = v.max(1e-10).log10();
            max = max.max(*v);
        }
        for v in mel.iter_mut() {
            *v = (v.max(max - 8.0) + 4.0) / 4.0;
        }
        mel
    }
}

fn hz_to_mel(f: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let (min_log_mel, logstep) = (min_log_hz / f_sp, (6.4f64).ln() / 27.0);
    if f >= min_log_hz {
        min_log_mel + (f / min_log_hz).ln() / logstep
    } else {
        f / f_sp
    }
}

fn mel_to_hz(m: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let (min_log_mel, logstep) = (min_log_hz / f_sp, (6.4f64).ln() / 27.0);
    if m >= min_log_mel {
        min_log_hz * (logstep * (m - min_log_mel)).exp()
    } else {
        f_sp * m
    }
}

/// librosa.filters.mel(sr=16000, n_fft=400, n_mels=80): Slaney scale and area norm.
fn slaney_filters() -> Vec<f32> {
    let bins = N_FFT / 2 + 1;
    let nyquist = SAMPLE_RATE as f64 / 2.0;
    let fft: Vec<f64> = (0..bins).map(|i| nyquist * i as f64 / (bins - 1) as f64).collect();
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(nyquist));
    let pts: Vec<f64> = (0..N_MELS + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (N_MELS + 1) as f64)).collect();
    let mut w = vec![0f32; N_MELS * bins];
    for m in 0..N_MELS {
        let enorm = 2.0 / (pts[m + 2] - pts[m]);
        for (k, f) in fft.iter().enumerate() {
            let lower = (f - pts[m]) / (pts[m + 1] - pts[m]);
            let upper = (pts[m + 2] - f) / (pts[m + 2] - pts[m + 1]);
            w[m * bins + k] = (lower.min(upper).max(0.0) * enorm) as f32;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pure_tone_lands_in_the_mel_bin_of_its_frequency() {
        let fe = MelFrontEnd::new();
        let tone: Vec<f32> =
            (0..SAMPLE_RATE).map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / SAMPLE_RATE as f32).sin() * 0.5).collect();
        let mel = fe.log_mel(&tone);
        assert_eq!(mel.len(), N_MELS * N_FRAMES);
        // Frame 50 (0.5 s) is inside the tone; its loudest mel band holds 1 kHz.
        let col: Vec<f32> = (0..N_MELS).map(|m| mel[m * N_FRAMES + 50]).collect();
        let best = col.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        let centre = |m: usize| mel_to_hz(hz_to_mel(0.0) + (hz_to_mel(8000.0) - hz_to_mel(0.0)) * (m + 1) as f64 / 81.0);
        assert!((centre(best) - 1000.0).abs() < 80.0, "band {best} centred at {} Hz", centre(best));
        // Silence after the tone sits at the floor: max - 8, scaled.
        let max = mel.iter().cloned().fold(f32::MIN, f32::max);
        assert!((mel[20 * N_FRAMES + 2000] - (max - 2.0)).abs() < 1e-5);
        for m in 0..N_MELS {
            let row = &fe.filters()[m * 201..(m + 1) * 201];
            assert!(row.iter().all(|&v| v >= 0.0) && row.iter().any(|&v| v > 0.0), "filter {m} empty");
        }
    }
}
