//! A small little-endian format for codec parameters (codebooks, ranges,
//! rotations): a few megabytes at most, read once at load.

use crate::error::{PipelineError, Result};

#[derive(Default)]
pub struct Writer(Vec<u8>);

impl Writer {
    pub fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.bytes(s.as_bytes());
    }
    pub fn f32s(&mut self, v: &[f32]) {
        self.u32(v.len() as u32);
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    pub fn into_inner(self) -> Vec<u8> {
        self.0
    }
}

pub struct Reader<'a> {
    buf: &'a [u8],
}

fn short() -> PipelineError {
    PipelineError::VectorIndex("codec parameters are truncated".into())
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(short());
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| short())?))
    }
    pub fn str(&mut self) -> Result<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| PipelineError::VectorIndex("codec name is not UTF-8".into()))
    }
    /// A float array that must have exactly `expect` values.
    pub fn f32s(&mut self, expect: usize) -> Result<Vec<f32>> {
        let n = self.u32()? as usize;
        if n != expect {
            return Err(PipelineError::VectorIndex(format!("codec parameters: {n} values where {expect} were expected")));
        }
        let raw = self.take(n.checked_mul(4).ok_or_else(short)?)?;
        Ok(raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }
}
