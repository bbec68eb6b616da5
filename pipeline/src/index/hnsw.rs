//! pith's own HNSW (Malkov & Yashunin, 2018) over codes in flat arrays.
//!
//! Why not hnsw_rs here: measured on sift5k, hnsw_rs (points behind `Arc`s,
//! neighbour lists behind locks, a hash set per search) answered 5.7k
//! queries/s at recall 0.97 where FAISS answers 38k; it also cannot score a
//! prepared query against codes without tricks. This graph keeps the codes
//! in one `Vec<u32>`, layer-0 links in one `Vec<u32>` (2M per node), upper
//! layers in a map (a node reaches them with probability 1/M), and marks
//! visited nodes with a per-thread epoch array. One writer at a time (the
//! owner wraps it in a lock or builds it aside); any number of readers.
//!
//! Distances: nodes compare with `Codec::distance` (build), queries with
//! `CodeDist::query_distance` (search); see `index::codes`.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::quant::Rng;

/// A distance ordered by `total_cmp`, for heaps.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Dist(pub f32);
impl Eq for Dist {}
impl PartialOrd for Dist {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Dist {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

thread_local! {
    static VISITED: RefCell<(u32, Vec<u32>)> = const { RefCell::new((0, Vec::new())) };
}

/// Run `f` with a "visited" marker: `seen(i)` is true the second time `i` is seen.
fn with_visited<R>(n: usize, f: impl FnOnce(&mut dyn FnMut(u32) -> bool) -> R) -> R {
    VISITED.with(|v| {
        let mut v = v.borrow_mut();
        let (epoch, marks) = &mut *v;
        if marks.len() < n {
            marks.resize(n, 0);
        }
        *epoch = epoch.wrapping_add(1);
        if *epoch == 0 {
            marks.iter_mut().for_each(|m| *m = 0);
            *epoch = 1;
        }
        let e = *epoch;
        let mut seen = |i: u32| {
            let m = &mut marks[i as usize];
            let was = *m == e;
            *m = e;
            was
        };
        f(&mut seen)
    })
}

#[derive(Clone)]
pub struct Graph {
    pub m: usize,
    pub ef_construction: usize,
    levels: Vec<u8>,
    /// `n × 2m` layer-0 links; `count0[i]` are used.
    links0: Vec<u32>,
    count0: Vec<u8>,
    upper: HashMap<u32, Vec<Vec<u32>>>,
    entry: Option<u32>,
    top: u8,
    rng: Rng,
}

impl Graph {
    pub fn new(m: usize, ef_construction: usize) -> Self {
        Graph {
            m,
            ef_construction,
            levels: Vec::new(),
            links0: Vec::new(),
            count0: Vec::new(),
            upper: HashMap::new(),
            entry: None,
            top: 0,
            rng: Rng::new(0x5eed),
        }
    }

    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Bytes the links take.
    pub fn link_bytes(&self) -> usize {
        self.links0.len() * 4
            + self.count0.len()
            + self.levels.len()
            + self.upper.values().flatten().map(|l| l.len() * 4 + 24).sum::<usize>()
    }

    fn m0(&self) -> usize {
        2 * self.m
    }

    pub fn neighbours(&self, node: u32, layer: u8) -> &[u32] {
        if layer == 0 {
            let s = node as usize * self.m0();
            &self.links0[s..s + self.count0[node as usize] as usize]
        } else {
            self.upper.get(&node).and_then(|l| l.get(layer as usize - 1)).map_or(&[], |v| v.as_slice())
        }
    }

    fn set_neighbours(&mut self, node: u32, layer: u8, list: &[u32]) {
        if layer == 0 {
            let m0 = self.m0();
            let s = node as usize * m0;
            self.links0[s..s + list.len()].copy_from_slice(list);
            self.count0[node as usize] = list.len() as u8;
        } else if let Some(l) = self.upper.get_mut(&node).and_then(|l| l.get_mut(layer as usize - 1)) {
            l.clear();
            l.extend_from_slice(list);
        }
    }

