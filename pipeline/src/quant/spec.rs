//! Codec names as users write them (`pith config set space.text.codec ...`,
//! `pith bench ann --codec ...`): `f32`, `f16`, `int8`, `int4`, `binary`,
//! `rbq2`..`rbq4` (residual binary, bits per dimension), `pq16`, `opq16`,
//! and `pca96+<codec>` (`pca96q+...` fits the PCA on queries too).

use std::fmt;
use std::str::FromStr;

use crate::error::PipelineError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodecSpec {
    F32,
    F16,
    Int8,
    Int4,
    /// Sign codes of the residual, `levels` bits per dimension (1 = plain binary).
    Binary {
        levels: u8,
    },
    /// Product quantisation: `m` sub-spaces × 8 bits, optionally OPQ-rotated.
    Pq {
        m: u16,
        opq: bool,
    },
    /// PCA down to `dims`, then `inner`.
    Pca {
        dims: u16,
        queries: bool,
        inner: Box<CodecSpec>,
    },
}

impl CodecSpec {
    /// Fewest training vectors the codec accepts.
    pub fn min_training(&self) -> usize {
        match self {
            CodecSpec::F32 | CodecSpec::F16 => 1,
            CodecSpec::Int8 | CodecSpec::Int4 | CodecSpec::Binary { .. } => 16,
            // 256 centroids per sub-space want several points each.
            CodecSpec::Pq { .. } => 1000,
            CodecSpec::Pca { dims, inner, .. } => (*dims as usize * 2).max(inner.min_training()),
        }
    }

    /// Bytes per vector for input dimension `dim`.
    pub fn code_bytes(&self, dim: usize) -> usize {
        let words = |bytes: usize| bytes.div_ceil(4) * 4;
        match self {
            CodecSpec::F32 => dim * 4,
            CodecSpec::F16 => words(dim * 2),
            CodecSpec::Int8 => words(dim),
            CodecSpec::Int4 => words(dim.div_ceil(2)),
            CodecSpec::Binary { levels } => *levels as usize * words(dim.div_ceil(8)),
            CodecSpec::Pq { m, .. } => words(*m as usize),
            CodecSpec::Pca { dims, inner, .. } => inner.code_bytes(*dims as usize),
        }
    }

    /// Whether `dim` works with this codec (PQ sub-spaces must divide it).
    pub fn check_dim(&self, dim: usize) -> Result<(), PipelineError> {
        match self {
            CodecSpec::Pq { m, .. } if *m == 0 || !dim.is_multiple_of(*m as usize) => {
                Err(PipelineError::BadInput(format!("pq{m} needs a dimension divisible by {m}; this space has {dim}")))
            }
            CodecSpec::Pca { dims, inner, .. } => {
                if *dims == 0 || *dims as usize > dim {
                    return Err(PipelineError::BadInput(format!("pca{dims} must reduce {dim} dimensions to between 1 and {dim}")));
                }
                inner.check_dim(*dims as usize)
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for CodecSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecSpec::F32 => write!(f, "f32"),
            CodecSpec::F16 => write!(f, "f16"),
            CodecSpec::Int8 => write!(f, "int8"),
            CodecSpec::Int4 => write!(f, "int4"),
            CodecSpec::Binary { levels: 1 } => write!(f, "binary"),
            CodecSpec::Binary { levels } => write!(f, "rbq{levels}"),
            CodecSpec::Pq { m, opq: false } => write!(f, "pq{m}"),
            CodecSpec::Pq { m, opq: true } => write!(f, "opq{m}"),
            CodecSpec::Pca { dims, queries, inner } => write!(f, "pca{dims}{}+{inner}", if *queries { "q" } else { "" }),
        }
    }
}

fn number<T: FromStr>(s: &str, what: &str) -> Result<T, PipelineError> {
    s.parse().map_err(|_| PipelineError::BadInput(format!("codec `{what}`: `{s}` is not a number")))
}

impl FromStr for CodecSpec {
    type Err = PipelineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        if let Some((head, rest)) = s.split_once('+') {
            let p = head.strip_prefix("pca").ok_or_else(|| PipelineError::BadInput(format!("unknown codec `{s}`")))?;
            let (p, queries) = match p.strip_suffix('q') {
                Some(p) => (p, true),
                None => (p, false),
            };
            let inner: CodecSpec = rest.parse()?;
            if matches!(inner, CodecSpec::Pca { .. }) {
                return Err(PipelineError::BadInput("PCA cannot be nested".into()));
            }
            return Ok(CodecSpec::Pca { dims: number(p, &s)?, queries, inner: Box::new(inner) });
        }
        Ok(match s.as_str() {
            "f32" | "float32" | "none" => CodecSpec::F32,
            "f16" | "float16" => CodecSpec::F16,
            "int8" | "sq8" => CodecSpec::Int8,
            "int4" | "sq4" => CodecSpec::Int4,
            "binary" | "rbq1" => CodecSpec::Binary { levels: 1 },
            _ => {
                if let Some(b) = s.strip_prefix("rbq") {
                    let levels: u8 = number(b, &s)?;
                    if !(1..=8).contains(&levels) {
                        return Err(PipelineError::BadInput(format!("`{s}`: residual binary takes 1 to 8 bits per dimension")));
                    }
                    CodecSpec::Binary { levels }
                } else if let Some(m) = s.strip_prefix("opq") {
                    CodecSpec::Pq { m: number(m, &s)?, opq: true }
                } else if let Some(m) = s.strip_prefix("pq") {
                    CodecSpec::Pq { m: number(m, &s)?, opq: false }
                } else {
                    return Err(PipelineError::BadInput(format!(
                        "unknown codec `{s}` (try f32, f16, int8, int4, binary, rbq2, rbq3, rbq4, pq16, pq32, opq16, pca96+int8)"
                    )));
                }
            }
        })
    }
}
