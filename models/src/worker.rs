//! One thread per ONNX session, fed through a channel.
//!
//! `Session::run` needs `&mut self`; rather than a mutex shared by callers, the
//! session lives on its own thread (as in text-embeddings-inference's backends)
//! and callers send jobs with a reply channel. The thread builds the session
//! itself, so a model that fails to load fails `spawn`, not the first request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use crate::error::{ModelError, Result};

struct Job<I, O> {
    input: I,
    reply: Sender<Result<O>>,
}

pub struct Worker<I, O> {
    name: String,
    tx: Option<Sender<Job<I, O>>>,
    /// Urgent jobs (search queries): taken before any queued normal job, so a
    /// query never waits behind an ingest's backlog of batches.
    tx_urgent: Option<Sender<Job<I, O>>>,
    joins: Vec<JoinHandle<()>>,
    /// Jobs the handlers have run (counted on the worker threads, after the handler).
    calls: Arc<AtomicU64>,
}

impl<I: Send + 'static, O: Send + 'static> Worker<I, O> {
    /// Start the thread; `init` runs on it and returns the job handler.
    pub fn spawn<S, F>(name: &str, init: S) -> Result<Self>
    where
        S: FnOnce() -> Result<F> + Send + 'static,
        F: FnMut(I) -> Result<O> + 'static,
    {
        let init = move || {
            let mut handler = init()?;
            Ok(move |inputs: Vec<I>| inputs.into_iter().map(&mut handler).collect::<Result<Vec<O>>>())
        };
        Self::spawn_pool(name, vec![init], 1, |_| 1)
    }

