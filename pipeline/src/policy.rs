//! What pith never indexes, decided in one place for the initial scan and for
//! every watch event alike: hidden paths (any component starting with `.`,
//! so `.env` and `.git/COMMIT_EDITMSG`), paths matched by a `.pithignore`
//! between the root and the file, pith's own data directory and model cache,
//! and symlinks that lead out of the root they were found under.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

pub const IGNORE_FILE: &str = ".pithignore";

#[derive(Debug, Clone, Default)]
pub struct IgnorePolicy {
    /// Canonical directories whose contents are pith's own (data dir, models).
    own: Vec<PathBuf>,
}

/// Why a path is skipped. `Outside` is reported as an ingest error; the rest
/// are skipped silently, as the user asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    Hidden,
    Ignored,
    Own,
    Outside(String),
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
}

impl IgnorePolicy {
    pub fn new(own_dirs: &[&Path]) -> Self {
        IgnorePolicy { own: own_dirs.iter().map(|d| canonical(d)).collect() }
    }

    /// pith's own directories that lie inside `root` (to tell the user they are excluded).
    pub fn own_dirs_inside(&self, root: &Path) -> Vec<PathBuf> {
        let root = canonical(root);
        self.own.iter().filter(|d| d.starts_with(&root)).cloned().collect()
    }

    pub fn is_own(&self, path: &Path) -> bool {
        self.own.iter().any(|d| path.starts_with(d))
    }

    /// Decide for `path` found under `root` (both absolute, `path` as seen
    /// in the tree, before resolving links).
    pub fn check(&self, root: &Path, path: &Path) -> Option<Skip> {
        Checker::new(self, root).check(path, true)
    }
}

/// The policy bound to one root, caching each folder's `.pithignore`, for
/// walking many paths of one tree.
pub struct Checker {
    policy: IgnorePolicy,
    root: PathBuf,
    croot: PathBuf,
    cache: Mutex<HashMap<PathBuf, Option<Arc<Gitignore>>>>,
}

impl Checker {
    pub fn new(policy: &IgnorePolicy, root: &Path) -> Self {
        Checker { policy: policy.clone(), root: root.to_path_buf(), croot: canonical(root), cache: Mutex::new(HashMap::new()) }
    }

    /// `resolve`: also resolve links to catch paths leading out of the root
    /// (needed for links; a plain entry under a checked folder cannot leave it).
    pub fn check(&self, path: &Path, resolve: bool) -> Option<Skip> {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        if rel.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.')) {
            return Some(Skip::Hidden);
        }
        if self.policy.is_own(path) {
            return Some(Skip::Own);
        }
        if self.ignored(rel) {
            return Some(Skip::Ignored);
        }
        if resolve {
            let real = canonical(path);
            if self.policy.is_own(&real) {
                return Some(Skip::Own);
            }
            if !real.starts_with(&self.croot) {
                return Some(Skip::Outside(format!("symlink leads outside the indexed folder (to {})", real.display())));
            }
        }
        None
    }

    fn gitignore(&self, dir: &Path) -> Option<Arc<Gitignore>> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(dir.to_path_buf())
            .or_insert_with(|| {
                let file = dir.join(IGNORE_FILE);
                if !file.is_file() {
                    return None;
                }
                let mut b = GitignoreBuilder::new(dir);
                b.add(&file);
                b.build().ok().map(Arc::new)
            })
            .clone()
    }

    /// Whether a `.pithignore` in the root or any folder between it and the
    /// file ignores `rel` (or one of its parent folders), with gitignore semantics.
    fn ignored(&self, rel: &Path) -> bool {
        let comps: Vec<_> = rel.components().collect();
        let mut dir = self.root.clone();
        for i in 0..comps.len() {
            if let Some(gi) = self.gitignore(&dir) {
                if matched(&gi, &dir, &comps[i..]) {
                    return true;
                }
            }
            dir.push(comps[i]);
        }
        false
    }
}

fn matched(gi: &Gitignore, dir: &Path, rest: &[std::path::Component]) -> bool {
    let mut p = dir.to_path_buf();
    for (j, c) in rest.iter().enumerate() {
        p.push(c);
        let is_dir = j + 1 < rest.len();
        if gi.matched(&p, is_dir).is_ignore() {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_ignored_own_and_outside_links_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        let data = root.join("store");
        std::fs::create_dir_all(root.join("sub/deep")).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(root.join(".pithignore"), "*.log\n").unwrap();
        std::fs::write(root.join("sub/.pithignore"), "deep/\n").unwrap();
        let outside = d.path().join("secret.txt");
        std::fs::write(&outside, "x").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link.txt")).unwrap();
        let pol = IgnorePolicy::new(&[&data]);
        let root = root.canonicalize().unwrap();
        assert_eq!(pol.check(&root, &root.join(".env")), Some(Skip::Hidden));
        assert_eq!(pol.check(&root, &root.join(".git/COMMIT_EDITMSG")), Some(Skip::Hidden));
        assert_eq!(pol.check(&root, &root.join("a.log")), Some(Skip::Ignored));
        assert_eq!(pol.check(&root, &root.join("sub/deep/x.txt")), Some(Skip::Ignored));
        assert_eq!(pol.check(&root, &root.join("store/.managed.json")), Some(Skip::Hidden));
        assert_eq!(pol.check(&root, &root.join("store/pith.sqlite")), Some(Skip::Own));
        assert!(matches!(pol.check(&root, &root.join("link.txt")), Some(Skip::Outside(_))));
        assert_eq!(pol.check(&root, &root.join("sub/notes.txt")), None);
        assert_eq!(pol.own_dirs_inside(&root), vec![data.canonicalize().unwrap()]);
    }
}