    /// Best-first search of one layer from `entry` points: the `ef` closest
    /// nodes that pass `keep` (all nodes are walked through), nearest first.
    pub fn search_layer(
        &self,
        dist: &mut dyn FnMut(u32) -> f32,
        entry: &[(f32, u32)],
        ef: usize,
        layer: u8,
        keep: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<(f32, u32)> {
        with_visited(self.len(), |seen| {
            let mut cand: BinaryHeap<Reverse<(Dist, u32)>> = BinaryHeap::new();
            let mut best: BinaryHeap<(Dist, u32)> = BinaryHeap::new();
            for &(d, n) in entry {
                seen(n);
                cand.push(Reverse((Dist(d), n)));
                if keep.is_none_or(|k| k(n)) {
                    best.push((Dist(d), n));
                }
            }
            while let Some(Reverse((Dist(d), n))) = cand.pop() {
                if best.len() >= ef && best.peek().is_some_and(|(w, _)| d > w.0) {
                    break;
                }
                for &nb in self.neighbours(n, layer) {
                    if seen(nb) {
                        continue;
                    }
                    let dn = dist(nb);
                    let full = best.len() >= ef;
                    if !full || best.peek().is_some_and(|(w, _)| dn < w.0) {
                        cand.push(Reverse((Dist(dn), nb)));
                        if keep.is_none_or(|k| k(nb)) {
                            best.push((Dist(dn), nb));
                            if best.len() > ef {
                                best.pop();
                            }
                        }
                    }
                }
            }
            let mut out: Vec<(f32, u32)> = best.into_iter().map(|(d, n)| (d.0, n)).collect();
            out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            out
        })
    }

    /// Greedy walk from the top layer down to layer `lowest`: at each layer,
    /// move to the closest neighbour until none is closer.
    fn descend(&self, dist: &mut dyn FnMut(u32) -> f32, mut cur: (f32, u32), lowest: u8) -> (f32, u32) {
        for layer in (lowest..=self.top).rev() {
            loop {
                let mut moved = false;
                for &nb in self.neighbours(cur.1, layer) {
                    let d = dist(nb);
                    if d < cur.0 {
                        cur = (d, nb);
                        moved = true;
                    }
                }
                if !moved {
                    break;
                }
            }
        }
        cur
    }

    /// Greedy descent through the upper layers, then layer 0 with `ef`.
    pub fn search(&self, dist: &mut dyn FnMut(u32) -> f32, k: usize, ef: usize, keep: Option<&dyn Fn(u32) -> bool>) -> Vec<(f32, u32)> {
        let Some(ep) = self.entry else { return Vec::new() };
        let start = (dist(ep), ep);
        let cur = self.descend(dist, start, 1);
        let mut out = self.search_layer(dist, &[cur], ef.max(k), 0, keep);
        out.truncate(k);
        out
    }

    /// The HNSW neighbour heuristic: keep a candidate only if it is closer
    /// to the new node than to every neighbour already kept.
    fn select(&self, pair: &dyn Fn(u32, u32) -> f32, cands: &[(f32, u32)], m: usize) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::with_capacity(m);
        for &(d, c) in cands {
            if out.len() >= m {
                break;
            }
            if out.iter().all(|&r| pair(c, r) > d) {
                out.push(c);
            }
        }
        out
    }

