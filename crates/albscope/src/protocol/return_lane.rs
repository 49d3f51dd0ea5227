//! [`ReturnLane`]: allocations freed on a thread that makes none (the sink's thread of
//! `--threads 2` and more) handed back to the threads that make them, in bundles: one lock per
//! bundle, a bounded number of bundles waiting (the rest are freed). Header-block buffers
//! (`recycle.rs`) and exchange boxes (`exchange_box.rs`) each have one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// A shared return box of bundles (meant for a `static`); each giving thread fills its own
/// outbox and hands it over when a bundle is full.
pub(crate) struct ReturnLane<T> {
    /// Items a giving thread hands over at once.
    bundle: usize,
    /// Most bundles waiting to be taken.
    max_bundles: usize,
    returned: Mutex<Vec<Vec<T>>>,
    /// `returned.len()`, read without the lock.
    waiting: AtomicUsize,
}

impl<T> ReturnLane<T> {
    /// An empty lane of bundles of `bundle` items, at most `max_bundles` of them waiting.
    pub(crate) const fn new(bundle: usize, max_bundles: usize) -> Self {
        ReturnLane {
            bundle,
            max_bundles,
            returned: Mutex::new(Vec::new()),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Adds `item` to the giving thread's `outbox`; a full outbox goes into the lane as one
    /// bundle (freed when enough bundles wait already).
    pub(crate) fn give(&self, outbox: &mut Vec<T>, item: T) {
        if outbox.capacity() == 0 {
            outbox.reserve_exact(self.bundle);
        }
        outbox.push(item);
        if outbox.len() < self.bundle {
            return;
        }
        if self.waiting.load(Ordering::Relaxed) >= self.max_bundles {
            outbox.clear();
            return;
        }
        let bundle = std::mem::replace(outbox, Vec::with_capacity(self.bundle));
        if let Ok(mut returned) = self.returned.lock() {
            if returned.len() < self.max_bundles {
                returned.push(bundle);
                self.waiting.store(returned.len(), Ordering::Relaxed);
            }
        }
    }

    /// One waiting bundle, when there is one (no lock taken when none waits).
    pub(crate) fn take(&self) -> Option<Vec<T>> {
        if self.waiting.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.returned.lock().ok().and_then(|mut returned| {
            let bundle = returned.pop();
            self.waiting.store(returned.len(), Ordering::Relaxed);
            bundle
        })
    }

    /// Bundles waiting now.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_outbox_goes_over_as_one_bundle_and_the_lane_is_bounded() {
        let lane: ReturnLane<u32> = ReturnLane::new(2, 1);
        let mut outbox = Vec::new();
        lane.give(&mut outbox, 1);
        assert_eq!((outbox.len(), lane.waiting()), (1, 0));
        lane.give(&mut outbox, 2);
        assert_eq!((outbox.len(), lane.waiting()), (0, 1));
        // The lane is full: the next full outbox is freed.
        lane.give(&mut outbox, 3);
        lane.give(&mut outbox, 4);
        assert_eq!((outbox.len(), lane.waiting()), (0, 1));
        assert_eq!(lane.take(), Some(vec![1, 2]));
        assert_eq!(lane.take(), None);
    }
}
