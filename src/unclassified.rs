//! The most frequent unclassified cookie names, for `GET /unclassified`.
//!
//! A space-saving counter: at most `capacity` names are kept however many distinct names
//! upstreams invent; a new name evicts the least counted one and inherits its count as its
//! possible over-count (`error`). Names are truncated, values are never seen here.

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

#[derive(Debug, Default)]
pub struct TopNames {
    entries: Mutex<Vec<Entry>>,
}

impl TopNames {
    pub fn new() -> TopNames {
        TopNames::default()
    }

    pub fn record(&self, name: &[u8]) {
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
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
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

    /// Entries, most frequent first.
    pub fn top(&self) -> Vec<Entry> {
        let mut v = self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
        v
    }
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
    fn long_and_odd_names_are_cut_safely() {
        let t = TopNames::new();
        let long = "é".repeat(200);
        t.record(long.as_bytes());
        t.record(b"\xff\xfe");
        let top = t.top();
        assert!(top.iter().all(|e| e.name.len() <= MAX_NAME));
    }
}
