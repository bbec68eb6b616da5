//! Vector files for `pith bench ann`: `.fvecs`/`.ivecs` (the TEXMEX layout:
//! each row an i32 dimension then the values), `.npy` (float32/float64 or
//! int32/int64, C order, 2-D) and whitespace-separated text (`.tsv`, `.txt`).

use std::path::Path;

use crate::error::{io_err, PipelineError, Result};

pub struct Vectors {
    pub dim: usize,
    pub data: Vec<f32>,
}

impl Vectors {
    pub fn len(&self) -> usize {
        self.data.len() / self.dim.max(1)
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

fn bad(path: &Path, why: impl std::fmt::Display) -> PipelineError {
    PipelineError::BadInput(format!("{}: {why}", path.display()))
}

/// Read vectors; `dims` keeps only the first columns of a text file (SIFT
/// TSVs carry an id column after the values).
pub fn read_vectors(path: &Path, dims: Option<usize>) -> Result<Vectors> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let (dim, data) = match ext.as_str() {
        "fvecs" => texmex(path, &bytes, f32::from_le_bytes)?,
        "npy" => {
            let (shape, values) = npy(path, &bytes)?;
            (shape.1, values)
        }
        _ => text(path, &bytes, dims)?,
    };
    if dim == 0 || data.is_empty() {
        return Err(bad(path, "no vectors"));
    }
    if data.iter().any(|x| !x.is_finite()) {
        return Err(bad(path, "contains NaN or infinity"));
    }
    Ok(Vectors { dim, data })
}

/// Ground-truth neighbour lists (`.ivecs`, `.npy` of integers, or text).
pub fn read_neighbours(path: &Path) -> Result<Vec<Vec<usize>>> {
    let v = read_vectors(path, None).or_else(|_| -> Result<Vectors> {
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        let (dim, data) = texmex(path, &bytes, |b| i32::from_le_bytes(b) as f32)?;
        Ok(Vectors { dim, data })
    })?;
    Ok((0..v.len()).map(|i| v.row(i).iter().map(|x| *x as usize).collect()).collect())
}

fn texmex(path: &Path, bytes: &[u8], value: impl Fn([u8; 4]) -> f32) -> Result<(usize, Vec<f32>)> {
    let word = |i: usize| -> [u8; 4] { [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]] };
    if bytes.len() < 4 {
        return Err(bad(path, "too short"));
    }
    let dim = i32::from_le_bytes(word(0));
    if dim <= 0 || !bytes.len().is_multiple_of(4 + 4 * dim as usize) {
        return Err(bad(path, "not a .fvecs/.ivecs file"));
    }
    let dim = dim as usize;
    let mut data = Vec::with_capacity(bytes.len() / 4);
    for row in bytes.chunks_exact(4 + 4 * dim) {
        if i32::from_le_bytes([row[0], row[1], row[2], row[3]]) as usize != dim {
            return Err(bad(path, "rows of different dimensions"));
        }
        data.extend(row[4..].chunks_exact(4).map(|c| value([c[0], c[1], c[2], c[3]])));
    }
    Ok((dim, data))
}

fn npy(path: &Path, bytes: &[u8]) -> Result<((usize, usize), Vec<f32>)> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad(path, "not a .npy file"));
    }
    if bytes[6] != 1 && bytes.len() < 12 {
        return Err(bad(path, "truncated header"));
    }
    let (hlen, start): (usize, usize) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
    };
    let header = std::str::from_utf8(bytes.get(start..start.saturating_add(hlen)).ok_or_else(|| bad(path, "truncated header"))?)
        .map_err(|_| bad(path, "header is not text"))?;
    let field = |key: &str| header.split(key).nth(1).map(|s| s.trim_start_matches([':', ' ', '\'']).to_string());
    let descr: String = field("'descr'").ok_or_else(|| bad(path, "no descr"))?.chars().take_while(|c| *c != '\'').collect();
    if field("'fortran_order'").is_some_and(|f| f.starts_with("True")) {
        return Err(bad(path, "Fortran-order arrays are not supported"));
    }
    let shape: Vec<usize> = field("'shape'")
        .ok_or_else(|| bad(path, "no shape"))?
        .trim_start_matches('(')
        .split(')')
        .next()
        .unwrap_or("")
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let shape = match shape[..] {
        [n, d] => (n, d),
        [n] => (n, 1),
        _ => return Err(bad(path, "expected a 2-D array")),
    };
    let body = bytes.get(start + hlen..).unwrap_or_default();
    let values: Vec<f32> = match descr.as_str() {
        "<f4" => body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        "<f8" => body.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32).collect(),
        "<i4" => body.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32).collect(),
        "<i8" => body.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32).collect(),
        other => return Err(bad(path, format!("unsupported dtype {other}"))),
    };
    if shape.0.checked_mul(shape.1) != Some(values.len()) {
        return Err(bad(path, "data length does not match the shape"));
    }
    Ok((shape, values))
}

fn text(path: &Path, bytes: &[u8], dims: Option<usize>) -> Result<(usize, Vec<f32>)> {
    let s = std::str::from_utf8(bytes).map_err(|_| bad(path, "not text, .npy or .fvecs"))?;
    let mut dim = 0;
    let mut data = Vec::new();
    for (i, line) in s.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let row: Vec<f32> = line
            .split_whitespace()
            .take(dims.unwrap_or(usize::MAX))
            .map(|t| t.parse::<f32>().map_err(|_| bad(path, format!("line {}: `{t}` is not a number", i + 1))))
            .collect::<Result<_>>()?;
        if dim == 0 {
            dim = row.len();
        } else if row.len() != dim {
            return Err(bad(path, format!("line {} has {} values, the first had {dim}", i + 1, row.len())));
        }
        data.extend(row);
    }
    Ok((dim, data))
}
