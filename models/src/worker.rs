//! One thread per ONNX session, fed through a channel.
//!
//! `Session::run` needs `&mut self`; rather than a mutex shared by callers, the
//! session lives on its own thread (as in text-embeddings-inference's backends)
//! and callers send jobs with a reply channel. The thread builds the session
//! itself, so a model that fails to load fails `spawn`, not the first request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, unbounded, Sender};

use crate::error::{ModelError, Result};

struct Job<I, O> {
    input: I,
    reply: Sender<Result<O>>,
}

pub struct Worker<I, O> {
    name: String,
    tx: Option<Sender<Job<I, O>>>,
    join: Option<JoinHandle<()>>,
    calls: AtomicU64,
}

impl<I: Send + 'static, O: Send + 'static> Worker<I, O> {
    /// Start the thread; `init` runs on it and returns the job handler.
    pub fn spawn<S, F>(name: &str, init: S) -> Result<Self>
    where
        S: FnOnce() -> Result<F> + Send + 'static,
        F: FnMut(I) -> Result<O> + 'static,
    {
        let (tx, rx) = unbounded::<Job<I, O>>();
        let (ready_tx, ready_rx) = bounded::<Result<()>>(1);
        let join = std::thread::Builder::new()
            .name(format!("encoder-{name}"))
            .spawn(move || {
                let mut handler = match init() {
                    Ok(h) => {
                        let _ = ready_tx.send(Ok(()));
                        h
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                for job in rx {
                    let out = handler(job.input);
                    let _ = job.reply.send(out);
                }
            })
            .map_err(|e| ModelError::Ort(format!("spawning encoder thread: {e}")))?;
        ready_rx.recv().map_err(|_| ModelError::WorkerGone(name.to_string()))??;
        Ok(Worker { name: name.to_string(), tx: Some(tx), join: Some(join), calls: AtomicU64::new(0) })
    }

    /// Run one job and wait for its answer.
    pub fn call(&self, input: I) -> Result<O> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let (reply, rx) = bounded(1);
        let gone = || ModelError::WorkerGone(self.name.clone());
        self.tx.as_ref().ok_or_else(gone)?.send(Job { input, reply }).map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }
}

impl<I, O> Worker<I, O> {
    /// Jobs run so far (lets tests prove that no encoder work happened).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

impl<I, O> Drop for Worker<I, O> {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_init_fails_spawn_and_jobs_run_in_order() {
        let bad = Worker::<u32, u32>::spawn("bad", || -> Result<fn(u32) -> Result<u32>> {
            Err(ModelError::Ort("boom".into()))
        });
        assert!(bad.is_err());
        let mut total = 0;
        let w = Worker::spawn("sum", move || {
            Ok(move |x: u32| {
                total += x;
                Ok(total)
            })
        })
        .unwrap();
        assert_eq!(w.call(2).unwrap(), 2);
        assert_eq!(w.call(3).unwrap(), 5);
    }
}