    /// Add node `id` (= `len()`), whose distances to existing nodes `pair` gives.
    pub fn insert(&mut self, pair: &dyn Fn(u32, u32) -> f32) -> u32 {
        let id = self.len() as u32;
        let ml = 1.0 / (self.m as f64).ln();
        let u = ((self.rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let level = ((-u.ln() * ml).floor() as usize).min(15) as u8;
        self.levels.push(level);
        self.links0.extend(std::iter::repeat_n(0, self.m0()));
        self.count0.push(0);
        if level > 0 {
            self.upper.insert(id, vec![Vec::new(); level as usize]);
        }
        let Some(ep) = self.entry else {
            self.entry = Some(id);
            self.top = level;
            return id;
        };
        let mut d = |n: u32| pair(id, n);
        let start = (d(ep), ep);
        let mut eps = vec![self.descend(&mut d, start, level + 1)];
        for layer in (0..=level.min(self.top)).rev() {
            let found = self.search_layer(&mut d, &eps, self.ef_construction, layer, None);
            let max = if layer == 0 { self.m0() } else { self.m };
            let chosen = self.select(pair, &found, self.m);
            self.set_neighbours(id, layer, &chosen);
            for &nb in &chosen {
                let mut list = self.neighbours(nb, layer).to_vec();
                if list.len() < max {
                    list.push(id);
                } else {
                    let mut c: Vec<(f32, u32)> = list.iter().chain(std::iter::once(&id)).map(|&x| (pair(nb, x), x)).collect();
                    c.sort_by(|a, b| a.0.total_cmp(&b.0));
                    list = self.select(pair, &c, max);
                }
                self.set_neighbours(nb, layer, &list);
            }
            eps = found;
        }
        if level > self.top {
            self.top = level;
            self.entry = Some(id);
        }
        id
    }

    /// Flat little-endian dump (see [`Graph::from_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.links0.len() * 4 + self.len() * 2 + 64);
        let u32s = |v: &[u32], out: &mut Vec<u8>| {
            out.extend((v.len() as u64).to_le_bytes());
            out.extend_from_slice(bytemuck::cast_slice(v));
        };
        let head = [self.m as u32, self.ef_construction as u32, self.entry.map_or(u32::MAX, |e| e), self.top as u32];
        u32s(&head, &mut out);
        let counts: Vec<u32> = self.levels.iter().zip(&self.count0).map(|(l, c)| (*l as u32) << 8 | *c as u32).collect();
        u32s(&counts, &mut out);
        u32s(&self.links0, &mut out);
        let mut up: Vec<u32> = Vec::new();
        let mut keys: Vec<&u32> = self.upper.keys().collect();
        keys.sort();
        for k in keys {
            for l in &self.upper[k] {
                up.push(*k);
                up.push(l.len() as u32);
                up.extend(l);
            }
        }
        u32s(&up, &mut out);
        out
    }

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let mut at = 0usize;
        let mut u32s = || -> Option<Vec<u32>> {
            let n = u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?) as usize;
            at += 8;
            let raw = b.get(at..at.checked_add(n.checked_mul(4)?)?)?;
            at += n * 4;
            Some(raw.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
        };
        let head = u32s()?;
        let counts = u32s()?;
        let links0 = u32s()?;
        let up = u32s()?;
        let [m, efc, entry, top] = head[..] else { return None };
        let (m, efc) = (m as usize, efc as usize);
        let n = counts.len();
        // count0 is a byte: 2m links must fit.
        if !(2..=64).contains(&m) || links0.len() != n * 2 * m || top > 15 {
            return None;
        }
        let levels: Vec<u8> = counts.iter().map(|c| (c >> 8) as u8).collect();
        let count0: Vec<u8> = counts.iter().map(|c| (c & 255) as u8).collect();
        if count0.iter().any(|c| *c as usize > 2 * m) || links0.iter().any(|l| *l as usize >= n.max(1)) {
            return None;
        }
        let mut upper: HashMap<u32, Vec<Vec<u32>>> = HashMap::new();
        let mut i = 0;
        while i + 1 < up.len() {
            let (node, len) = (up[i], up[i + 1] as usize);
            let list = up.get(i + 2..i + 2 + len)?.to_vec();
            if node as usize >= n || list.iter().any(|x| *x as usize >= n) {
                return None;
            }
            upper.entry(node).or_default().push(list);
            i += 2 + len;
        }
        for (node, lists) in &upper {
            if lists.len() != levels[*node as usize] as usize {
                return None;
            }
        }
        if levels.iter().any(|l| *l > 15) {
            return None;
        }
        let entry = match (entry, n) {
            (u32::MAX, 0) => None,
            (e, _) if (e as usize) < n && levels[e as usize] as u32 == top => Some(e),
            _ => return None,
        };
        Some(Graph { m, ef_construction: efc, levels, links0, count0, upper, entry, top: top as u8, rng: Rng::new(0x5eed ^ n as u64) })
    }
}
