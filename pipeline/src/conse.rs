//! ConSE (Norouzi et al., 2014): put an image into the sentence-embedding space
//! as the probability-weighted mean of the embeddings of its top-T ImageNet
//! classes' names. No CLIP weights can be had offline; this lets a text query
//! find photos with the text model alone. Class-name embeddings are computed
//! once per (text model, settings) and cached on disk.

use std::path::Path;

use pith_models::image_encoder::{softmax, top_k};
use pith_models::{l2_normalize, TextEncoder};
use serde::{Deserialize, Serialize};

use crate::error::Result;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConseConfig {
    /// How many top classes to mix.
    pub top_t: usize,
    /// Prompt template; `{}` is replaced by the class name.
    pub template: String,
    /// Average the prompts of all of a class's WordNet synonyms (else the first name only).
    pub synonyms: bool,
    /// Renormalise the top-T probabilities to sum to one (changes nothing after
    /// the final L2 normalisation, kept for clarity of the formula).
    pub renormalize: bool,
}

impl Default for ConseConfig {
    fn default() -> Self {
        // Chosen by the sweep in docs/REFERENCE.md (coco-mini): "a {}", synonyms averaged, T = 20.
        ConseConfig { top_t: 20, template: "a {}".into(), synonyms: true, renormalize: false }
    }
}

pub struct Conse {
    pub cfg: ConseConfig,
    class_vecs: Vec<Vec<f32>>,
    names: Vec<String>,
}

impl Conse {
    pub fn build(text: &TextEncoder, classes: &[String], synonyms: &[Vec<String>], cfg: ConseConfig, cache_dir: &Path) -> Result<Conse> {
        let key = blake3::hash(
            format!("{}|{:?}|{}|{:?}", text.name, cfg, classes.join("\n"), if cfg.synonyms { synonyms } else { &[] }).as_bytes(),
        )
        .to_hex()
        .to_string();
        let cache = cache_dir.join(format!("conse-{}.f32", &key[..16]));
        let dim = text.dim;
        if let Ok(bytes) = std::fs::read(&cache) {
            if bytes.len() == classes.len() * dim * 4 {
                let all = crate::store::blob_to_vec(&bytes);
                let class_vecs = all.chunks(dim).map(|c| c.to_vec()).collect();
                return Ok(Conse { cfg, class_vecs, names: classes.to_vec() });
            }
        }
        let mut prompts: Vec<String> = Vec::new();
        let mut owner: Vec<usize> = Vec::new();
        for (i, c) in classes.iter().enumerate() {
            let mut names: Vec<&String> = match synonyms.get(i) {
                Some(s) if cfg.synonyms && !s.is_empty() => s.iter().collect(),
                _ => vec![c],
            };
            // Distinct lemmas only (WordNet lists some twice with other capitalisation).
            let mut seen = std::collections::HashSet::new();
            names.retain(|n| seen.insert(n.to_lowercase()));
            for n in names {
                prompts.push(cfg.template.replace("{}", n));
                owner.push(i);
            }
        }
        let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
        let vecs = text.embed(&refs)?;
        let mut class_vecs = vec![vec![0f32; dim]; classes.len()];
        for (v, &i) in vecs.iter().zip(&owner) {
            for (a, b) in class_vecs[i].iter_mut().zip(v) {
                *a += b;
            }
        }
        class_vecs.iter_mut().for_each(|v| l2_normalize(v));
        let _ = std::fs::create_dir_all(cache_dir);
        let flat: Vec<f32> = class_vecs.iter().flatten().copied().collect();
        let tmp = cache.with_extension("tmp");
        if std::fs::write(&tmp, crate::store::vec_to_blob(&flat)).is_ok() {
            let _ = std::fs::rename(&tmp, &cache);
        }
        Ok(Conse { cfg, class_vecs, names: classes.to_vec() })
    }

    /// The semantic vector of an image from its logits.
    pub fn vector(&self, logits: &[f32]) -> Vec<f32> {
        let p = softmax(logits);
        let top = top_k(&p, self.cfg.top_t.max(1));
        let z: f32 = if self.cfg.renormalize { top.iter().map(|&i| p[i]).sum::<f32>().max(1e-12) } else { 1.0 };
        let dim = self.class_vecs.first().map_or(0, Vec::len);
        let mut v = vec![0f32; dim];
        for &i in &top {
            let w = p[i] / z;
            for (a, b) in v.iter_mut().zip(&self.class_vecs[i]) {
                *a += w * b;
            }
        }
        l2_normalize(&mut v);
        v
    }

    /// One vector per class (its prompts' mean): the class-prompt query bank
    /// for hubness normalisation.
    pub fn class_vectors(&self) -> &[Vec<f32>] {
        &self.class_vecs
    }

    /// Class names (the first name of each class).
    pub fn class_names(&self) -> &[String] {
        &self.names
    }

    /// Names of the top `n` classes with probability above 5%, for labels and BM25.
    pub fn labels(&self, logits: &[f32], n: usize) -> Vec<String> {
        let p = softmax(logits);
        top_k(&p, n).into_iter().filter(|&i| p[i] >= 0.05).map(|i| self.names[i].clone()).collect()
    }
}
