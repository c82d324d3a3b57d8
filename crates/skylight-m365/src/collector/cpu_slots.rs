//! A bound on the CPU work of parsing blobs, across every collector of the process.
//!
//! Downloads wait on the network, so many run at once; parsing and normalising their bytes is CPU
//! work, and more of it at once than there are cores gains nothing. Worse, the store's writer —
//! the one serial step of ingest — then shares its core with every parser: on the 2-core
//! development machine, with 40 blobs in flight, the writer held the connection 48–58 s of a
//! 64–74 s run, against 36 s for the same commits when one parser ran at a time.

use std::sync::{Condvar, LazyLock, Mutex, MutexGuard, PoisonError};

/// Slots for parsing, one per core (shared by all tenants and content types of the process).
pub(super) static PARSING: LazyLock<CpuSlots> = LazyLock::new(|| {
    CpuSlots::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get))
});

/// A counting semaphore for blocking threads.
pub(super) struct CpuSlots {
    limit: usize,
    busy: Mutex<usize>,
    freed: Condvar,
}

impl CpuSlots {
    /// Slots for at most `limit` threads at once (at least one).
    pub(super) fn new(limit: usize) -> CpuSlots {
        CpuSlots {
            limit: limit.max(1),
            busy: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        self.busy.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a free slot; it is given back when the guard is dropped.
    pub(super) fn take(&self) -> CpuSlot<'_> {
        let mut busy = self.lock();
        while *busy >= self.limit {
            busy = self
                .freed
                .wait(busy)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *busy += 1;
        CpuSlot(self)
    }
}

/// A slot taken (see [`CpuSlots::take`]).
pub(super) struct CpuSlot<'a>(&'a CpuSlots);

impl Drop for CpuSlot<'_> {
    fn drop(&mut self) {
        *self.0.lock() -= 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn no_more_threads_than_slots_work_at_once_and_all_of_them_do() {
        let slots = Arc::new(CpuSlots::new(3));
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let threads: Vec<_> = (0..12)
            .map(|_| {
                let (slots, now, most) = (Arc::clone(&slots), Arc::clone(&now), Arc::clone(&most));
                std::thread::spawn(move || {
                    for _ in 0..5 {
                        let _slot = slots.take();
                        let working = now.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(working, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(2));
                        now.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        // Twelve threads wanting the CPU at once fill every slot, and never a fourth.
        assert_eq!(most.load(Ordering::SeqCst), 3);
        assert_eq!(*slots.lock(), 0, "every slot given back");
    }
}
