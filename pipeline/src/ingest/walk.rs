//! Walking roots: hidden files and `.pithignore`d paths are skipped, symlinks
//! are followed with loop detection, and every unreadable entry becomes an
//! error record instead of an abort.

use std::path::Path;

use crate::error::{PipelineError, Result};

#[derive(Debug, Clone)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub mtime: i64,
}

pub struct Walked {
    /// Stored paths under this prefix belong to this root.
    pub prefix: String,
    pub is_dir: bool,
    pub vanished: bool,
    pub files: Vec<FileEntry>,
    pub errors: Vec<(String, String)>,
}

pub fn mtime_secs(md: &std::fs::Metadata) -> i64 {
    md.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

pub fn walk(root: &Path) -> Result<Walked> {
    let abs = if root.is_absolute() {
        root.to_path_buf()
    } else {
        std::env::current_dir().map_err(crate::error::io_err(root))?.join(root)
    };
    let abs = abs.canonicalize().unwrap_or(abs);
    let key = super::path_key(&abs);
    let md = std::fs::metadata(&abs);
    let is_dir = md.as_ref().is_ok_and(|m| m.is_dir());
    let mut w = Walked { prefix: if is_dir { format!("{}/", key.trim_end_matches('/')) } else { key.clone() }, is_dir, vanished: false, files: vec![], errors: vec![] };
    match md {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A vanished root (file or folder): the caller removes what was stored for it.
            w.prefix = key;
            w.vanished = true;
            return Ok(w);
        }
        Err(e) => return Err(PipelineError::BadInput(format!("{}: {e}", abs.display()))),
        Ok(m) if m.is_file() => {
            w.files.push(FileEntry { path: key, size: m.len(), mtime: mtime_secs(&m) });
            return Ok(w);
        }
        Ok(_) => {}
    }
    let walker = ignore::WalkBuilder::new(&abs)
        .hidden(true)
        .git_ignore(false)
        .git_global(false)
        .git_exclude(false)
        .ignore(false)
        .parents(false)
        .follow_links(true)
        .add_custom_ignore_filename(".pithignore")
        .build();
    for entry in walker {
        match entry {
            Ok(e) => {
                if e.file_type().is_some_and(|t| t.is_dir()) {
                    continue;
                }
                let path = super::path_key(e.path());
                match std::fs::metadata(e.path()) {
                    Ok(m) if m.is_file() => w.files.push(FileEntry { path, size: m.len(), mtime: mtime_secs(&m) }),
                    Ok(_) => {}
                    Err(err) => w.errors.push((path, format!("cannot read file metadata: {err}"))),
                }
            }
            Err(err) => {
                let (path, reason) = describe(&err, &key);
                w.errors.push((path, reason));
            }
        }
    }
    Ok(w)
}

fn describe(err: &ignore::Error, root: &str) -> (String, String) {
    match err {
        ignore::Error::WithPath { path, err } => (super::path_key(path), describe(err, root).1),
        ignore::Error::Loop { child, ancestor } => {
            (super::path_key(child), format!("symlink loop: points back to {}", ancestor.display()))
        }
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => describe(err, root),
        ignore::Error::Io(e) if e.raw_os_error() == Some(libc::ELOOP) => (root.to_string(), "symlink loop".into()),
        other => (root.to_string(), other.to_string()),
    }
}
