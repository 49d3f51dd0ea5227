//! Bounded IP fragment reassembly on top of etherparse's [`IpDefragBuf`].
//!
//! etherparse's `IpDefragPool` has no limits (its docs say so), so this keeps its own table of
//! pending datagrams with a cap on their number and on the bytes they buffer; when over either
//! cap the oldest pending datagram is dropped. A datagram still incomplete after a timeout
//! (capture time) is dropped too, so that fragments whose companions never come do not hold
//! memory until the caps push them out.

use super::MirrorSession;
use etherparse::defrag::IpDefragBuf;
use etherparse::{IpFragOffset, IpNumber};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Identifies the fragments of one datagram.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    /// Mirror session the fragments came through.
    pub session: MirrorSession,
    /// IP source.
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
    /// IPv4 identification or IPv6 fragment header identification.
    pub id: u32,
    /// Protocol of the fragmented payload.
    pub protocol: u8,
}

/// One datagram being reassembled.
struct Pending {
    buf: IpDefragBuf,
    /// Bytes buffered for it (counted against the byte cap).
    bytes: usize,
    /// Creation order, for dropping the oldest.
    serial: u64,
    /// Capture time of its first fragment (ns).
    started: i64,
}

/// What adding a fragment produced.
#[derive(Debug)]
pub(crate) enum FragOutcome {
    /// More fragments are needed.
    Pending,
    /// The datagram is complete; its transport bytes.
    Complete(Vec<u8>),
    /// The fragment conflicted with the others (overlap with a different end, unaligned,
    /// too big); the datagram was dropped.
    Invalid,
}

/// Bounded reassembly table.
pub(crate) struct Reassembler {
    pending: HashMap<FragKey, Pending>,
    /// Creation order of pending datagrams (may hold stale entries, skipped lazily).
    order: VecDeque<(u64, FragKey)>,
    next_serial: u64,
    bytes: usize,
    max_datagrams: usize,
    max_bytes: usize,
    /// Datagrams dropped because a cap was reached.
    pub evicted: u64,
    /// Datagrams dropped because they were still incomplete after the timeout.
    pub expired: u64,
    /// Capture time of the latest fragment (ns).
    now: i64,
    /// A datagram incomplete for longer than this (ns) is dropped.
    timeout: i64,
}

impl Reassembler {
    /// A table holding at most `max_datagrams` pending datagrams and `max_bytes` buffered bytes,
    /// each for at most `timeout_ns` of capture time.
    pub fn new(max_datagrams: usize, max_bytes: usize, timeout_ns: i64) -> Self {
        Reassembler {
            pending: HashMap::new(),
            order: VecDeque::new(),
            next_serial: 0,
            bytes: 0,
            max_datagrams: max_datagrams.max(1),
            max_bytes,
            evicted: 0,
            expired: 0,
            now: i64::MIN,
            timeout: timeout_ns,
        }
    }

    /// Capture time of the fragment about to be added: datagrams begun more than the timeout
    /// before it are dropped (oldest first, as they are in creation order).
    #[inline]
    pub fn set_now(&mut self, now: i64) {
        self.now = self.now.max(now);
        if !self.order.is_empty() {
            self.expire();
        }
    }

