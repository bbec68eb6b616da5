//! Built-in evaluation, so users can measure pith on their own labelled data:
//! BEIR-layout retrieval sets, COCO-format caption sets, speech with reference
//! transcripts and captioned videos.

pub mod ann;
pub mod asr;
pub mod beir;
pub mod captions;
pub mod compress;
pub mod cutoff;
pub mod filtered;
pub mod metrics;
pub mod ocr;
pub mod overhead;
pub mod pdf;
pub mod vecfile;
pub mod video;
pub mod xrag;

/// Writes a TREC run file: `qid Q0 docid rank score tag`.
pub fn write_trec_run(path: &std::path::Path, runs: &[(String, Vec<(String, f32)>)], tag: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for (qid, ranked) in runs {
        for (i, (doc, score)) in ranked.iter().take(100).enumerate() {
            writeln!(f, "{qid} Q0 {doc} {} {score:.6} {tag}", i + 1)?;
        }
    }
    f.flush()
}

/// Percentile (0..=100) of a list of numbers, nearest-rank.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let idx = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[idx.clamp(1, s.len()) - 1]
}
