//! [`ExchangeBox`]: a finished exchange in a box of its own, built in place when its request
//! head is read and moved as a pointer from then on (the connection's queue, the sink call,
//! the ALB layer's leg), instead of copying its ~750 bytes at every step.
//!
//! Boxes are recycled per thread (`box_pool.rs`) like header buffers (`recycle.rs`): when a box is
//! dropped (or emptied by [`ExchangeBox::into_inner`]) its contents are dropped at once (their
//! header buffers go back to their pool) and the empty box is kept for the next exchange read by
//! the same thread, up to [`MAX_SPARE_BYTES`]. A thread that never makes boxes (the sink's thread
//! of `--threads 2`) gives them back to the threads that make them in bundles of [`BUNDLE`] (one
//! lock per bundle, as `recycle.rs` does for header buffers): one malloc in the parsing thread and
//! one free in the sink's per exchange otherwise, the free reaching across arenas. Nothing here
//! changes a result: only where memory comes from.

use super::box_pool::{BoxPool, Spares};
use super::return_lane::ReturnLane;
use super::HttpExchange;
use std::cell::RefCell;
use std::fmt;
use std::ops::{Deref, DerefMut};

/// Most bytes of empty boxes a thread keeps.
const MAX_SPARE_BYTES: usize = 4 << 20;
/// Most empty boxes a thread keeps.
const MAX_SPARE: usize = MAX_SPARE_BYTES / std::mem::size_of::<HttpExchange>();

/// Empty boxes a thread that makes none gives back at once.
const BUNDLE: usize = 64;
/// Most bundles waiting to be taken (the rest are freed).
const MAX_BUNDLES: usize = 16;

/// Empty boxes given back by threads that make none, for the threads that do.
static RETURNED: ReturnLane<Box<HttpExchange>> = ReturnLane::new(BUNDLE, MAX_BUNDLES);

/// An exchange with nothing in it (what an empty box holds).
const EMPTY: HttpExchange = HttpExchange {
    index: 0,
    idle_before: None,
    request: None,
    request_lost_at: None,
    response: None,
    response_error: None,
    headers_skipped: None,
    h2: None,
};

/// What a box reads as in the one moment it holds none (while it is being given back).
static EMPTY_EXCHANGE: HttpExchange = EMPTY;

thread_local! {
    /// This thread's empty boxes.
    static SPARE: RefCell<Spares<HttpExchange>> = const { RefCell::new(Spares::new()) };
}

/// Where emptied boxes go.
static POOL: BoxPool<HttpExchange> = BoxPool::new(&SPARE, &RETURNED, MAX_SPARE);

/// An [`HttpExchange`] in a (recycled) box: reads and writes as the exchange itself.
pub struct ExchangeBox(Option<Box<HttpExchange>>);

impl ExchangeBox {
    /// A box holding an empty exchange (every field `None`, index 0), to be filled in place:
    /// what the parsers of a connection use. The calling thread keeps the boxes given back
    /// from then on.
    pub fn empty() -> Self {
        ExchangeBox(Some(POOL.take(true).unwrap_or_else(|| Box::new(EMPTY))))
    }

    /// `ex` in a box: a spare one when the thread has one. Unlike [`ExchangeBox::empty`] it
    /// does not make the thread keep boxes (a sink's thread that boxes the odd exchange, e.g.
    /// one unfinished at a close, frees the boxes it drops).
    pub fn new(ex: HttpExchange) -> Self {
        match POOL.take(false) {
            Some(mut b) => {
                *b = ex;
                ExchangeBox(Some(b))
            }
            None => ExchangeBox(Some(Box::new(ex))),
        }
    }

    /// The exchange, out of its box (the box is kept for another).
    pub fn into_inner(mut self) -> HttpExchange {
        match self.0.take() {
            Some(mut b) => {
                let ex = std::mem::replace(&mut *b, EMPTY);
                POOL.give(b);
                ex
            }
            None => EMPTY,
        }
    }
}

impl Drop for ExchangeBox {
    fn drop(&mut self) {
        if let Some(mut b) = self.0.take() {
            // Field by field: only the parts that hold something are written.
            if b.request.is_some() {
                b.request = None;
            }
            if b.response.is_some() {
                b.response = None;
            }
            if b.response_error.is_some() {
                b.response_error = None;
            }
            if b.h2.is_some() {
                b.h2 = None;
            }
            b.index = 0;
            b.idle_before = None;
            b.request_lost_at = None;
            b.headers_skipped = None;
            POOL.give(b);
        }
    }
}

impl Deref for ExchangeBox {
    type Target = HttpExchange;
    fn deref(&self) -> &HttpExchange {
        self.0.as_deref().unwrap_or(&EMPTY_EXCHANGE)
    }
}

impl DerefMut for ExchangeBox {
    fn deref_mut(&mut self) -> &mut HttpExchange {
        self.0.get_or_insert_with(|| Box::new(EMPTY))
    }
}

impl Clone for ExchangeBox {
    fn clone(&self) -> Self {
        ExchangeBox::new((**self).clone())
    }
}

impl fmt::Debug for ExchangeBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl From<HttpExchange> for ExchangeBox {
    fn from(ex: HttpExchange) -> Self {
        ExchangeBox::new(ex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_making_thread_gets_its_boxes_back_empty() {
        std::thread::spawn(|| {
            // Not a maker yet: a dropped box is freed.
            drop(ExchangeBox(Some(Box::new(EMPTY))));
            assert_eq!(POOL.counts().0, 0);
            let mut b = ExchangeBox::empty();
            b.index = 7;
            b.request_lost_at = Some(crate::capture::Timestamp(5));
            let at: *const HttpExchange = &*b;
            drop(b);
            let again = ExchangeBox::empty();
            assert_eq!(&*again as *const HttpExchange, at);
            assert_eq!(again.index, 0);
            assert!(again.request_lost_at.is_none());
            let inner = ExchangeBox::new(HttpExchange { index: 3, ..EMPTY }).into_inner();
            assert_eq!(inner.index, 3);
            // (a bundle another test gave back may have come in with it)
            assert!(POOL.counts().0 >= 1);
            drop(again);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn boxing_an_exchange_does_not_make_a_thread_keep_boxes() {
        std::thread::spawn(|| {
            let b = ExchangeBox::new(HttpExchange { index: 2, ..EMPTY });
            assert_eq!(b.index, 2);
            drop(b);
            assert_eq!(POOL.counts(), (0, 1));
            POOL.clear_outbox();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn boxes_dropped_on_a_sink_thread_go_back_in_bundles() {
        let boxes: Vec<ExchangeBox> = std::thread::spawn(|| {
            (0..BUNDLE)
                .map(|i| {
                    let mut b = ExchangeBox::empty();
                    b.index = i as u32;
                    b
                })
                .collect()
        })
        .join()
        .unwrap();
        // Dropped on a thread that makes none: one bundle goes back (other tests may take
        // it or add theirs at the same time: only this thread's outbox is checked).
        std::thread::spawn(move || {
            drop(boxes);
            assert_eq!(POOL.counts().1, 0);
        })
        .join()
        .unwrap();
        std::thread::spawn(|| {
            let b = ExchangeBox::empty();
            assert_eq!(b.index, 0);
            assert!(b.request.is_none());
        })
        .join()
        .unwrap();
    }
}
