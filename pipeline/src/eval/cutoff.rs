//! How well the relevance cut-off separates relevant from non-relevant hits
//! among what plain top-10 shows, and the fitting data for `pith calibrate`.

use serde::Serialize;

use crate::relevance::{Family, Features};

/// One hit of a plain top-10: its relevance, whether it is relevant, and the
/// features the relevance came from.
#[derive(Debug, Clone, Copy)]
pub struct Judged {
    pub relevance: f32,
    pub relevant: bool,
    pub family: Family,
    pub features: Features,
}

impl Judged {
    /// A hit with the relevance it was shown with (none in BM25-only mode).
    pub fn of(h: &crate::search::SearchHit, relevant: bool) -> Option<Judged> {
        let (family, features) = h.features?;
        Some(Judged { relevance: h.relevance?, relevant, family, features })
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CutoffPoint {
    pub threshold: f32,
    /// Share of the relevant hits in the top-10 that stay shown.
    pub relevant_kept: f64,
    /// Share of the non-relevant hits in the top-10 that are hidden.
    pub nonrelevant_removed: f64,
    /// Precision of what stays shown.
    pub precision: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CutoffReport {
    pub hits: usize,
    pub relevant: usize,
    /// At the store's threshold.
    pub at_threshold: CutoffPoint,
    /// From threshold 0.1 to 0.9.
    pub curve: Vec<CutoffPoint>,
}

pub fn point(hits: &[Judged], threshold: f32) -> CutoffPoint {
    let rel = hits.iter().filter(|h| h.relevant).count().max(1) as f64;
    let non = hits.iter().filter(|h| !h.relevant).count().max(1) as f64;
    let kept_rel = hits.iter().filter(|h| h.relevant && h.relevance >= threshold).count() as f64;
    let removed = hits.iter().filter(|h| !h.relevant && h.relevance < threshold).count() as f64;
    let shown = hits.iter().filter(|h| h.relevance >= threshold).count().max(1) as f64;
    CutoffPoint { threshold, relevant_kept: kept_rel / rel, nonrelevant_removed: removed / non, precision: kept_rel / shown }
}

pub fn report(hits: &[Judged], threshold: f32) -> CutoffReport {
    CutoffReport {
        hits: hits.len(),
        relevant: hits.iter().filter(|h| h.relevant).count(),
        at_threshold: point(hits, threshold),
        curve: (1..10).map(|i| point(hits, i as f32 / 10.0)).collect(),
    }
}
