//! [`LegBox`]: a [`Leg`] in a box of its own, made when the ALB layer queues it and moved as a
//! pointer from then on (the queue of held legs, pairing, the [`RequestPath`] the diagnosis
//! reads), instead of copying the leg at every step.
//!
//! Boxes are recycled per thread like exchange boxes (`protocol::box_pool`): when a leg box is
//! dropped (most often by the diagnosis, once it has tallied the request) what the leg holds
//! is dropped at once (its exchange's box and header buffers go back to their pools, its
//! record's count goes down) and the empty box is kept for the next leg the same thread
//! queues, up to [`MAX_SPARE_BYTES`]; a thread that queues none (where a kept request path
//! is dropped after the analysis) gives its boxes back in bundles. A plain ok request's two
//! legs cost no malloc and no free in the steady state. Nothing here changes a result: only
//! where memory comes from.
//!
//! The box also holds what pairing remembers of the leg between batches ([`LegMemo`]),
//! beside the leg and not in it: the leg's size (which the pairing budget's estimate counts,
//! `size::leg`) stays what it was.
//!
//! [`RequestPath`]: super::RequestPath

use super::pairing::LegMemo;
use super::types::{ConnInfo, Leg};
use crate::capture::{PacketPos, Timestamp};
use crate::decode::MirrorSession;
use crate::flow::{ConnId, ConnKey, Endpoint};
use crate::protocol::box_pool::{BoxPool, Spares};
use crate::protocol::return_lane::ReturnLane;
use std::cell::RefCell;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::{Deref, DerefMut};

/// Most bytes of empty leg boxes a thread keeps.
const MAX_SPARE_BYTES: usize = 4 << 20;
/// Most empty leg boxes a thread keeps.
const MAX_SPARE: usize = MAX_SPARE_BYTES / std::mem::size_of::<Slot>();

/// Empty boxes a thread that queues no legs gives back at once.
const BUNDLE: usize = 64;
/// Most bundles waiting to be taken (the rest are freed).
const MAX_BUNDLES: usize = 4;

/// Empty boxes given back by threads that queue no legs, for the thread that does.
static RETURNED: ReturnLane<Box<Slot>> = ReturnLane::new(BUNDLE, MAX_BUNDLES);

thread_local! {
    /// This thread's empty leg boxes.
    static SPARE: RefCell<Spares<Slot>> = const { RefCell::new(Spares::new()) };
}

/// Where emptied leg boxes go.
static POOL: BoxPool<Slot> = BoxPool::new(&SPARE, &RETURNED, MAX_SPARE);

/// A leg that holds nothing (what a box reads as in the one moment it holds none).
static EMPTY: Leg = {
    const NOWHERE: Endpoint = Endpoint {
        ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        port: 0,
    };
    Leg {
        conn: ConnInfo {
            id: ConnId(0),
            key: ConnKey {
                session: MirrorSession::DIRECT,
                client: NOWHERE,
                server: NOWHERE,
            },
            opened: Timestamp(0),
            opened_pos: PacketPos {
                file: 0,
                number: 0,
                offset: 0,
            },
            tls: false,
            decrypted: false,
            saw_syn: false,
        },
        exchange: None,
        burst: None,
        record: None,
        finished: false,
    }
};

/// What a leg box holds: the leg, and what pairing remembers of it.
#[derive(Debug)]
pub(crate) struct Slot {
    leg: Leg,
    memo: LegMemo,
}

/// A [`Leg`] in a (recycled) box: reads and writes as the leg itself.
pub struct LegBox(Option<Box<Slot>>);

impl LegBox {
    /// `leg` in a box: a spare one when the calling thread has one. The thread keeps the
    /// boxes given back from then on.
    pub fn new(leg: Leg) -> Self {
        let slot = Slot {
            leg,
            memo: LegMemo::NONE,
        };
        match POOL.take(true) {
            Some(mut b) => {
                *b = slot;
                LegBox(Some(b))
            }
            None => LegBox(Some(Box::new(slot))),
        }
    }

    /// The leg, and what pairing remembers of it (to read one and write the other).
    pub(super) fn with_memo(&mut self) -> (&Leg, &mut LegMemo) {
        let slot = self.slot_mut();
        (&slot.leg, &mut slot.memo)
    }

    fn slot_mut(&mut self) -> &mut Slot {
        self.0.get_or_insert_with(|| {
            Box::new(Slot {
                leg: EMPTY.clone(),
                memo: LegMemo::NONE,
            })
        })
    }
}

impl Drop for LegBox {
    fn drop(&mut self) {
        if let Some(mut b) = self.0.take() {
            // Only the parts that hold something are emptied (the rest is plain data).
            b.leg.exchange = None;
            b.leg.burst = None;
            b.leg.record = None;
            POOL.give(b);
        }
    }
}

impl Deref for LegBox {
    type Target = Leg;
    fn deref(&self) -> &Leg {
        self.0.as_deref().map_or(&EMPTY, |s| &s.leg)
    }
}

impl DerefMut for LegBox {
    fn deref_mut(&mut self) -> &mut Leg {
        &mut self.slot_mut().leg
    }
}

impl Clone for LegBox {
    fn clone(&self) -> Self {
        LegBox::new((**self).clone())
    }
}

impl fmt::Debug for LegBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl From<Leg> for LegBox {
    fn from(leg: Leg) -> Self {
        LegBox::new(leg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ExchangeBox;

    #[test]
    fn a_dropped_leg_box_is_emptied_and_used_again() {
        std::thread::spawn(|| {
            let mut leg = EMPTY.clone();
            leg.conn.id = ConnId(7);
            let mut ex = ExchangeBox::empty();
            ex.index = 3;
            leg.exchange = Some(ex);
            let b = LegBox::new(leg);
            assert_eq!((b.conn.id, b.index()), (ConnId(7), 3));
            let at: *const Leg = &*b;
            drop(b);
            assert_eq!(POOL.counts(), (1, 0));
            let again = LegBox::new(EMPTY.clone());
            assert_eq!(&*again as *const Leg, at);
            assert!(again.exchange.is_none());
            assert_eq!(again.conn.id, ConnId(0));
            assert_eq!(POOL.counts(), (0, 0));
        })
        .join()
        .unwrap();
    }
}
