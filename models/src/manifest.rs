//! `manifest.json` beside every model: where it came from and the sha256 of
//! each file, so a corrupted or half-copied model is refused before ONNX
//! Runtime ever sees it.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{io_err, ModelError, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    pub registry: String,
    pub package: String,
    pub version: String,
    #[serde(default)]
    pub member: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    #[serde(default)]
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub sources: Vec<Source>,
    pub files: Vec<FileEntry>,
    #[serde(default)]
    pub inputs: Vec<String>,
    #[serde(default)]
    pub outputs: Vec<String>,
    #[serde(default)]
    pub dim: usize,
    #[serde(default)]
    pub preprocess: serde_json::Value,
    /// Set when the manifest was written by `pith models add` rather than the fetch script.
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Manifest {
    /// Read `DIR/manifest.json` without checking file hashes.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join("manifest.json");
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !path.exists() {
            return Err(ModelError::Missing { name, dir: dir.to_path_buf() });
        }
        let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
        let mut m: Manifest =
            serde_json::from_str(&text).map_err(|e| ModelError::Manifest { path: path.clone(), reason: e.to_string() })?;
        m.dir = dir.to_path_buf();
        Ok(m)
    }

    /// Read and verify every listed file's sha256.
    pub fn read_verified(dir: &Path) -> Result<Manifest> {
        let m = Manifest::read(dir)?;
        m.verify()?;
        Ok(m)
    }

    pub fn verify(&self) -> Result<()> {
        for f in &self.files {
            let p = self.dir.join(&f.path);
            if !p.exists() {
                return Err(ModelError::Missing { name: format!("{}/{}", self.name, f.path), dir: self.dir.clone() });
            }
            let found = sha256_file(&p)?;
            if !found.eq_ignore_ascii_case(&f.sha256) {
                return Err(ModelError::Checksum { name: self.name.clone(), file: f.path.clone(), expected: f.sha256.clone(), found });
            }
        }
        Ok(())
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// A number from the `preprocess` object, or a default.
    pub fn pre_f64(&self, key: &str, default: f64) -> f64 {
        self.preprocess.get(key).and_then(|v| v.as_f64()).unwrap_or(default)
    }

    pub fn pre_vec3(&self, key: &str, default: [f32; 3]) -> [f32; 3] {
        match self.preprocess.get(key).and_then(|v| v.as_array()) {
            Some(a) if a.len() == 3 => {
                let mut out = default;
                for (o, v) in out.iter_mut().zip(a) {
                    *o = v.as_f64().unwrap_or(0.0) as f32;
                }
                out
            }
            _ => default,
        }
    }
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Write a manifest for files already in `dir`, hashing each (used by `pith models add`).
pub fn write_manifest(dir: &Path, mut m: Manifest, files: &[&str]) -> Result<Manifest> {
    m.files = files
        .iter()
        .map(|f| {
            let p = dir.join(f);
            let bytes = std::fs::metadata(&p).map_err(io_err(&p))?.len();
            Ok(FileEntry { path: f.to_string(), sha256: sha256_file(&p)?, bytes })
        })
        .collect::<Result<_>>()?;
    let path = dir.join("manifest.json");
    let tmp = dir.join("manifest.json.tmp");
    let text = serde_json::to_string_pretty(&m).map_err(|e| ModelError::Manifest { path: path.clone(), reason: e.to_string() })?;
    std::fs::write(&tmp, text).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
    m.dir = dir.to_path_buf();
    Ok(m)
}

/// Hex sha256 of bytes in memory.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Copy a user-supplied model directory into `dest`: check that every one
/// of `files` is there, stage the copy, let `check` prove the staged graphs
/// run (it returns the embedding dimension and the preprocessing to record),
/// write the manifest and swap the directory in. Nothing half-copied is
/// ever live.
pub(crate) fn install_user_model(
    name: &str,
    files: &[&str],
    src: &Path,
    dest: &Path,
    check: impl FnOnce(&Path) -> Result<(usize, serde_json::Value)>,
) -> Result<Manifest> {
    for f in files {
        if !src.join(f).is_file() {
            return Err(ModelError::Manifest {
                path: src.join(f),
                reason: format!("missing; a {} directory needs {}", name.to_uppercase(), files.join(", ")),
            });
        }
    }
    let tmp = dest.with_extension("incoming");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
    for f in files {
        std::fs::copy(src.join(f), tmp.join(f)).map_err(io_err(src.join(f)))?;
    }
    let (dim, preprocess) = check(&tmp)?;
    let manifest = Manifest {
        name: name.into(),
        kind: name.into(),
        sources: vec![Source { registry: "user".into(), package: src.display().to_string(), version: String::new(), member: None }],
        files: vec![],
        inputs: vec![],
        outputs: vec![],
        dim,
        preprocess,
        dir: tmp.clone(),
    };
    write_manifest(&tmp, manifest, files)?;
    if dest.exists() {
        std::fs::remove_dir_all(dest).map_err(io_err(dest))?;
    }
    std::fs::rename(&tmp, dest).map_err(io_err(dest))?;
    Manifest::read_verified(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampered_file_fails_checksum_with_fix_command() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.bin"), b"hello").unwrap();
        let m = Manifest {
            name: "t".into(),
            kind: "text".into(),
            sources: vec![],
            files: vec![],
            inputs: vec![],
            outputs: vec![],
            dim: 0,
            preprocess: serde_json::Value::Null,
            dir: d.path().into(),
        };
        write_manifest(d.path(), m, &["a.bin"]).unwrap();
        Manifest::read_verified(d.path()).unwrap();
        std::fs::write(d.path().join("a.bin"), b"hellO").unwrap();
        let err = Manifest::read_verified(d.path()).unwrap_err().to_string();
        assert!(err.contains("sha256") && err.contains("make models"), "{err}");
    }

    #[test]
    fn missing_manifest_names_the_fix() {
        let d = tempfile::tempdir().unwrap();
        let err = Manifest::read(d.path()).unwrap_err().to_string();
        assert!(err.contains("make models"), "{err}");
    }
}
