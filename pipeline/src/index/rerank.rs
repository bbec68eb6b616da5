//! Full-precision vectors kept on disk for re-ranking: a flat file of float32
//! rows read with positioned reads. The OS page cache keeps the rows that
//! searches touch; the process itself holds none of them, which is what lets
//! a compressed index keep only codes and links in RAM.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{io_err, Result};
use crate::quant::Metric;

pub struct RerankFile {
    path: PathBuf,
    file: File,
    dim: usize,
    rows: Mutex<usize>,
}

impl RerankFile {
    /// Open (or create) the file; a torn last row from a crash is ignored.
    pub fn open(path: &Path, dim: usize) -> Result<Self> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io_err(path))?;
        let len = file.metadata().map_err(io_err(path))?.len() as usize;
        Ok(RerankFile { path: path.to_path_buf(), file, dim, rows: Mutex::new(len / (dim * 4)) })
    }

    /// A new empty file (replacing any).
    pub fn create(path: &Path, dim: usize) -> Result<Self> {
        let _ = std::fs::remove_file(path);
        Self::open(path, dim)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        *self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append rows (flattened); returns the first new row's number.
    pub fn append(&self, rows: &[f32]) -> Result<usize> {
        let mut n = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        let bytes: &[u8] = bytemuck::cast_slice(rows);
        self.file.write_all_at(bytes, (*n * self.dim * 4) as u64).map_err(io_err(&self.path))?;
        let first = *n;
        *n += rows.len() / self.dim;
        Ok(first)
    }

    pub fn read(&self, row: usize, out: &mut [f32]) -> Result<()> {
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut out[..self.dim]);
        self.file.read_exact_at(bytes, (row * self.dim * 4) as u64).map_err(io_err(&self.path))
    }

    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(io_err(&self.path))
    }

    /// Exact similarities for candidate rows (cosine for `Dot`, negative
    /// squared distance for `L2`), best first, cut to `k`.
    pub fn rerank(&self, q: &[f32], metric: Metric, rows: impl IntoIterator<Item = usize>, k: usize) -> Result<Vec<(usize, f32)>> {
        let mut buf = vec![0f32; self.dim];
        let mut out = Vec::new();
        for row in rows {
            self.read(row, &mut buf)?;
            out.push((row, exact(q, &buf, metric)));
        }
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out.truncate(k);
        Ok(out)
    }
}

/// Exact similarity under `metric` (higher is closer).
pub fn exact(q: &[f32], v: &[f32], metric: Metric) -> f32 {
    match metric {
        Metric::Dot => pith_models::dot(q, v),
        Metric::L2 => -q.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum::<f32>(),
    }
}
