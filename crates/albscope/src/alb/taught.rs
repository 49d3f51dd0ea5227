//! [`Taught`]: what the earlier exchanges of a connection have taught the ALB layer for good,
//! so that its later exchanges skip re-learning it (learning once per connection where that
//! is provably the same as learning per request; see [`Knowledge::learn_request`]).
//!
//! It remembers, per connection (by its id, unique within a run, checked with its two ports,
//! in a small direct-mapped table: a connection whose slot another one took is simply learned
//! from again), which of the lessons below
//! already hold. Each lesson is a fact that, once true, stays true for the rest of the run
//! (nodes are never removed, a strong node never turns weak, a strong node's evidence, sessions
//! and the session-to-node map only grow), and the learning step it stands for changes
//! nothing while it holds. Skipping that step is therefore exact: no result can differ.
//!
//! [`Knowledge::learn_request`]: super::knowledge::Knowledge::learn_request

use crate::flow::{ConnId, ConnKey};
use std::cell::Cell;

/// Connections remembered at once (the table's slots, by connection id; 16 bytes each): more
/// than a busy node keeps open (base.pcap: 2,125 at its peak), so a slot is rarely lost.
const SLOTS: usize = 4096;

/// One lesson a connection's exchanges teach (a bit of [`Taught`]'s slot).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Lesson {
    /// [`Knowledge::learn_conn`](super::knowledge::Knowledge::learn_conn) ran for the
    /// connection's key: idempotent, running it again changes nothing.
    Conn = 1,
    /// The connection's client is a strong node with [`NodeEvidence::SendsAlbHeaders`],
    /// listed with the connection's session (`strong_node` has nothing to add).
    ///
    /// [`NodeEvidence::SendsAlbHeaders`]: super::types::NodeEvidence::SendsAlbHeaders
    AlbHeaders = 2,
    /// Likewise with [`NodeEvidence::SendsHealthChecks`].
    ///
    /// [`NodeEvidence::SendsHealthChecks`]: super::types::NodeEvidence::SendsHealthChecks
    HealthChecks = 4,
    /// The connection's server is a node (of any strength): a client's answered request
    /// adds no [`NodeEvidence::AnswersClients`] to it.
    ///
    /// [`NodeEvidence::AnswersClients`]: super::types::NodeEvidence::AnswersClients
    ServerIsNode = 8,
    /// The connection's server is a strong node with [`NodeEvidence::AnswersAsAwselb`],
    /// listed with the connection's session.
    ///
    /// [`NodeEvidence::AnswersAsAwselb`]: super::types::NodeEvidence::AnswersAsAwselb
    Awselb = 16,
}

thread_local! {
    /// Knowledge made on this thread while set learns per request (the check of this module:
    /// [`learning_per_request`]).
    static PER_REQUEST: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every [`Knowledge`](super::Knowledge) it makes on this thread learning from
/// every request again (no [`Taught`] table): what a test compares the per-connection learning
/// with. Results must not differ.
#[doc(hidden)]
pub fn learning_per_request<T>(f: impl FnOnce() -> T) -> T {
    let before = PER_REQUEST.with(|p| p.replace(true));
    let out = f();
    PER_REQUEST.with(|p| p.set(before));
    out
}

/// Per connection, the lessons its exchanges taught for good (see the module's doc).
#[derive(Clone, Debug)]
pub(super) struct Taught {
    /// Direct-mapped by connection id: the id, its connection's ports (a cheap check that a
    /// slot holds the same connection: ids are unique within a run, see [`ConnId`]) and its
    /// lessons. Empty until the first lesson; stays empty when learning per request.
    slots: Vec<Slot>,
    /// Learn from every request (no table).
    off: bool,
}

/// One connection's lessons (see [`Taught::slots`]).
#[derive(Copy, Clone, Debug)]
struct Slot {
    id: u64,
    client_port: u16,
    server_port: u16,
    lessons: u8,
}

impl Slot {
    fn holds(&self, id: ConnId, key: &ConnKey) -> bool {
        self.id == id.0
            && self.client_port == key.client.port
            && self.server_port == key.server.port
    }
}

impl Default for Taught {
    fn default() -> Self {
        Taught {
            slots: Vec::new(),
            off: PER_REQUEST.try_with(Cell::get).unwrap_or(false),
        }
    }
}

impl Taught {
    /// True when connection `id` (with key `key`) has learned `lesson` for good.
    #[inline]
    pub(super) fn has(&self, id: ConnId, key: &ConnKey, lesson: Lesson) -> bool {
        self.slots
            .get(slot(id))
            .is_some_and(|s| s.lessons & lesson as u8 != 0 && s.holds(id, key))
    }

    /// Notes that connection `id` (with key `key`) has learned `lesson` for good.
    pub(super) fn set(&mut self, id: ConnId, key: &ConnKey, lesson: Lesson) {
        if self.off {
            return;
        }
        if self.slots.is_empty() {
            let free = Slot {
                id: u64::MAX,
                client_port: 0,
                server_port: 0,
                lessons: 0,
            };
            self.slots = vec![free; SLOTS];
        }
        if let Some(s) = self.slots.get_mut(slot(id)) {
            if !s.holds(id, key) {
                *s = Slot {
                    id: id.0,
                    client_port: key.client.port,
                    server_port: key.server.port,
                    lessons: 0,
                };
            }
            s.lessons |= lesson as u8;
        }
    }
}

/// The table slot of connection `id`.
#[inline]
fn slot(id: ConnId) -> usize {
    (id.0 % SLOTS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::MirrorSession;
    use crate::flow::Endpoint;

    fn key(port: u16) -> ConnKey {
        ConnKey {
            session: MirrorSession::DIRECT,
            client: Endpoint {
                ip: [10, 0, 0, 1].into(),
                port,
            },
            server: Endpoint {
                ip: [10, 0, 0, 2].into(),
                port: 80,
            },
        }
    }

    #[test]
    fn a_lesson_is_kept_per_connection_and_lost_to_another_in_its_slot() {
        let mut t = Taught::default();
        let (a, b) = (key(1000), key(1001));
        assert!(!t.has(ConnId(3), &a, Lesson::Conn));
        t.set(ConnId(3), &a, Lesson::Conn);
        t.set(ConnId(3), &a, Lesson::AlbHeaders);
        assert!(t.has(ConnId(3), &a, Lesson::Conn));
        assert!(t.has(ConnId(3), &a, Lesson::AlbHeaders));
        assert!(!t.has(ConnId(3), &a, Lesson::HealthChecks));
        // Same id, other ports (ids from two sources): not the same connection.
        assert!(!t.has(ConnId(3), &b, Lesson::Conn));
        // Another connection in the same slot takes it over.
        let other = ConnId(3 + SLOTS as u64);
        t.set(other, &b, Lesson::Conn);
        assert!(t.has(other, &b, Lesson::Conn));
        assert!(!t.has(ConnId(3), &a, Lesson::Conn));
    }

    #[test]
    fn learning_per_request_keeps_no_table() {
        let mut t = learning_per_request(Taught::default);
        t.set(ConnId(1), &key(1), Lesson::Conn);
        assert!(!t.has(ConnId(1), &key(1), Lesson::Conn));
        assert!(!Taught::default().off);
    }
}
