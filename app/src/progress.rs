//! A progress bar on a terminal, periodic log lines otherwise.

use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use pith_pipeline::ingest::Progress;

pub struct CliProgress {
    bar: Option<ProgressBar>,
    done: AtomicU64,
    total: AtomicU64,
}

impl CliProgress {
    pub fn new() -> Self {
        let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {per_sec} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        });
        CliProgress { bar, done: AtomicU64::new(0), total: AtomicU64::new(0) }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for CliProgress {
    fn set_total(&self, n: u64) {
        self.total.store(n, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.set_length(n);
        }
    }

    fn inc(&self, path: &str) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.bar {
            Some(b) => {
                b.inc(1);
                b.set_message(path.rsplit('/').next().unwrap_or(path).to_string());
            }
            None if done.is_multiple_of(500) => {
                tracing::info!(done, total = self.total.load(Ordering::Relaxed), "ingest progress");
            }
            None => {}
        }
    }
}
