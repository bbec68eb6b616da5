//! Walking roots: what [`IgnorePolicy`] refuses is skipped (hidden paths,
//! `.pithignore`, pith's own files) or recorded (links out of the root),
//! symlinks inside the root are followed with loop detection, and every
//! unreadable entry becomes an error record instead of an abort.

use std::path::Path;

use std::sync::{Arc, Mutex};

use crate::error::{PipelineError, Result};
use crate::policy::{Checker, IgnorePolicy, Skip};

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
    /// The path itself is refused by the policy (anything stored under it goes).
    pub refused: bool,
}

pub fn mtime_secs(md: &std::fs::Metadata) -> i64 {
    md.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs() as i64)
}

/// Make a path absolute without resolving a final symlink (so a link can be
/// judged as a link), resolving the folders above it.
pub fn absolute(p: &Path) -> Result<std::path::PathBuf> {
    let abs = std::path::absolute(p).map_err(crate::error::io_err(p))?;
    match (abs.parent(), abs.file_name()) {
        (Some(dir), Some(name)) => Ok(dir.canonicalize().map(|d| d.join(name)).unwrap_or(abs.clone())),
        _ => Ok(abs),
    }
}

/// Walk `path`, which lies in the tree of `scope` (an indexed root; `path`
/// itself for an explicit argument), applying `policy` relative to `scope`.
pub fn walk(scope: &Path, path: &Path, policy: &IgnorePolicy) -> Result<Walked> {
    let abs = absolute(path)?;
    let explicit = abs == absolute(scope)?;
    // An explicitly named file or folder is indexed even if its own name is
    // hidden; what lies under it (and every event path) follows the policy.
    let abs = if explicit { abs.canonicalize().unwrap_or(abs) } else { abs };
    let checker = Checker::new(policy, if explicit { &abs } else { scope });
    let key = super::path_key(&abs);
    let md = std::fs::metadata(&abs);
    let is_dir = md.as_ref().is_ok_and(|m| m.is_dir());
    let mut w = Walked {
        prefix: if is_dir { format!("{}/", key.trim_end_matches('/')) } else { key.clone() },
        is_dir,
        vanished: false,
        files: vec![],
        errors: vec![],
        refused: false,
    };
    match md {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A vanished root (file or folder): the caller removes what was stored for it.
            w.prefix = key;
            w.vanished = true;
            return Ok(w);
        }
        Err(e) => return Err(PipelineError::BadInput(format!("{}: {e}", abs.display()))),
        Ok(_) if !explicit && checker.check(&abs, true).is_some() => {
            // An event path the policy refuses: never index it, and drop it
            // if it was stored before (e.g. a new .pithignore rule).
            if let Some(Skip::Outside(why)) = checker.check(&abs, true) {
                w.errors.push((key.clone(), why));
            }
            w.prefix = key;
            w.refused = true;
            return Ok(w);
        }
        Ok(m) if m.is_file() => {
            if policy.is_own(&abs) {
                return Ok(w);
            }
            w.files.push(FileEntry { path: key, size: m.len(), mtime: mtime_secs(&m) });
            return Ok(w);
        }
        Ok(_) => {}
    }
    let outside = Arc::new(Mutex::new(Vec::new()));
    let (root_for_filter, outside_w) = (abs.clone(), outside.clone());
    let walker = ignore::WalkBuilder::new(&abs)
        .hidden(false)
        .git_ignore(false)
        .git_global(false)
        .git_exclude(false)
        .ignore(false)
        .parents(false)
        .follow_links(true)
        // Name order, not the file system's: the same files are ingested in
        // the same order everywhere (deterministic ids and graphs).
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |e| {
            if e.path() == root_for_filter {
                return true;
            }
            match checker.check(e.path(), e.path_is_symlink()) {
                None => true,
                Some(Skip::Outside(why)) => {
                    outside_w.lock().unwrap_or_else(|p| p.into_inner()).push((super::path_key(e.path()), why));
                    false
                }
                Some(_) => false,
            }
        })
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
    w.errors.append(&mut outside.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(w)
}

fn describe(err: &ignore::Error, root: &str) -> (String, String) {
    match err {
        ignore::Error::WithPath { path, err } => (super::path_key(path), describe(err, root).1),
        ignore::Error::Loop { child, ancestor } => (super::path_key(child), format!("symlink loop: points back to {}", ancestor.display())),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => describe(err, root),
        ignore::Error::Io(e) if e.raw_os_error() == Some(libc::ELOOP) => (root.to_string(), "symlink loop".into()),
        other => (root.to_string(), other.to_string()),
    }
}
