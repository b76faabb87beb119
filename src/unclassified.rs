//! The most frequent unclassified cookie names, for `GET /unclassified`.
//!
//! A space-saving counter: at most `capacity` names are kept however many distinct names
//! upstreams invent; a new name evicts the least counted one and inherits its count as its
//! possible over-count (`error`). Names are truncated, values are never seen here.
//!
//! Each worker thread counts into its own summary (no lock shared between workers on the request
//! path); [`TopNames::top`] merges them.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;

/// How many names are tracked.
pub(crate) const CAPACITY: usize = 100;
/// Longest name kept (longer ones are cut at a character boundary).
pub(crate) const MAX_NAME: usize = 128;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub count: u64,
    /// How much of `count` may belong to names this one evicted.
    pub error: u64,
}

#[derive(Debug)]
pub struct TopNames {
    /// One summary per worker (indexed by the worker number, modulo their count).
    shards: Box<[Mutex<Vec<Entry>>]>,
}

impl Default for TopNames {
    fn default() -> TopNames {
        TopNames::new()
    }
}

impl TopNames {
    /// One summary per core.
    pub fn new() -> TopNames {
        TopNames::with_shards(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    fn with_shards(n: usize) -> TopNames {
        TopNames {
            shards: (0..n.max(1)).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// Counts `name` in this worker's summary.
    pub fn record(&self, name: &[u8]) {
        self.record_in(crate::server::workers::current(), name);
    }

    fn record_in(&self, worker: usize, name: &[u8]) {
        let mut name = match std::str::from_utf8(name) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(name),
        };
        if name.len() > MAX_NAME {
            let mut cut = MAX_NAME;
            while !name.is_char_boundary(cut) {
                cut -= 1;
            }
            name.to_mut().truncate(cut);
        }
        let mut entries = self.shards[worker % self.shards.len()]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(e) = entries.iter_mut().find(|e| e.name == name) {
            e.count += 1;
            return;
        }
        if entries.len() < CAPACITY {
            entries.push(Entry {
                name: name.into_owned(),
                count: 1,
                error: 0,
            });
            return;
        }
        if let Some(min) = entries.iter_mut().min_by_key(|e| e.count) {
            min.error = min.count;
            min.count += 1;
            min.name = name.into_owned();
        }
    }

    /// Entries, most frequent first: the workers' summaries merged, at most `CAPACITY`.
    ///
    /// A name's counts are added up over the summaries. A full summary that does not list a name
    /// may have counted it before evicting it, at most as often as its least counted entry: that
    /// much is added to the name's count and to its possible over-count, so `count` stays an
    /// upper bound and `count - error` a lower one, as in each summary.
    pub fn top(&self) -> Vec<Entry> {
        let shards: Vec<Vec<Entry>> = self
            .shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect();
        let mut v = if shards.len() == 1 {
            shards.into_iter().next().unwrap_or_default()
        } else {
            merge(&shards)
        };
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
        v.truncate(CAPACITY);
        v
    }
}

fn merge(shards: &[Vec<Entry>]) -> Vec<Entry> {
    let floor: Vec<u64> = shards
        .iter()
        .map(|s| {
            if s.len() >= CAPACITY {
                s.iter().map(|e| e.count).min().unwrap_or(0)
            } else {
                0
            }
        })
        .collect();
    let mut merged: HashMap<&str, Entry> = HashMap::new();
    for s in shards {
        for e in s {
            let m = merged.entry(&e.name).or_insert_with(|| Entry {
                name: e.name.clone(),
                count: 0,
                error: 0,
            });
            m.count += e.count;
            m.error += e.error;
        }
    }
    for m in merged.values_mut() {
        for (s, &floor) in shards.iter().zip(&floor) {
            if floor > 0 && !s.iter().any(|e| e.name == m.name) {
                m.count += floor;
                m.error += floor;
            }
        }
    }
    merged.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_orders() {
        let t = TopNames::new();
        for _ in 0..3 {
            t.record(b"b");
        }
        t.record(b"a");
        let top = t.top();
        assert_eq!(
            top[0],
            Entry {
                name: "b".into(),
                count: 3,
                error: 0
            }
        );
        assert_eq!(top[1].name, "a");
    }

    #[test]
    fn stays_bounded_and_keeps_heavy_hitters() {
        let t = TopNames::new();
        for i in 0..10_000 {
            t.record(format!("noise{i}").as_bytes());
            if i % 10 == 0 {
                t.record(b"_frequent");
            }
        }
        let top = t.top();
        assert_eq!(top.len(), CAPACITY);
        assert_eq!(top[0].name, "_frequent");
        assert!(top[0].count >= 1000);
    }

    #[test]
    fn the_workers_summaries_are_added_up() {
        let t = TopNames::with_shards(2);
        for _ in 0..3 {
            t.record_in(0, b"a");
        }
        for _ in 0..2 {
            t.record_in(1, b"a");
        }
        t.record_in(1, b"b");
        // Worker numbers beyond the shards wrap around.
        t.record_in(3, b"b");
        assert_eq!(
            t.top(),
            [
                Entry {
                    name: "a".into(),
                    count: 5,
                    error: 0
                },
                Entry {
                    name: "b".into(),
                    count: 2,
                    error: 0
                }
            ]
        );
    }

    #[test]
    fn a_full_summary_bounds_what_it_may_have_evicted() {
        let t = TopNames::with_shards(2);
        // Worker 0 fills its summary, each name twice: its floor is 2.
        for i in 0..CAPACITY {
            t.record_in(0, format!("n{i}").as_bytes());
            t.record_in(0, format!("n{i}").as_bytes());
        }
        for _ in 0..10 {
            t.record_in(1, b"hot");
        }
        let top = t.top();
        assert_eq!(top.len(), CAPACITY);
        assert_eq!(
            top[0],
            Entry {
                name: "hot".into(),
                count: 12,
                error: 2
            }
        );
        // A name only worker 0 lists keeps its exact count: worker 1's summary is not full.
        assert!(top
            .iter()
            .any(|e| e.name == "n0" && e.count == 2 && e.error == 0));
    }

    #[test]
    fn long_and_odd_names_are_cut_safely() {
        let t = TopNames::new();
        let long = "é".repeat(200);
        t.record(long.as_bytes());
        t.record(b"\xff\xfe");
        let top = t.top();
        assert!(top.iter().all(|e| e.name.len() <= MAX_NAME));
    }
}