    /// Drops the datagrams begun more than the timeout before `now`.
    fn expire(&mut self) {
        let before = self.now.saturating_sub(self.timeout);
        while let Some(&(serial, key)) = self.order.front() {
            match self.pending.get(&key) {
                Some(p) if p.serial == serial => {
                    if p.started >= before {
                        break;
                    }
                    self.remove(&key);
                    self.expired += 1;
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// Number of datagrams waiting for more fragments.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Bytes currently buffered.
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// Adds one fragment.
    pub fn add(
        &mut self,
        key: FragKey,
        offset: IpFragOffset,
        more_fragments: bool,
        payload: &[u8],
    ) -> FragOutcome {
        if !self.pending.contains_key(&key) {
            while self.pending.len() >= self.max_datagrams {
                if !self.evict_oldest() {
                    break;
                }
            }
            let serial = self.next_serial;
            self.next_serial += 1;
            self.pending.insert(
                key,
                Pending {
                    buf: IpDefragBuf::new(IpNumber(key.protocol), Vec::new(), Vec::new()),
                    bytes: 0,
                    serial,
                    started: self.now,
                },
            );
            self.order.push_back((serial, key));
            self.compact_order();
        }
        let Some(entry) = self.pending.get_mut(&key) else {
            return FragOutcome::Invalid;
        };
        if entry.buf.add(offset, more_fragments, payload).is_err() {
            self.remove(&key);
            return FragOutcome::Invalid;
        }
        let now = entry.buf.data().len();
        self.bytes = self.bytes.saturating_sub(entry.bytes).saturating_add(now);
        entry.bytes = now;
        if entry.buf.is_complete() {
            return match self.remove(&key) {
                Some(p) => FragOutcome::Complete(p.buf.take_bufs().0),
                None => FragOutcome::Invalid,
            };
        }
        while self.bytes > self.max_bytes {
            if !self.evict_oldest() {
                break;
            }
        }
        if self.pending.contains_key(&key) {
            FragOutcome::Pending
        } else {
            FragOutcome::Invalid
        }
    }

    /// Removes a pending datagram, releasing its bytes.
    fn remove(&mut self, key: &FragKey) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        self.bytes = self.bytes.saturating_sub(p.bytes);
        Some(p)
    }

    /// Drops the oldest pending datagram; false when none is left.
    fn evict_oldest(&mut self) -> bool {
        while let Some((serial, key)) = self.order.pop_front() {
            if self.pending.get(&key).is_some_and(|p| p.serial == serial) {
                self.remove(&key);
                self.evicted += 1;
                return true;
            }
        }
        false
    }

    /// Keeps the order queue from growing with completed datagrams.
    fn compact_order(&mut self) {
        if self.order.len() > 2 * self.pending.len() + 64 {
            let pending = &self.pending;
            self.order
                .retain(|(serial, key)| pending.get(key).is_some_and(|p| p.serial == *serial));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32) -> FragKey {
        FragKey {
            session: MirrorSession::DIRECT,
            src: IpAddr::from([10, 0, 0, 1]),
            dst: IpAddr::from([10, 0, 0, 2]),
            id,
            protocol: 6,
        }
    }

    fn off(bytes: u16) -> IpFragOffset {
        IpFragOffset::try_new(bytes / 8).unwrap()
    }

    #[test]
    fn incomplete_datagram_expires_after_the_timeout() {
        let mut r = Reassembler::new(8, 1 << 20, 30);
        r.set_now(0);
        assert!(matches!(
            r.add(key(1), off(0), true, &[1; 8]),
            FragOutcome::Pending
        ));
        r.set_now(20);
        assert!(matches!(
            r.add(key(2), off(0), true, &[2; 8]),
            FragOutcome::Pending
        ));
        r.set_now(31);
        assert_eq!((r.pending(), r.expired), (1, 1), "the first one expired");
        assert_eq!(r.buffered_bytes(), 8);
        r.set_now(51);
        assert_eq!((r.pending(), r.expired, r.buffered_bytes()), (0, 2, 0));
        assert_eq!(r.evicted, 0);
    }

    #[test]
    fn reassembles_out_of_order() {
        let mut r = Reassembler::new(8, 1 << 20, i64::MAX);
        assert!(matches!(
            r.add(key(1), off(8), false, &[2; 4]),
            FragOutcome::Pending
        ));
        match r.add(key(1), off(0), true, &[1; 8]) {
            FragOutcome::Complete(v) => assert_eq!(v, [1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2]),
            other => panic!("{other:?}"),
        }
        assert_eq!(r.pending(), 0);
        assert_eq!(r.buffered_bytes(), 0);
    }

    #[test]
    fn datagram_cap_drops_oldest() {
        let mut r = Reassembler::new(2, 1 << 20, i64::MAX);
        for id in 0..3 {
            assert!(matches!(
                r.add(key(id), off(0), true, &[0; 8]),
                FragOutcome::Pending
            ));
        }
        assert_eq!(r.pending(), 2);
        assert_eq!(r.evicted, 1);
        // id 0 was dropped: its last fragment alone does not complete it.
        assert!(matches!(
            r.add(key(0), off(8), false, &[0; 8]),
            FragOutcome::Pending
        ));
        // id 2 survived (id 1 was evicted to make room for the new id 0).
        assert!(matches!(
            r.add(key(2), off(8), false, &[0; 8]),
            FragOutcome::Complete(_)
        ));
    }

    #[test]
    fn byte_cap_drops_oldest() {
        let mut r = Reassembler::new(100, 20, i64::MAX);
        assert!(matches!(
            r.add(key(1), off(0), true, &[0; 16]),
            FragOutcome::Pending
        ));
        assert!(matches!(
            r.add(key(2), off(0), true, &[0; 16]),
            FragOutcome::Pending
        ));
        assert_eq!(r.pending(), 1);
        assert_eq!(r.evicted, 1);
        assert!(r.buffered_bytes() <= 20);
    }

    #[test]
    fn conflicting_fragment_is_invalid() {
        let mut r = Reassembler::new(8, 1 << 20, i64::MAX);
        assert!(matches!(
            r.add(key(1), off(0), true, &[0; 7]),
            FragOutcome::Invalid
        ));
        assert_eq!(r.pending(), 0);
    }
}