    /// One thread per `inits` entry, each building its own handler (its own
    /// session), all taking jobs from one queue. On a small machine two
    /// single-threaded sessions working on different batches beat one session
    /// whose two intra-op threads meet at a barrier after every operator.
    ///
    /// Queued jobs are run together, as one call of the handler, while their
    /// summed `weight` stays within `budget` (a job heavier than the budget
    /// runs alone): concurrent search queries share one forward pass, ingest
    /// batches already at the budget do not merge.
    pub fn spawn_pool<S, F>(name: &str, inits: Vec<S>, budget: usize, weight: fn(&I) -> usize) -> Result<Self>
    where
        S: FnOnce() -> Result<F> + Send + 'static,
        F: FnMut(Vec<I>) -> Result<Vec<O>> + 'static,
    {
        let (tx, rx) = unbounded::<Job<I, O>>();
        let (tx_urgent, rx_urgent) = unbounded::<Job<I, O>>();
        let replicas = inits.len();
        let (ready_tx, ready_rx) = bounded::<Result<()>>(replicas);
        let mut joins = Vec::new();
        let calls = Arc::new(AtomicU64::new(0));
        for (r, init) in inits.into_iter().enumerate() {
            let (rx, rx_urgent, ready_tx, calls) = (rx.clone(), rx_urgent.clone(), ready_tx.clone(), calls.clone());
            let join = std::thread::Builder::new()
                .name(format!("encoder-{name}-{r}"))
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
                    let mut carry: Option<(Job<I, O>, bool)> = None;
                    loop {
                        // Urgent jobs first, even before a normal job carried
                        // over from the last merge (it waits for the next turn).
                        let (first, urgent) = match rx_urgent.try_recv() {
                            Ok(j) => (j, true),
                            Err(_) => match carry.take() {
                                Some(j) => j,
                                None => crossbeam_channel::select_biased! {
                                    recv(rx_urgent) -> j => match j { Ok(j) => (j, true), Err(_) => break },
                                    recv(rx) -> j => match j { Ok(j) => (j, false), Err(_) => break },
                                },
                            },
                        };
                        // Merge queued jobs of the same urgency while the budget allows.
                        let queue = if urgent { &rx_urgent } else { &rx };
                        let mut load = weight(&first.input);
                        let mut jobs = vec![first];
                        while load < budget {
                            match queue.try_recv() {
                                Ok(j) if load + weight(&j.input) <= budget => {
                                    load += weight(&j.input);
                                    jobs.push(j);
                                }
                                Ok(j) => {
                                    // At most one job waits aside: a normal job carried
                                    // before this urgent batch keeps its place.
                                    match carry.take() {
                                        None => carry = Some((j, urgent)),
                                        Some(held) => {
                                            carry = Some(held);
                                            jobs.push(j);
                                        }
                                    }
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        let (inputs, replies): (Vec<I>, Vec<Sender<Result<O>>>) = jobs.into_iter().map(|j| (j.input, j.reply)).unzip();
                        let n = inputs.len() as u64;
                        let result = handler(inputs);
                        calls.fetch_add(n, Ordering::Relaxed);
                        match result {
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
            joins.push(join);
        }
        let worker = Worker { name: name.to_string(), tx: Some(tx), tx_urgent: Some(tx_urgent), joins, calls };
        for _ in 0..replicas {
            // On error `worker` drops here, which closes the queue and joins the others.
            ready_rx.recv().map_err(|_| ModelError::WorkerGone(name.to_string()))??;
        }
        Ok(worker)
    }

    /// Run one job and wait for its answer.
    pub fn call(&self, input: I) -> Result<O> {
        self.submit(input)?.wait()
    }

    /// Queue one job; its answer comes from [`Pending::wait`]. Submitting
    /// several before waiting keeps every replica busy.
    pub fn submit(&self, input: I) -> Result<Pending<O>> {
        self.send(input, false)
    }

    /// Queue a job ahead of every normal one (a search query behind an ingest).
    pub fn submit_urgent(&self, input: I) -> Result<Pending<O>> {
        self.send(input, true)
    }

    fn send(&self, input: I, urgent: bool) -> Result<Pending<O>> {
        let (reply, rx) = bounded(1);
        let gone = || ModelError::WorkerGone(self.name.clone());
        let tx = if urgent { &self.tx_urgent } else { &self.tx };
        tx.as_ref().ok_or_else(gone)?.send(Job { input, reply }).map_err(|_| gone())?;
        Ok(Pending { rx, name: self.name.clone() })
    }
}

/// The answer to a submitted job.
pub struct Pending<O> {
    rx: Receiver<Result<O>>,
    name: String,
}

impl<O> Pending<O> {
    pub fn wait(self) -> Result<O> {
        self.rx.recv().map_err(|_| ModelError::WorkerGone(self.name))?
    }
}

impl<I, O> Worker<I, O> {
    /// Jobs the model threads have run so far (lets tests prove that no
    /// encoder work happened). Counted where the work is done, not where it
    /// is asked for, so a lost or doubled job shows.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

impl<I, O> Drop for Worker<I, O> {
    fn drop(&mut self) {
        self.tx.take();
        self.tx_urgent.take();
        for j in self.joins.drain(..) {
            let _ = j.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_init_fails_spawn_and_jobs_run_in_order() {
        let bad = Worker::<u32, u32>::spawn("bad", || -> Result<fn(u32) -> Result<u32>> { Err(ModelError::Ort("boom".into())) });
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
            Worker::spawn_pool("double", vec![|| Ok(|xs: Vec<u32>| Ok(xs.into_iter().map(|x| x * 2).collect()))], 8, |_| 1).unwrap(),
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

    #[test]
    fn pool_never_merges_past_the_budget() {
        // Each answer is the total weight of the batch its job ran in.
        let init = || {
            Ok(|xs: Vec<usize>| {
                std::thread::sleep(std::time::Duration::from_millis(2));
                let total: usize = xs.iter().sum();
                Ok(xs.iter().map(|_| total).collect())
            })
        };
        let w = Worker::spawn_pool("pool", vec![init, init], 10, |x: &usize| *x).unwrap();
        let weights = [6, 6, 3, 3, 3, 12, 1, 1, 1, 1, 9, 2];
        let pending: Vec<_> = weights.iter().map(|&x| (x, w.submit(x).unwrap())).collect();
        for (x, p) in pending {
            let total = p.wait().unwrap();
            assert!(total >= x, "job {x} ran in a batch of weight {total}");
            assert!(total <= 10 || total == x, "job {x} merged into a batch of weight {total}");
        }
        assert_eq!(w.calls(), weights.len() as u64);
    }

    #[test]
    fn urgent_jobs_overtake_a_queued_backlog() {
        // One replica, each job takes 20 ms and answers with the order it ran in.
        let order = Arc::new(AtomicU64::new(0));
        let o = order.clone();
        let w = Worker::spawn_pool(
            "prio",
            vec![move || {
                Ok(move |xs: Vec<u32>| {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    Ok(xs.iter().map(|_| o.fetch_add(1, Ordering::SeqCst)).collect())
                })
            }],
            1,
            |_| 1,
        )
        .unwrap();
        let backlog: Vec<_> = (0..10).map(|i| w.submit(i).unwrap()).collect();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let urgent = w.submit_urgent(99).unwrap().wait().unwrap();
        // It ran second (after the job already running), not eleventh.
        assert!(urgent <= 1, "urgent job ran at position {urgent}");
        for p in backlog {
            p.wait().unwrap();
        }
    }

    #[test]
    fn calls_count_jobs_run_not_jobs_asked_for() {
        let w = Worker::spawn_pool(
            "slow",
            vec![|| {
                Ok(|xs: Vec<u32>| {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    Ok(xs)
                })
            }],
            1,
            |_| 1,
        )
        .unwrap();
        let p = w.submit(1).unwrap();
        // Submitted but not yet run: nothing counted.
        assert_eq!(w.calls(), 0);
        p.wait().unwrap();
        assert_eq!(w.calls(), 1);
    }
}
