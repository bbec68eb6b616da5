//! EfficientNet-Lite0: ImageNet logits (for ConSE and labels) and pooled
//! 1280-d features (the image-only "more like this" space) from one run.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::session::SessionInputValue;
use ort::value::Tensor;

use crate::error::{io_err, ModelError, Result};
use crate::image_prep::{ImagePrep, Preprocessed};
use crate::manifest::Manifest;
use crate::runtime;
use crate::worker::Worker;

#[derive(Debug, Clone)]
pub struct ImageOutput {
    pub logits: Vec<f32>,
    pub features: Vec<f32>,
}

type ImageWorker = Worker<Vec<Preprocessed>, Vec<ImageOutput>>;

/// The ONNX session starts on the first batch, not at load: a store that
/// only ever sees text (or a 1,000-page PDF) never pays the session's
/// ~100 MB. The class names ConSE needs are read at load.
pub struct ImageEncoder {
    worker: OnceLock<ImageWorker>,
    start: Mutex<Start>,
    pub prep: ImagePrep,
    pub classes: Vec<String>,
    /// WordNet lemma names per class (first equals `classes[i]`).
    pub synonyms: Vec<Vec<String>>,
    pub dim: usize,
    pub batch_size: usize,
    pub name: String,
}

impl ImageEncoder {
    pub fn load(models_root: &Path, dir: &Path, threads: usize) -> Result<Self> {
        let m = Manifest::read_verified(dir)?;
        let prep = ImagePrep::from_manifest(&m);
        let classes: Vec<String> = std::fs::read_to_string(m.file("classes.txt"))
            .map_err(io_err(m.file("classes.txt")))?
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        let syn_path = m.file("synonyms.json");
        let synonyms: Vec<Vec<String>> = match std::fs::read_to_string(&syn_path) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| ModelError::Manifest { path: syn_path.clone(), reason: e.to_string() })?,
            Err(_) => classes.iter().map(|c| vec![c.clone()]).collect(),
        };
        let start = Start {
            name: m.name.clone(),
            root: models_root.to_path_buf(),
            model: m.file("model.onnx"),
            threads,
            input: m.inputs.first().cloned().unwrap_or_else(|| "pixels".into()),
            outs: (
                m.outputs.first().cloned().unwrap_or_else(|| "logits".into()),
                m.outputs.get(1).cloned().unwrap_or_else(|| "features".into()),
            ),
            side: prep.crop as usize,
        };
        Ok(ImageEncoder {
            worker: OnceLock::new(),
            start: Mutex::new(start),
            prep,
            classes,
            synonyms,
            dim: m.dim,
            batch_size: 16,
            name: m.name,
        })
    }

    /// Batches sent to the model so far (0 before the session started).
    pub fn calls(&self) -> u64 {
        self.worker.get().map_or(0, Worker::calls)
    }

    /// Whether the ONNX session has been started.
    pub fn started(&self) -> bool {
        self.worker.get().is_some()
    }

    /// Start the session now (a benchmark that times ingest alone).
    pub fn start(&self) -> Result<()> {
        self.worker().map(|_| ())
    }

    /// The worker, started on first use. A failed start is an error for
    /// this call and is tried again on the next.
    fn worker(&self) -> Result<&ImageWorker> {
        if let Some(w) = self.worker.get() {
            return Ok(w);
        }
        let start = self.start.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = self.worker.get() {
            return Ok(w);
        }
        let Start { name, root, model, threads, input, outs, side } = start.clone();
        let w = Worker::spawn(&name, move || {
            let mut session = runtime::session(&root, &model, threads)?;
            Ok(move |batch: Vec<Preprocessed>| run(&mut session, &input, &outs, side, batch))
        })?;
        Ok(self.worker.get_or_init(|| w))
    }

    pub fn encode(&self, batch: Vec<Preprocessed>) -> Result<Vec<ImageOutput>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // One image is a search by image: ahead of any ingest backlog.
        if batch.len() == 1 {
            return self.worker()?.submit_urgent(batch)?.wait();
        }
        self.worker()?.call(batch)
    }
}

/// What starting the session takes.
#[derive(Clone)]
struct Start {
    name: String,
    root: PathBuf,
    model: PathBuf,
    threads: usize,
    input: String,
    outs: (String, String),
    side: usize,
}

fn run(
    session: &mut ort::session::Session,
    input: &str,
    outs: &(String, String),
    side: usize,
    batch: Vec<Preprocessed>,
) -> Result<Vec<ImageOutput>> {
    let n = batch.len();
    let mut data = Vec::with_capacity(n * 3 * side * side);
    for p in &batch {
        data.extend_from_slice(&p.data);
    }
    let t = Tensor::from_array(([n, 3, side, side], data))?;
    let inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = vec![(Cow::Owned(input.to_string()), t.into())];
    let outputs = session.run(inputs)?;
    let rows = |name: &str| -> Result<Vec<Vec<f32>>> {
        let v = outputs.get(name).ok_or_else(|| ModelError::Ort(format!("image model has no output `{name}`")))?;
        let (shape, d) = v.try_extract_tensor::<f32>()?;
        let dims: Vec<i64> = shape.iter().copied().collect();
        if dims.len() != 2 || dims[0] as usize != n {
            return Err(ModelError::Shape { name: name.into(), shape: dims });
        }
        Ok(d.chunks(dims[1] as usize).map(|c| c.to_vec()).collect())
    };
    let logits = rows(&outs.0)?;
    let features = rows(&outs.1)?;
    Ok(logits.into_iter().zip(features).map(|(logits, features)| ImageOutput { logits, features }).collect())
}

/// Softmax of logits.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let m = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|l| (l - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

/// Indices of the `k` largest values, largest first.
pub fn top_k(v: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
    idx.truncate(k);
    idx
}
