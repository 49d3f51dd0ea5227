//! The global buffer budget: one counter of the bytes every connection holds in buffers (flow:
//! out-of-order pieces and the delivered-bytes history; protocol: header blocks being read, bytes
//! held before the application is known, TLS records), shared by the layers of one run.
//!
//! Accounting is cheap: each owner remembers what it charged and adds the difference when a
//! buffer grows or shrinks (no allocation, no lookup). Policy when the budget is exhausted: the
//! connection whose buffer would grow gives that buffer up (its out-of-order bytes become a gap
//! *skipped (memory limit)*, its header block is skipped to its end), so buffers already held
//! are kept and a flood of connections cannot push the total past the budget for long.

use std::cell::Cell;
use std::rc::Rc;

/// A shared count of buffered bytes against a limit. Clones share the count.
#[derive(Clone, Debug)]
pub struct BufferBudget {
    used: Rc<Cell<usize>>,
    limit: usize,
}

impl Default for BufferBudget {
    /// A budget of [`BufferBudget::DEFAULT_LIMIT`] bytes.
    fn default() -> Self {
        BufferBudget::new(BufferBudget::DEFAULT_LIMIT)
    }
}

impl BufferBudget {
    /// Default limit: 256 MiB of buffered bytes across all connections.
    pub const DEFAULT_LIMIT: usize = 256 << 20;

    /// A budget of `limit` bytes, nothing used.
    pub fn new(limit: usize) -> Self {
        BufferBudget {
            used: Rc::new(Cell::new(0)),
            limit,
        }
    }

    /// The limit in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes currently charged by every owner.
    pub fn used(&self) -> usize {
        self.used.get()
    }

    /// Whether the charged bytes exceed the limit.
    pub fn over(&self) -> bool {
        self.used.get() > self.limit
    }

    /// Whether `more` bytes would still fit.
    pub fn fits(&self, more: usize) -> bool {
        self.used.get().saturating_add(more) <= self.limit
    }

    /// Moves an owner's charge from `old` to `new` bytes; returns `new` (to store as its charge).
    pub fn recharge(&self, old: usize, new: usize) -> usize {
        let used = self.used.get();
        self.used.set(used.saturating_sub(old).saturating_add(new));
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_count() {
        let a = BufferBudget::new(100);
        let b = a.clone();
        let charge = a.recharge(0, 60);
        assert!(b.fits(40));
        assert!(!b.fits(41));
        let charge2 = b.recharge(0, 50);
        assert!(a.over());
        a.recharge(charge, 0);
        b.recharge(charge2, 10);
        assert_eq!(a.used(), 10);
        assert!(!a.over());
    }
}
