//! [`TimeQueue`]: the queue of held legs in the order they are taken out, greatest first (as
//! a [`BinaryHeap`](std::collections::BinaryHeap) pops them), kept sorted in a ring buffer.
//! Legs come nearly in that order (a leg is queued when its exchange ends, dated by its
//! request's start): one goes in by a binary search and a short move near the back (or at
//! the back in one comparison), and taking the next one out is one step, where a heap sifts
//! through its levels (and misses the cache at each) at every pop.

use std::collections::VecDeque;

/// How many items from the back [`TimeQueue::push`] compares one by one before it searches.
const NEAR_BACK: usize = 8;

/// Items of distinct values taken out greatest first.
#[derive(Debug)]
pub(super) struct TimeQueue<T: Ord> {
    /// In descending order: the front is the next taken out.
    items: VecDeque<T>,
}

impl<T: Ord> Default for TimeQueue<T> {
    fn default() -> Self {
        TimeQueue {
            items: VecDeque::new(),
        }
    }
}

impl<T: Ord> TimeQueue<T> {
    /// Adds `item` (its value distinct from every queued one's).
    pub(super) fn push(&mut self, item: T) {
        if self.items.back().map_or(true, |last| *last > item) {
            self.items.push_back(item);
            return;
        }
        // Most late items belong among the last few: looked for from the back first (a
        // binary search over the whole ring costs more than these few comparisons).
        let len = self.items.len();
        let near = self
            .items
            .iter()
            .rev()
            .take(NEAR_BACK)
            .position(|x| *x > item);
        let at = match near {
            Some(k) => len - k,
            None if len <= NEAR_BACK => 0,
            None => self.items.partition_point(|x| *x > item),
        };
        self.items.insert(at, item);
    }

    /// Takes the greatest item out.
    pub(super) fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    /// The greatest item.
    pub(super) fn peek(&self) -> Option<&T> {
        self.items.front()
    }

    /// How many items are queued.
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    /// True when none is queued.
    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BinaryHeap;

    #[test]
    fn items_come_out_in_the_order_a_binary_heap_gives() {
        // Nearly sorted input with late items and far jumps both ways, as legs arrive.
        let mut input: Vec<u64> = Vec::new();
        let mut x: u64 = 0x9e37_79b9;
        for i in 0..2_000u64 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let jitter = (x >> 33) % 50;
            let value = match i % 97 {
                0 => (x >> 20) % 100_000,
                _ => (i * 50).saturating_sub(jitter),
            };
            input.push(value * 4096 + i);
        }
        let mut queue = TimeQueue::default();
        let mut heap = BinaryHeap::new();
        for (n, v) in input.iter().enumerate() {
            queue.push(std::cmp::Reverse(*v));
            heap.push(std::cmp::Reverse(*v));
            if n % 7 == 0 {
                assert_eq!(queue.pop(), heap.pop());
            }
            assert_eq!(queue.peek(), heap.peek());
            assert_eq!(queue.len(), heap.len());
        }
        while let Some(h) = heap.pop() {
            assert_eq!(queue.pop(), Some(h));
        }
        assert!(queue.is_empty());
        assert_eq!(queue.pop(), None);
    }
}
