//! [`BoxPool`]: emptied boxes of one type kept per thread for the next value the same thread
//! boxes, instead of a free and a malloc per value. A thread that never makes boxes of the
//! type (the sink's thread of `--threads 2`, for exchanges) gives the ones it drops back to
//! the threads that do, in bundles, through a [`ReturnLane`]. The exchange boxes
//! (`exchange_box.rs`) and the ALB layer's leg boxes (`alb::LegBox`) are recycled with it.
//! Nothing here changes a result: only where memory comes from.

use super::return_lane::ReturnLane;
use std::cell::RefCell;
use std::thread::LocalKey;

/// One thread's empty boxes of `T` (what a [`BoxPool`]'s thread-local holds).
pub(crate) struct Spares<T: 'static> {
    // The boxes themselves are what is kept (their allocations), not values.
    #[allow(clippy::vec_box)]
    boxes: Vec<Box<T>>,
    /// This thread makes boxes (has asked for one as a maker).
    makes: bool,
    /// Empty boxes of a thread that makes none, until a bundle is full.
    #[allow(clippy::vec_box)]
    outbox: Vec<Box<T>>,
}

impl<T> Spares<T> {
    /// No boxes yet (for the `const` initialiser of a thread-local).
    pub(crate) const fn new() -> Self {
        Spares {
            boxes: Vec::new(),
            makes: false,
            outbox: Vec::new(),
        }
    }
}

/// Where the empty boxes of `T` go: each thread's [`Spares`], the lane of the threads that
/// make none, and how many a thread keeps.
pub(crate) struct BoxPool<T: 'static> {
    spares: &'static LocalKey<RefCell<Spares<T>>>,
    lane: &'static ReturnLane<Box<T>>,
    max_spare: usize,
}

impl<T> BoxPool<T> {
    /// A pool over a thread-local and a lane (meant for a `static`); a thread keeps at most
    /// `max_spare` empty boxes.
    pub(crate) const fn new(
        spares: &'static LocalKey<RefCell<Spares<T>>>,
        lane: &'static ReturnLane<Box<T>>,
        max_spare: usize,
    ) -> Self {
        BoxPool {
            spares,
            lane,
            max_spare,
        }
    }

    /// A spare box of this thread, when it has one (a bundle given back is taken when its own
    /// are used up); `maker`: the thread keeps boxes from now on. The box holds whatever value
    /// it was given back with (emptied by its owner).
    pub(crate) fn take(&self, maker: bool) -> Option<Box<T>> {
        self.spares
            .try_with(|s| {
                let mut s = s.try_borrow_mut().ok()?;
                s.makes |= maker;
                if s.boxes.is_empty() && s.makes {
                    if let Some(bundle) = self.lane.take() {
                        let room = self.max_spare.saturating_sub(s.boxes.len());
                        s.boxes.extend(bundle.into_iter().take(room));
                    }
                }
                s.boxes.pop()
            })
            .ok()
            .flatten()
    }

    /// Keeps an emptied box for this thread's next value (frees it past the limit), or, on a
    /// thread that makes none, gives it back to those that do.
    pub(crate) fn give(&self, b: Box<T>) {
        let _ = self.spares.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                if !s.makes {
                    self.lane.give(&mut s.outbox, b);
                } else if s.boxes.len() < self.max_spare {
                    s.boxes.push(b);
                }
            }
        });
    }

    /// This thread's spare boxes and the boxes in its outbox.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (usize, usize) {
        self.spares
            .with(|s| (s.borrow().boxes.len(), s.borrow().outbox.len()))
    }

    /// Frees this thread's outbox (a test's boxes, not to be handed to other tests).
    #[cfg(test)]
    pub(crate) fn clear_outbox(&self) {
        self.spares.with(|s| s.borrow_mut().outbox.clear());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 2;
    static LANE: ReturnLane<Box<u64>> = ReturnLane::new(2, 1);
    thread_local! {
        static SPARE: RefCell<Spares<u64>> = const { RefCell::new(Spares::new()) };
    }
    static POOL: BoxPool<u64> = BoxPool::new(&SPARE, &LANE, MAX);

    #[test]
    fn a_maker_keeps_its_boxes_up_to_the_limit_and_others_give_them_back() {
        std::thread::spawn(|| {
            // Not a maker: a given box goes to the outbox, a full outbox to the lane.
            POOL.give(Box::new(1));
            assert_eq!(POOL.counts(), (0, 1));
            POOL.give(Box::new(2));
            assert_eq!((POOL.counts(), LANE.waiting()), ((0, 0), 1));
        })
        .join()
        .unwrap();
        std::thread::spawn(|| {
            // A maker with none of its own takes the bundle given back.
            let b = POOL.take(true).expect("a box given back");
            assert_eq!(POOL.counts(), (1, 0));
            let at: *const u64 = &*b;
            POOL.give(b);
            assert_eq!(&*POOL.take(true).expect("its own box") as *const u64, at);
            for v in 0..4 {
                POOL.give(Box::new(v));
            }
            assert_eq!(POOL.counts(), (MAX, 0));
        })
        .join()
        .unwrap();
    }
}
