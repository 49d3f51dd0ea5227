//! The delivered bytes a [`super::reassembly::Reassembler`] keeps for conflict checks: a ring
//! over one buffer of a fixed capacity. Every delivered segment is copied in and acknowledged
//! bytes are dropped from the front, so both are a copy or two and an index update (a
//! `VecDeque` spent more on its bookkeeping than on the copy).

/// A byte ring of a fixed capacity (grown only by [`History::grow_to`]).
#[derive(Debug, Default)]
pub(super) struct History {
    /// The storage; its length is how far it was ever written (never past its capacity), so
    /// nothing is zeroed in advance.
    buf: Vec<u8>,
    /// Index of the oldest byte.
    head: usize,
    /// Bytes held.
    len: usize,
}

impl History {
    /// A ring over `buf` (emptied; its capacity is the ring's).
    pub(super) fn over(mut buf: Vec<u8>) -> Self {
        buf.clear();
        History {
            buf,
            head: 0,
            len: 0,
        }
    }

    /// Bytes held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is held.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of storage (what the connection is charged).
    pub(super) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Drops every byte (the storage stays; the next byte is written where it would have been,
    /// see [`History::push`]).
    pub(super) fn clear(&mut self) {
        self.head = self.tail();
        self.len = 0;
    }

    /// The `i`th oldest byte.
    pub(super) fn get(&self, i: usize) -> Option<u8> {
        if i >= self.len {
            return None;
        }
        let mut at = self.head + i;
        if at >= self.buf.capacity() {
            at -= self.buf.capacity();
        }
        self.buf.get(at).copied()
    }

    /// Drops the `n` oldest bytes (all of them when fewer are held).
    pub(super) fn drop_front(&mut self, n: usize) {
        if n >= self.len {
            self.clear();
            return;
        }
        self.len -= n;
        self.head += n;
        if self.head >= self.buf.capacity() {
            self.head -= self.buf.capacity();
        }
    }

    /// Gives the storage away (the ring is left empty, without storage).
    pub(super) fn take_buffer(&mut self) -> Vec<u8> {
        self.head = 0;
        self.len = 0;
        std::mem::take(&mut self.buf)
    }

    /// Moves the bytes into `buf` (emptied first; its capacity, at least [`History::len`], is
    /// the ring's from now on) and hands back the old storage.
    pub(super) fn move_into(&mut self, mut buf: Vec<u8>) -> Vec<u8> {
        buf.clear();
        buf.reserve_exact(self.len);
        let (a, b) = self.parts();
        buf.extend_from_slice(a);
        buf.extend_from_slice(b);
        self.head = 0;
        std::mem::replace(&mut self.buf, buf)
    }

    /// The bytes held, oldest first, in two parts.
    fn parts(&self) -> (&[u8], &[u8]) {
        let cap = self.buf.capacity();
        let end = self.head + self.len;
        if end <= cap {
            (self.buf.get(self.head..end).unwrap_or(&[]), &[])
        } else {
            (
                self.buf.get(self.head..).unwrap_or(&[]),
                self.buf.get(..end - cap).unwrap_or(&[]),
            )
        }
    }

    /// Appends `bytes`; the caller made room for them (`len + bytes.len()` within the
    /// capacity). Bytes beyond the room are not kept.
    ///
    /// The storage is written in order: until the ring first wraps, the next byte goes right
    /// after the written part (appended); from then on the whole storage is written. So a
    /// push is one or two plain copies.
    pub(super) fn push(&mut self, bytes: &[u8]) {
        let cap = self.buf.capacity();
        let room = cap - self.len.min(cap);
        let bytes = bytes.get(..room).unwrap_or(bytes);
        if bytes.is_empty() {
            return;
        }
        let tail = self.tail();
        let (a, b) = bytes.split_at(bytes.len().min(cap - tail));
        if self.buf.len() == tail {
            // Within the capacity: never reallocates.
            self.buf.extend_from_slice(a);
        } else if let Some(dst) = self.buf.get_mut(tail..tail + a.len()) {
            dst.copy_from_slice(a);
        }
        if !b.is_empty() {
            if let Some(dst) = self.buf.get_mut(..b.len()) {
                dst.copy_from_slice(b);
            }
        }
        self.len += bytes.len();
    }

    /// Index of the next byte to write.
    fn tail(&self) -> usize {
        let tail = self.head + self.len;
        if tail >= self.buf.capacity() {
            tail - self.buf.capacity()
        } else {
            tail
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// The ring holds what a `VecDeque` given the same pushes and drops holds.
    #[test]
    fn behaves_as_a_deque() {
        let mut seed = 7u64;
        let mut rand = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n.max(1)
        };
        for cap in [1usize, 2, 7, 16, 100] {
            let mut ring = History::over(Vec::with_capacity(cap));
            let mut deque = VecDeque::new();
            let mut byte = 0u8;
            for _ in 0..2000 {
                match rand(4) {
                    0 | 1 => {
                        let n = rand(cap - deque.len() + 1);
                        let bytes: Vec<u8> = (0..n)
                            .map(|_| {
                                byte = byte.wrapping_add(1);
                                byte
                            })
                            .collect();
                        ring.push(&bytes);
                        deque.extend(&bytes);
                    }
                    2 => {
                        let n = rand(deque.len() + 2);
                        ring.drop_front(n);
                        deque.drain(..n.min(deque.len()));
                    }
                    _ => {
                        if rand(10) == 0 {
                            ring.clear();
                            deque.clear();
                        }
                    }
                }
                assert_eq!(ring.len(), deque.len());
                assert_eq!(ring.capacity(), cap);
                let got: Vec<u8> = (0..ring.len()).filter_map(|i| ring.get(i)).collect();
                assert_eq!(got, deque.iter().copied().collect::<Vec<u8>>());
            }
            let old = ring.move_into(Vec::with_capacity(cap * 2));
            assert_eq!(old.capacity(), cap);
            assert_eq!(ring.capacity(), cap * 2);
            let got: Vec<u8> = (0..ring.len()).filter_map(|i| ring.get(i)).collect();
            assert_eq!(got, deque.iter().copied().collect::<Vec<u8>>());
        }
    }
}
