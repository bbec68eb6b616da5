//! Greedy decoding rules and window segmentation, written from openai-whisper's
//! `decoding.py` (SuppressBlank, SuppressTokens, ApplyTimestampRules) and
//! `transcribe.py` (cutting a window's tokens into timed segments and choosing
//! where the next window starts). Pure functions over token ids and logits, so
//! they are tested without a model.

/// Special token ids of an English-only Whisper vocabulary (tiny.en).
#[derive(Debug, Clone)]
pub struct Specials {
    pub eot: u32,
    pub sot: u32,
    pub no_timestamps: u32,
    /// `<|nocaptions|>`: its probability at the first step says "no speech".
    pub no_speech: u32,
    pub timestamp_begin: u32,
    /// Suppressed at every step (non-speech symbols, other special tokens).
    pub suppress: Vec<u32>,
    /// Suppressed at the first sampled step (a blank, end of text).
    pub suppress_begin: Vec<u32>,
}

/// Seconds per timestamp token, and mel frames per timestamp token.
pub const TIME_PRECISION: f64 = 0.02;
pub const FRAMES_PER_TIMESTAMP: usize = 2;
/// The first timestamp may be at most 1.0 s into the window.
const MAX_INITIAL_TIMESTAMP: u32 = 50;

/// Mask `logits` (one row, the vocabulary) for the next token after `seq`
/// (the tokens sampled so far in this window, prompt excluded).
pub fn apply_rules(logits: &mut [f32], seq: &[u32], sp: &Specials) {
    let neg = f32::NEG_INFINITY;
    let len = logits.len();
    let tb = (sp.timestamp_begin as usize).min(len);
    let eot = (sp.eot as usize).min(len);
    if seq.is_empty() {
        for &t in &sp.suppress_begin {
            set(logits, t as usize, neg);
        }
    }
    for &t in &sp.suppress {
        set(logits, t as usize, neg);
    }
    set(logits, sp.no_timestamps as usize, neg);
    let is_ts = |t: u32| t >= sp.timestamp_begin;
    let last_ts = seq.last().is_some_and(|&t| is_ts(t));
    let pen_ts = seq.len() < 2 || is_ts(seq[seq.len() - 2]);
    if last_ts {
        if pen_ts {
            logits[tb..].fill(neg);
        } else {
            logits[..eot].fill(neg);
        }
    }
    if let Some(&last) = seq.iter().rev().find(|&&t| is_ts(t)) {
        // Timestamps never decrease, and a segment has non-zero length.
        let upto = if last_ts && !pen_ts { last } else { last + 1 } as usize;
        logits[tb..upto.clamp(tb, len)].fill(neg);
    }
    if seq.is_empty() {
        logits[..tb].fill(neg);
        let last_allowed = tb + MAX_INITIAL_TIMESTAMP as usize;
        if last_allowed + 1 < len {
            logits[last_allowed + 1..].fill(neg);
        }
    }
    // If all timestamps together are likelier than any single text token, sample a timestamp.
    if tb < len {
        let max = logits.iter().cloned().fold(neg, f32::max);
        if max.is_finite() {
            let lse = max + logits.iter().map(|&l| (l - max).exp()).sum::<f32>().ln();
            let ts_max = logits[tb..].iter().cloned().fold(neg, f32::max);
            let ts_lp =
                if ts_max.is_finite() { ts_max + logits[tb..].iter().map(|&l| (l - ts_max).exp()).sum::<f32>().ln() - lse } else { neg };
            let text_max = logits[..tb].iter().cloned().fold(neg, f32::max) - lse;
            if ts_lp > text_max {
                logits[..tb].fill(neg);
            }
        }
    }
}

fn set(logits: &mut [f32], i: usize, v: f32) {
    if let Some(x) = logits.get_mut(i) {
        *x = v;
    }
}

/// openai-whisper's silence rule: a window whose first-step probability of
/// `<|nocaptions|>` is above 0.6 and whose sampled tokens average a log
/// probability below -1 holds no speech (its tokens would be a hallucination).
pub const NO_SPEECH_THRESHOLD: f32 = 0.6;
pub const LOGPROB_THRESHOLD: f32 = -1.0;

/// Log-softmax of one logit over the row.
pub fn log_prob(logits: &[f32], i: usize) -> f32 {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return f32::NEG_INFINITY;
    }
    let lse = max + logits.iter().map(|&l| (l - max).exp()).sum::<f32>().ln();
    logits.get(i).map_or(f32::NEG_INFINITY, |&l| l - lse)
}

