//! Recycled header-block buffers: a parsed message's header text ([`super::Headers`]) is the
//! buffer its block was read into, and it lives as long as the exchange does (through the ALB
//! layer's pairing queue). When that text is dropped, its buffer comes back here, and the
//! parsers read a later header block of the same size class into it: an ok request costs no
//! allocation for its header blocks in the steady state.
//!
//! Buffers come in size classes of [`CLASS`] bytes (a block's buffer has the room of its class,
//! so a held message keeps at most `CLASS - 1` bytes of slack), one pool per thread, kept only
//! on a thread that reads header blocks, bounded in bytes. A thread that only drops exchanges
//! (the sink's thread of `--threads 2` and more) sends them back in bundles of
//! [`BUNDLE`] through a small shared return box, from which a reading thread refills its pool
//! when a class runs dry: the buffers are reused instead of being freed on one thread and
//! allocated again on another. Nothing here changes a result: only where a buffer's memory
//! comes from.

use super::return_lane::ReturnLane;
use std::cell::RefCell;

/// Size step of the buffer classes.
const CLASS: usize = 64;
/// Classes: buffers up to `CLASSES * CLASS` bytes are recycled, larger ones freed.
const CLASSES: usize = 64;
/// Most bytes (capacities) a thread's pool keeps.
const MAX_POOL_BYTES: usize = 1 << 20;

/// Buffers a non-reading thread sends back at once.
const BUNDLE: usize = 64;
/// Most bundles the shared return box holds (more are freed).
const MAX_BUNDLES: usize = 8;

/// Buffers given back on threads that read no header blocks, for the threads that do.
static RETURNED: ReturnLane<Vec<u8>> = ReturnLane::new(BUNDLE, MAX_BUNDLES);

/// One thread's spare buffers, by class.
struct Pool {
    spare: [Vec<Vec<u8>>; CLASSES],
    /// Their capacities together.
    bytes: usize,
    /// This thread reads header blocks (has asked for a buffer).
    reads: bool,
    /// A thread that reads none: buffers given back, to go to [`RETURNED`].
    outbox: Vec<Vec<u8>>,
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            spare: [const { Vec::new() }; CLASSES],
            bytes: 0,
            reads: false,
            outbox: Vec::new(),
        })
    };
}

/// The room of the buffer for a block of `len` bytes: its class's size (`len` itself past the
/// largest class).
pub(crate) fn room(len: usize) -> usize {
    if len > CLASS * CLASSES {
        len
    } else {
        len.max(1).div_ceil(CLASS) * CLASS
    }
}

/// The class of a buffer of room `cap`, when it is one.
fn class(cap: usize) -> Option<usize> {
    (cap > 0 && cap % CLASS == 0 && cap <= CLASS * CLASSES).then(|| cap / CLASS - 1)
}

/// An empty buffer of room [`room`]`(len)`, for a block of `len` bytes: a spare one when the
/// thread has one.
pub(crate) fn buffer(len: usize) -> Vec<u8> {
    let cap = room(len);
    let spare = class(cap).and_then(|c| {
        POOL.try_with(|p| {
            let mut p = p.borrow_mut();
            p.reads = true;
            if p.spare.get(c).is_some_and(Vec::is_empty) {
                p.take_returned();
            }
            let buf = p.spare.get_mut(c)?.pop()?;
            p.bytes -= cap;
            Some(buf)
        })
        .ok()
        .flatten()
    });
    spare.unwrap_or_else(|| Vec::with_capacity(cap))
}

/// Gives back the buffer of a header text that is no longer needed.
pub(crate) fn give(mut buf: Vec<u8>) {
    let cap = buf.capacity();
    let Some(c) = class(cap) else { return };
    buf.clear();
    let _ = POOL.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut() {
            if p.reads {
                p.keep(c, buf);
            } else {
                RETURNED.give(&mut p.outbox, buf);
            }
        }
    });
}

impl Pool {
    /// Keeps `buf` (of class `c`) when the pool has room; frees it otherwise.
    fn keep(&mut self, c: usize, buf: Vec<u8>) {
        let cap = buf.capacity();
        if self.bytes + cap <= MAX_POOL_BYTES {
            if let Some(list) = self.spare.get_mut(c) {
                list.push(buf);
                self.bytes += cap;
            }
        }
    }

    /// Files a bundle from [`RETURNED`], if there is one, into this reading thread's pool.
    fn take_returned(&mut self) {
        let bundle = RETURNED.take();
        for buf in bundle.into_iter().flatten() {
            if let Some(c) = class(buf.capacity()) {
                self.keep(c, buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_classes() {
        assert_eq!(room(0), CLASS);
        assert_eq!(room(1), CLASS);
        assert_eq!(room(CLASS), CLASS);
        assert_eq!(room(CLASS + 1), 2 * CLASS);
        assert_eq!(room(CLASS * CLASSES + 1), CLASS * CLASSES + 1);
        assert_eq!(class(CLASS * CLASSES + 1), None);
        assert_eq!(class(100), None);
    }

    #[test]
    fn a_reading_thread_gets_its_buffers_back() {
        std::thread::spawn(|| {
            // Not a reader yet: a buffer given back goes to the outbox, not the pool.
            give(Vec::with_capacity(CLASS));
            assert_eq!(POOL.with(|p| p.borrow().outbox.len()), 1);
            POOL.with(|p| p.borrow_mut().outbox.clear());
            let mut b = buffer(200);
            assert_eq!(b.capacity(), room(200));
            b.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
            let at = b.as_ptr();
            give(b);
            // The same class gets it back, empty; another class does not.
            assert_eq!(buffer(10).capacity(), CLASS);
            let again = buffer(250);
            assert!(again.is_empty());
            assert_eq!(again.as_ptr(), at);
            // Not of a class: freed.
            give(Vec::with_capacity(100));
            assert_eq!(POOL.with(|p| p.borrow().bytes), 0);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_dropping_thread_sends_its_buffers_back_in_bundles() {
        std::thread::spawn(|| {
            for _ in 0..BUNDLE - 1 {
                give(Vec::with_capacity(2 * CLASS));
            }
            assert_eq!(POOL.with(|p| p.borrow().outbox.len()), BUNDLE - 1);
            // The bundle is full: it goes to the return box (or is freed when that is full).
            give(Vec::with_capacity(2 * CLASS));
            assert_eq!(POOL.with(|p| p.borrow().outbox.len()), 0);
            assert_eq!(POOL.with(|p| p.borrow().bytes), 0);
            assert!(RETURNED.waiting() <= MAX_BUNDLES);
        })
        .join()
        .unwrap();
        std::thread::spawn(|| {
            // A reading thread whose class is empty refills from the return box; whatever it
            // gets (other tests share the box), the buffer has its class's room and is empty.
            let b = buffer(2 * CLASS);
            assert_eq!(b.capacity(), 2 * CLASS);
            assert!(b.is_empty());
            assert!(POOL.with(|p| p.borrow().bytes) <= MAX_POOL_BYTES);
        })
        .join()
        .unwrap();
    }
}
