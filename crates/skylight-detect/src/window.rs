//! Sliding windows over event times, per user (or address), for "N within T" rules.
//!
//! Records arrive in the order their blobs are committed, not in time order, so a window keeps
//! its entries sorted and asks whether any span of the window's width around a new entry holds
//! enough of them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::packed::Packed;

/// How far behind the newest entry entries are kept at least (ms): a day's backfill window and
/// two hours of collection lag.
pub const KEEP_MS: i64 = 26 * 3_600_000;

/// Entries a span hands back at most (its count is exact).
pub const MAX_SPAN_ENTRIES: usize = 200;

/// One counted activity. Saved as `[ms, id, what]` (`[ms, id]` when it counts every entry): a
/// window holds a day of them; derived `Deserialize` also reads the object form saved before.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Entry {
    /// Time in ms.
    pub ms: i64,
    /// The record Id.
    pub id: Packed,
    /// What it counts as (an object, a target user): empty to count every entry.
    #[serde(default)]
    pub what: Packed,
}

impl Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.what.is_empty() {
            (self.ms, &self.id).serialize(s)
        } else {
            (self.ms, &self.id, &self.what).serialize(s)
        }
    }
}

/// Entries kept for one rule and one subject, sorted by time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    entries: Vec<Entry>,
}

/// The busiest span found around a new entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// How many entries (distinct `what`s, when counting distinct).
    pub count: usize,
    /// The entries of the span nearest the new one (at most [`MAX_SPAN_ENTRIES`]).
    pub entries: Vec<Entry>,
}

impl Window {
    /// Adds an entry (once: an entry with the same time and Id is already counted) and returns
    /// the busiest span `width_ms` wide that holds it; then drops entries older than `keep_ms`
    /// (at least [`KEEP_MS`]) before the newest. Records arrive out of time order by up to a
    /// backfill window, so what is kept is measured in hours, not in window widths.
    pub fn add(&mut self, e: Entry, width_ms: i64, keep_ms: i64, distinct: bool) -> Span {
        let ms = e.ms;
        let pos = self.entries.partition_point(|x| x.ms < ms);
        let duplicate = self.entries[pos..]
            .iter()
            .take_while(|x| x.ms == ms)
            .any(|x| x.id == e.id);
        if !duplicate {
            self.entries.insert(pos, e);
        }
        // Spans [s, s + width] with s in [ms - width, ms]: slide over the entries around `ms`,
        // keeping the distinct values of the span counted as it moves (linear in its length).
        let lo = self.entries.partition_point(|x| x.ms < ms - width_ms);
        let hi = self.entries.partition_point(|x| x.ms <= ms + width_ms);
        let around = &self.entries[lo..hi];
        let mut best: (usize, usize, usize) = (0, 0, 0);
        let mut values: HashMap<&Packed, usize> = HashMap::new();
        let mut j = 0;
        for i in 0..around.len() {
            if around[i].ms > ms {
                break;
            }
            while j < around.len() && around[j].ms <= around[i].ms + width_ms {
                if distinct {
                    *values.entry(&around[j].what).or_default() += 1;
                }
                j += 1;
            }
            if j > i && around[j - 1].ms >= ms {
                let count = if distinct { values.len() } else { j - i };
                if count > best.0 {
                    best = (count, i, j);
                }
            }
            if distinct && let Some(n) = values.get_mut(&around[i].what) {
                *n -= 1;
                if *n == 0 {
                    values.remove(&around[i].what);
                }
            }
        }
        // The entries returned are those nearest the new one: a burst of thousands would
        // otherwise hand every one of them over again with each new entry.
        let spanned = &around[best.1..best.2];
        let at = spanned.partition_point(|x| x.ms < ms);
        let from = at.saturating_sub(MAX_SPAN_ENTRIES / 2);
        let to = (from + MAX_SPAN_ENTRIES).min(spanned.len());
        let span = Span {
            count: best.0,
            entries: spanned[from..to].to_vec(),
        };
        if let Some(newest) = self.entries.last().map(|x| x.ms) {
            let cut = self
                .entries
                .partition_point(|x| x.ms < newest - keep_ms.max(KEEP_MS));
            self.entries.drain(..cut);
            // A burst that has aged out leaves its room behind: give most of it back.
            if self.entries.capacity() > 4 * self.entries.len().max(8) {
                self.entries.shrink_to(2 * self.entries.len());
            }
        }
        span
    }
    /// Entries between two times, both included.
    pub fn count_between(&self, from_ms: i64, to_ms: i64) -> usize {
        let lo = self.entries.partition_point(|x| x.ms < from_ms);
        let hi = self.entries.partition_point(|x| x.ms <= to_ms);
        hi.saturating_sub(lo)
    }

    /// Whether the window holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The newest entry's time.
    pub fn newest(&self) -> Option<i64> {
        self.entries.last().map(|e| e.ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(ms: i64, id: u32) -> Entry {
        Entry {
            ms,
            id: id.to_string().into(),
            what: (id % 3).to_string().into(),
        }
    }

    #[test]
    fn late_entries_count_in_the_span_they_belong_to() {
        let mut w = Window::default();
        for (i, ms) in [10_000, 0, 5_000, 60_000, 2_000].into_iter().enumerate() {
            w.add(entry(ms, i as u32), 10_000, 100_000, false);
        }
        // 0, 2 000, 5 000 and 10 000 lie within one 10 s span; 60 000 is alone.
        let s = w.add(entry(1_000, 9), 10_000, 100_000, false);
        assert_eq!(s.count, 5);
        let s = w.add(entry(61_000, 10), 10_000, 100_000, false);
        assert_eq!(s.count, 2);
    }

    #[test]
    fn the_same_record_twice_counts_once() {
        let mut w = Window::default();
        w.add(entry(0, 1), 10, 100, false);
        assert_eq!(w.add(entry(0, 1), 10, 100, false).count, 1);
    }

    proptest! {
        /// The span found is the busiest one holding the new entry: checked by brute force.
        #[test]
        fn busiest_span_matches_brute_force(times in proptest::collection::vec(0i64..1_000, 1..40), width in 1i64..200) {
            let mut w = Window::default();
            let mut all: Vec<i64> = Vec::new();
            for (i, ms) in times.iter().enumerate() {
                let got = w.add(entry(*ms, i as u32), width, 10_000, false);
                all.push(*ms);
                let want = (ms - width..=*ms)
                    .map(|s| all.iter().filter(|t| **t >= s && **t <= s + width).count())
                    .max()
                    .unwrap_or(0);
                prop_assert_eq!(got.count, want);
            }
        }

        /// Counting distinct values: the same, against brute force.
        #[test]
        fn busiest_distinct_span_matches_brute_force(times in proptest::collection::vec(0i64..1_000, 1..40), width in 1i64..200) {
            let mut w = Window::default();
            let mut all: Vec<(i64, String)> = Vec::new();
            for (i, ms) in times.iter().enumerate() {
                let e = entry(*ms, i as u32);
                all.push((*ms, e.what.to_string()));
                let got = w.add(e, width, 10_000, true);
                let want = (ms - width..=*ms)
                    .map(|s| {
                        let mut v: Vec<&str> = all
                            .iter()
                            .filter(|(t, _)| *t >= s && *t <= s + width)
                            .map(|(_, x)| x.as_str())
                            .collect();
                        v.sort_unstable();
                        v.dedup();
                        v.len()
                    })
                    .max()
                    .unwrap_or(0);
                prop_assert_eq!(got.count, want);
            }
        }
    }
}
