//! Full-precision vectors kept on disk for re-ranking: a flat file of float32
//! rows read with positioned reads. The OS page cache keeps the rows that
//! searches touch; the process itself holds none of them, which is what lets
//! a compressed index keep only codes and links in RAM.
//!
//! A read-only process (a `pith search` beside a running server) must not
//! write the writer's file: it opens it read-only and keeps the rows it adds
//! itself (reconciliation with the store) in memory after the file's rows.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{io_err, PipelineError, Result};
use crate::quant::Metric;

struct Tail {
    /// Rows in the file that belong to the index.
    disk: usize,
    /// Rows after them, in memory (read-only mode).
    mem: Vec<f32>,
}

pub struct RerankFile {
    path: PathBuf,
    file: Option<File>,
    writable: bool,
    dim: usize,
    tail: Mutex<Tail>,
}

impl RerankFile {
    /// Open (or create) the file for writing; a torn last row from a crash is ignored.
    pub fn open(path: &Path, dim: usize) -> Result<Self> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io_err(path))?;
        let len = file.metadata().map_err(io_err(path))?.len() as usize;
        Ok(RerankFile {
            path: path.to_path_buf(),
            file: Some(file),
            writable: true,
            dim,
            tail: Mutex::new(Tail { disk: len / (dim * 4), mem: Vec::new() }),
        })
    }

    /// Open the first `rows` rows of a file without ever writing to it.
    pub fn open_read_only(path: &Path, dim: usize, rows: usize) -> Result<Self> {
        let file = File::open(path).map_err(io_err(path))?;
        let len = file.metadata().map_err(io_err(path))?.len() as usize;
        if len < rows * dim * 4 {
            return Err(PipelineError::VectorIndex(format!("{} is shorter than its ids", path.display())));
        }
        Ok(RerankFile {
            path: path.to_path_buf(),
            file: Some(file),
            writable: false,
            dim,
            tail: Mutex::new(Tail { disk: rows, mem: Vec::new() }),
        })
    }

    /// Rows in memory only (read-only processes rebuilding from the store).
    pub fn memory(dim: usize) -> Self {
        RerankFile { path: PathBuf::new(), file: None, writable: false, dim, tail: Mutex::new(Tail { disk: 0, mem: Vec::new() }) }
    }

    /// A new empty file (replacing any).
    pub fn create(path: &Path, dim: usize) -> Result<Self> {
        let _ = std::fs::remove_file(path);
        Self::open(path, dim)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn tail(&self) -> std::sync::MutexGuard<'_, Tail> {
        self.tail.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        let t = self.tail();
        t.disk + t.mem.len() / self.dim
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append rows (flattened); returns the first new row's number.
    pub fn append(&self, rows: &[f32]) -> Result<usize> {
        let mut t = self.tail();
        let first = t.disk + t.mem.len() / self.dim;
        match &self.file {
            Some(f) if self.writable => {
                f.write_all_at(bytemuck::cast_slice(rows), (t.disk * self.dim * 4) as u64).map_err(io_err(&self.path))?;
                t.disk += rows.len() / self.dim;
            }
            _ => t.mem.extend_from_slice(rows),
        }
        Ok(first)
    }

    /// Forget rows past `rows` (appended after the last save).
    pub fn truncate(&self, rows: usize) -> Result<()> {
        let mut t = self.tail();
        if let Some(f) = self.file.as_ref().filter(|_| self.writable) {
            f.set_len((rows * self.dim * 4) as u64).map_err(io_err(&self.path))?;
        }
        t.disk = t.disk.min(rows);
        let keep = (rows - t.disk) * self.dim;
        t.mem.truncate(keep);
        Ok(())
    }

    pub fn read(&self, row: usize, out: &mut [f32]) -> Result<()> {
        let disk = self.tail().disk;
        if row < disk {
            if let Some(f) = &self.file {
                let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut out[..self.dim]);
                return f.read_exact_at(bytes, (row * self.dim * 4) as u64).map_err(io_err(&self.path));
            }
        }
        let t = self.tail();
        let at = (row - t.disk) * self.dim;
        let src = t.mem.get(at..at + self.dim).ok_or_else(|| PipelineError::Internal(format!("row {row} is past the end")))?;
        out[..self.dim].copy_from_slice(src);
        Ok(())
    }

    pub fn sync(&self) -> Result<()> {
        match &self.file {
            Some(f) if self.writable => f.sync_data().map_err(io_err(&self.path)),
            _ => Ok(()),
        }
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
        Metric::L2 => -pith_models::l2_squared(q, v),
    }
}
