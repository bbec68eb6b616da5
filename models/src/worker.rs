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
        Self::spawn_batched(name, 1, move || {
            let mut handler = init()?;
            Ok(move |inputs: Vec<I>| inputs.into_iter().map(&mut handler).collect::<Result<Vec<O>>>())
        })
    }

    /// Like [`spawn`], but jobs that queue up while the model is busy are run
    /// together (up to `max_batch`), as one call of `handler`: concurrent
    /// search queries share one forward pass instead of waiting in line.
    pub fn spawn_batched<S, F>(name: &str, max_batch: usize, init: S) -> Result<Self>
    where
        S: FnOnce() -> Result<F> + Send + 'static,
        F: FnMut(Vec<I>) -> Result<Vec<O>> + 'static,
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
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    while jobs.len() < max_batch.max(1) {
                        match rx.try_recv() {
                            Ok(j) => jobs.push(j),
                            Err(_) => break,
                        }
                    }
                    let (inputs, replies): (Vec<I>, Vec<Sender<Result<O>>>) = jobs.into_iter().map(|j| (j.input, j.reply)).unzip();
                    match handler(inputs) {
                        Ok(outs) if outs.len() == replies.len() => {
                            for (r, o) in replies.into_iter().zip(outs) {
                                let _ = r.send(Ok(o));
                            }
                        }
                        Ok(_) => {
                            for r in replies {
                                let _ = r.send(Err(ModelError::Ort("batched handler returned the wrong number of results".into())));
                            }
                        }
                        Err(e) => {
                            let msg = e.to_string();
                            for r in replies {
                                let _ = r.send(Err(ModelError::Ort(msg.clone())));
                            }
                        }
                    }
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

    #[test]
    fn batched_jobs_each_get_their_own_answer() {
        let w = std::sync::Arc::new(
            Worker::spawn_batched("double", 8, || Ok(|xs: Vec<u32>| Ok(xs.into_iter().map(|x| x * 2).collect()))).unwrap(),
        );
        let hs: Vec<_> = (0..16u32)
            .map(|i| {
                let w = w.clone();
                std::thread::spawn(move || (i, w.call(i).unwrap()))
            })
            .collect();
        for h in hs {
            let (i, out) = h.join().unwrap();
            assert_eq!(out, i * 2);
        }
    }
}