/// Index of the largest logit.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// One window's tokens cut into segments: (start s, end s, text tokens), times
/// relative to the window; and how many mel frames the next window starts
/// after this one's start.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowCut {
    pub segments: Vec<(f64, f64, Vec<u32>)>,
    pub advance_frames: usize,
}

/// `size_frames`: mel frames of real audio in the window (3000, or fewer at the end).
pub fn cut_window(tokens: &[u32], size_frames: usize, sp: &Specials) -> WindowCut {
    let tb = sp.timestamp_begin;
    let is_ts: Vec<bool> = tokens.iter().map(|&t| t >= tb).collect();
    let n = tokens.len();
    let single_end = n >= 2 && !is_ts[n - 2] && is_ts[n - 1];
    let consecutive: Vec<usize> = (0..n.saturating_sub(1)).filter(|&i| is_ts[i] && is_ts[i + 1]).map(|i| i + 1).collect();
    let time = |t: u32| (t - tb) as f64 * TIME_PRECISION;
    let mut segments = Vec::new();
    if !consecutive.is_empty() {
        let mut slices = consecutive;
        if single_end {
            slices.push(n);
        }
        let mut last = 0;
        for &cur in &slices {
            let part = &tokens[last..cur];
            if part.len() >= 2 && part[0] >= tb && part[part.len() - 1] >= tb {
                let text: Vec<u32> = part[1..part.len() - 1].iter().copied().filter(|&t| t < sp.eot).collect();
                segments.push((time(part[0]), time(part[part.len() - 1]), text));
            }
            last = cur;
        }
        let advance = if single_end {
            size_frames
        } else {
            // Drop the unfinished segment; continue from the last complete timestamp.
            (tokens[last - 1].saturating_sub(tb)) as usize * FRAMES_PER_TIMESTAMP
        };
        WindowCut { segments, advance_frames: advance.max(1).min(size_frames.max(1)) }
    } else {
        let mut dur = size_frames as f64 * 0.01;
        if let Some(&last) = tokens.iter().rev().find(|&&t| t >= tb) {
            if last != tb {
                dur = time(last);
            }
        }
        let text: Vec<u32> = tokens.iter().copied().filter(|&t| t < sp.eot).collect();
        if !text.is_empty() {
            segments.push((0.0, dur, text));
        }
        WindowCut { segments, advance_frames: size_frames.max(1) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp() -> Specials {
        Specials {
            eot: 50256,
            sot: 50257,
            no_timestamps: 50362,
            no_speech: 50361,
            timestamp_begin: 50363,
            suppress: vec![1, 2],
            suppress_begin: vec![220, 50256],
        }
    }

    #[test]
    fn first_token_is_an_early_timestamp_and_pairs_follow() {
        let s = sp();
        let mut l = vec![0.0f32; 51864];
        l[100] = 5.0; // a text token would win without the rules
        l[50363 + 60] = 1.0; // a timestamp after 1.0 s is not allowed first
        apply_rules(&mut l, &[], &s);
        let t = argmax(&l);
        assert!((50363..=50363 + 50).contains(&t), "{t}");
        // After <ts><text><ts>, the next must be a timestamp or end of text (text is masked).
        let mut l = vec![0.0f32; 51864];
        l[100] = 9.0;
        apply_rules(&mut l, &[50363, 100, 50400], &s);
        assert!(l[..50256].iter().all(|v| v.is_infinite()));
        // After two timestamps in a row the next is text: timestamps are masked.
        let mut l = vec![0.0f32; 51864];
        apply_rules(&mut l, &[50363, 100, 50400, 50400], &s);
        assert!(l[50363..].iter().all(|v| v.is_infinite()) && l[100].is_finite());
    }

    #[test]
    fn windows_are_cut_at_timestamp_pairs() {
        let s = sp();
        // <0.00> a b <1.00><1.00> c <2.40> : single timestamp ending -> whole window consumed.
        let toks = [50363, 10, 11, 50413, 50413, 12, 50483];
        let cut = cut_window(&toks, 3000, &s);
        assert_eq!(cut.segments, vec![(0.0, 1.0, vec![10, 11]), (1.0, 2.4, vec![12])]);
        assert_eq!(cut.advance_frames, 3000);
        // An unfinished last segment is dropped; the next window starts at its timestamp.
        let toks = [50363, 10, 50413, 50413, 12];
        let cut = cut_window(&toks, 3000, &s);
        assert_eq!(cut.segments, vec![(0.0, 1.0, vec![10])]);
        assert_eq!(cut.advance_frames, 100);
    }
}
