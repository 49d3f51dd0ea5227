//! Per-direction stream reassembly as a plain data structure, apart from any TCP logic.
//!
//! A [`Reassembler`] works on absolute 64-bit stream offsets (the TCP layer unwraps sequence
//! numbers before calling it). It keeps:
//! - `next`: every byte before it was delivered or declared a gap;
//! - out-of-order pieces (non-overlapping, all at or after `next`), each either captured bytes or
//!   a *missing* marker (bytes the wire carried but the capture cut off);
//! - a short history of delivered bytes, to notice retransmissions that carry different bytes.
//!
//! Overlaps keep the bytes seen first. Nothing ever stalls: the caller turns holes into gaps with
//! [`Reassembler::pop`] and a limit (peer ACKed beyond the hole, buffer cap hit, connection end).

use super::history::History;
use std::collections::BTreeMap;
use std::ops::Range;

/// Bookkeeping cost counted per buffered piece by [`Reassembler::buffered`].
pub const PIECE_COST: usize = 64;

/// Largest history buffer a small burst grows to in powers of two (a larger one grows to the cap).
const HISTORY_KEEP_CAPACITY: usize = 2048;

/// A buffered out-of-order piece.
#[derive(Debug)]
enum Piece {
    /// Captured bytes.
    Data(Vec<u8>),
    /// Bytes sent on the wire but not captured (truncation); delivered as a gap.
    Missing(u64),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Data(d) => d.len() as u64,
            Piece::Missing(n) => *n,
        }
    }
}

/// What [`Reassembler::pop`] hands out, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk {
    /// In-order bytes at `offset`.
    Data {
        /// Stream offset of the first byte.
        offset: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// `len` bytes at `offset` will never be delivered.
    Gap {
        /// Stream offset of the hole.
        offset: u64,
        /// Hole size.
        len: u64,
    },
}

/// What one [`Reassembler::insert`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Inserted {
    /// Bytes of the segment that had not been seen before (delivered now or buffered).
    pub new_bytes: u64,
    /// Bytes of the segment that had been seen (or given up on) before.
    pub old_bytes: u64,
    /// Stream offset of the first byte that differs from the bytes seen first, if any.
    pub conflict: Option<u64>,
    /// Range of the inserted slice that is in order and was accepted as delivered: the caller
    /// hands `data[direct]` downstream at once (stream offset `direct_offset`), then drains
    /// [`Reassembler::pop`].
    pub direct: Option<Range<usize>>,
    /// Stream offset of `data[direct.start]`.
    pub direct_offset: u64,
}

/// Reassembles one direction of a byte stream.
///
/// `repr(C)`: the fields an in-order segment reads and writes, in declaration order, so that
/// they share the connection's hot cache lines (see `segment::DirState`).
#[derive(Debug)]
#[repr(C)]
pub struct Reassembler {
    next: u64,
    high: u64,
    pending_bytes: usize,
    history_cap: usize,
    pending: BTreeMap<u64, Piece>,
    history: History,
}

impl Reassembler {
    /// An empty reassembler whose stream starts at offset 0, keeping at most `history_cap`
    /// delivered bytes for conflict detection.
    pub fn new(history_cap: usize) -> Self {
        Reassembler {
            next: 0,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            history: History::default(),
            history_cap,
            high: 0,
        }
    }

    /// Next offset to deliver: everything before it was delivered or declared a gap.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// One past the highest offset any segment covered.
    pub fn high(&self) -> u64 {
        self.high.max(self.next)
    }

    /// Memory held by out-of-order pieces: their captured bytes plus [`PIECE_COST`] per piece
    /// (so that many tiny pieces, or missing markers that hold no bytes, also hit a cap).
    pub fn buffered(&self) -> usize {
        self.pending_bytes
            .saturating_add(self.pending.len().saturating_mul(PIECE_COST))
    }

    /// Heap held for this direction: [`Reassembler::buffered`] plus the history's capacity.
    pub fn memory(&self) -> usize {
        self.buffered().saturating_add(self.history.capacity())
    }

    /// Stops keeping delivered bytes (no more conflict checks for this direction); frees the
    /// history. Used when the buffer budget is exhausted.
    pub fn disable_history(&mut self) {
        self.history_cap = 0;
        self.history = History::default();
    }

    /// Whether no out-of-order piece is buffered.
    pub fn nothing_pending(&self) -> bool {
        self.pending.is_empty()
    }

    /// Stream offset of the first buffered piece (the end of the first hole), if any.
    pub fn first_pending(&self) -> Option<u64> {
        self.pending.keys().next().copied()
    }

    /// Adds a segment: `data` at stream `offset`, followed by `missing` bytes that were sent but
    /// not captured. Bytes already seen are kept (compared for conflicts); new in-order bytes are
    /// reported in [`Inserted::direct`]; the rest is buffered until [`Reassembler::pop`].
    pub fn insert(&mut self, offset: u64, data: &[u8], missing: u64) -> Inserted {
        let mut out = Inserted::default();
        let data_end = offset.saturating_add(data.len() as u64);
        let total_end = data_end.saturating_add(missing);
        self.high = self.high.max(total_end);

        // Part below `next`: already delivered (or given up on).
        if offset < self.next {
            let old_end = data_end.min(self.next);
            out.old_bytes += old_end - offset;
            if data.len() > 1 {
                out.conflict = self.compare_history(offset, data, old_end);
            }
        }
        let mut pos = offset.max(self.next);

        // Fast path: in-order bytes with no piece in the way go straight out.
        if pos == self.next && pos < data_end {
            let limit = self.first_pending().unwrap_or(u64::MAX).min(data_end);
            if limit > pos {
                let start = (pos - offset) as usize;
                let end = (limit - offset) as usize;
                if let Some(slice) = data.get(start..end) {
                    self.push_history(slice);
                    out.direct = Some(start..end);
                    out.direct_offset = pos;
                    out.new_bytes += limit - pos;
                    self.next = limit;
                    pos = limit;
                }
            }
        }
        // The rest of the captured bytes (none left in the common case: all of it in order).
        if pos < data_end {
            self.fill(pos, data_end, Some((offset, data)), &mut out);
        }
        // The bytes cut off by the capture.
        let mpos = data_end.max(self.next);
        if mpos < total_end {
            self.fill(mpos, total_end, None, &mut out);
        }
        out
    }

    /// Delivers `data` at [`Reassembler::next`] when nothing is buffered, and returns its
    /// offset: what [`Reassembler::insert`] does with such a segment (all of it new, in order,
    /// [`Inserted::direct`]), without its overlap and buffering walk.
    pub fn deliver_in_order(&mut self, data: &[u8]) -> u64 {
        debug_assert!(self.pending.is_empty());
        let offset = self.next;
        let end = offset.saturating_add(data.len() as u64);
        self.high = self.high.max(end);
        self.push_history(data);
        self.next = end;
        offset
    }

    /// Walks `[pos, end)`: compares with buffered pieces, buffers uncovered parts (captured bytes
    /// from `src`, or missing markers when `src` is `None`).
    fn fill(&mut self, mut pos: u64, end: u64, src: Option<(u64, &[u8])>, out: &mut Inserted) {
        while pos < end {
            // A piece covering `pos`?
            let covering = self
                .pending
                .range(..=pos)
                .next_back()
                .map(|(k, p)| (*k, k.saturating_add(p.len())))
                .filter(|(_, pend)| *pend > pos);
            if let Some((key, pend)) = covering {
                let stop = pend.min(end);
                if let (Some((soff, sdata)), Some(Piece::Data(have))) =
                    (src, self.pending.get(&key))
                {
                    out.old_bytes += stop - pos;
                    if out.conflict.is_none() {
                        out.conflict = first_difference(have, key, sdata, soff, pos, stop);
                    }
                } else if src.is_some() {
                    out.old_bytes += stop - pos;
                }
                pos = stop;
                continue;
            }
            let next_key = self.pending.range(pos..).next().map(|(k, _)| *k);
            let stop = next_key.unwrap_or(u64::MAX).min(end);
            let piece = match src {
                Some((soff, sdata)) => {
                    let a = (pos - soff) as usize;
                    let b = (stop - soff) as usize;
                    match sdata.get(a..b) {
                        Some(s) => {
                            self.pending_bytes += s.len();
                            out.new_bytes += stop - pos;
                            Piece::Data(s.to_vec())
                        }
                        None => return,
                    }
                }
                None => Piece::Missing(stop - pos),
            };
            self.pending.insert(pos, piece);
            pos = stop;
        }
    }

    /// Compares `data` (at `offset`) over `[offset, old_end)` with the delivered history.
    fn compare_history(&self, offset: u64, data: &[u8], old_end: u64) -> Option<u64> {
        let hist_start = self.next - self.history.len() as u64;
        let from = offset.max(hist_start);
        (from..old_end).find(|&o| {
            let h = self.history.get((o - hist_start) as usize);
            let d = data.get((o - offset) as usize);
            matches!((h, d), (Some(a), Some(b)) if a != *b)
        })
    }

    fn push_history(&mut self, bytes: &[u8]) {
        if self.history_cap == 0 {
            return;
        }
        // A small burst (e.g. a request) grows the buffer to a power of two within the capacity
        // kept across acknowledgements (the next burst of that size needs no new buffer, and an
        // idle connection holds little); a larger one grows it once to the cap, rather than
        // doubling (each doubling copies the history).
        let want = (self.history.len() + bytes.len()).min(self.history_cap);
        if want > self.history.capacity() {
            let to = if want <= HISTORY_KEEP_CAPACITY {
                want.next_power_of_two()
                    .min(HISTORY_KEEP_CAPACITY)
                    .min(self.history_cap)
            } else {
                self.history_cap
            };
            // The new buffer and the old one's return both go through the thread's spares: a
            // burst larger than the small sizes outgrows its buffer once, and that grown buffer
            // serves the next large burst of any connection (no malloc + free per burst).
            let old = if self.history.is_empty() {
                // A fresh buffer: nothing to copy over.
                std::mem::replace(&mut self.history, History::over(spare::take(to))).take_buffer()
            } else {
                self.history.move_into(spare::take(to))
            };
            if old.capacity() > 0 {
                spare::give(old);
            }
        }
        if bytes.len() >= self.history_cap {
            self.history.clear();
            let tail = bytes.get(bytes.len() - self.history_cap..).unwrap_or(&[]);
            self.history.push(tail);
            return;
        }
        let excess = (self.history.len() + bytes.len()).saturating_sub(self.history_cap);
        if excess > 0 {
            self.history.drop_front(excess);
        }
        self.history.push(bytes);
    }

    /// Forgets delivered bytes before `offset` (the peer acknowledged them, so they will not be
    /// retransmitted in earnest).
    pub fn acknowledge(&mut self, offset: u64) {
        let hist_start = self.next - self.history.len() as u64;
        if offset > hist_start {
            let n = (offset.min(self.next) - hist_start) as usize;
            self.history.drop_front(n);
        }
        if self.history.is_empty() && self.history.capacity() > 0 {
            // Everything delivered was acknowledged: nothing is left to check a retransmission
            // against. An idle keep-alive connection holds no buffer (one per direction of up
            // to HISTORY_KEEP_CAPACITY bytes was most of what it held); the next burst
            // allocates its own (from the thread's few spare buffers, see `spare`).
            spare::give(self.history.take_buffer());
        }
    }

    /// Frees the delivered-bytes history (no more conflict checks against it).
    pub fn release_history(&mut self) {
        self.history = History::default();
    }

    /// Next chunk in stream order: a buffered piece at `next` if any; otherwise, when
    /// `next < limit`, a gap up to `limit` (or up to the next buffered piece). `None` when there
    /// is nothing to hand out below `limit`.
    pub fn pop(&mut self, limit: u64) -> Option<Chunk> {
        if let Some(piece) = self.pending.remove(&self.next) {
            let offset = self.next;
            match piece {
                Piece::Data(bytes) => {
                    self.pending_bytes -= bytes.len();
                    self.next += bytes.len() as u64;
                    self.push_history(&bytes);
                    return Some(Chunk::Data { offset, bytes });
                }
                Piece::Missing(len) => {
                    self.next += len;
                    let len = self.extend_gap(limit) - offset;
                    self.history.clear();
                    return Some(Chunk::Gap { offset, len });
                }
            }
        }
        if self.next >= limit {
            return None;
        }
        let offset = self.next;
        let stop = self.first_pending().unwrap_or(u64::MAX).min(limit);
        self.next = stop;
        let end = self.extend_gap(limit);
        self.history.clear();
        Some(Chunk::Gap {
            offset,
            len: end - offset,
        })
    }

    /// After a gap ending at `next`, swallows following missing markers and holes below `limit`
    /// into the same gap; returns the new `next`.
    fn extend_gap(&mut self, limit: u64) -> u64 {
        loop {
            if let Some(Piece::Missing(len)) = self.pending.get(&self.next) {
                let len = *len;
                self.pending.remove(&self.next);
                self.next += len;
                continue;
            }
            if self.next < limit && !self.pending.contains_key(&self.next) {
                self.next = self.first_pending().unwrap_or(u64::MAX).min(limit);
                continue;
            }
            return self.next;
        }
    }
}

/// A few emptied history buffers kept per thread for the next burst of any connection: most
/// bursts (a request, a small response) take a buffer of a power of two up to
/// [`HISTORY_KEEP_CAPACITY`] and give it back when the peer acknowledges them, and a malloc +
/// free per burst was most of what keeping the history cost. A larger burst grows its buffer to
/// the history cap (16 KiB by default, a power of two up to [`spare::MAX_CAPACITY`] is kept
/// too) and gives both the outgrown and the grown buffer back. A buffer handed out has exactly
/// the capacity asked for, as a new one would, so what a connection is charged is unchanged;
/// the spares themselves are bounded (at most [`spare::PER_SIZE`] per size and
/// [`spare::BYTES_PER_SIZE`] bytes of it: under 256 KiB per thread).
mod spare {
    use std::cell::RefCell;

    /// Spare buffers kept per power-of-two size.
    pub(super) const PER_SIZE: usize = 16;
    /// Bytes of spare buffers kept per size (four of 16 KiB, eight of 8 KiB ...).
    pub(super) const BYTES_PER_SIZE: usize = 64 << 10;
    /// Largest buffer kept: the default history cap (`FlowConfig::conflict_window`).
    pub(super) const MAX_CAPACITY: usize = 16 << 10;
    /// Power-of-two sizes kept: 1, 2, 4 ... MAX_CAPACITY.
    const SIZES: usize = MAX_CAPACITY.trailing_zeros() as usize + 1;

    thread_local! {
        // Initialised in place (no first-use check on every access).
        static SPARE: RefCell<[Vec<Vec<u8>>; SIZES]> =
            const { RefCell::new([const { Vec::new() }; SIZES]) };
    }

    /// The size class of a buffer of capacity `cap`, when spares of it are kept.
    fn class(cap: usize) -> Option<usize> {
        (cap.is_power_of_two() && cap <= MAX_CAPACITY).then(|| cap.trailing_zeros() as usize)
    }

    /// An empty buffer of capacity `cap` (a spare one when there is one).
    pub(super) fn take(cap: usize) -> Vec<u8> {
        class(cap)
            .and_then(|c| {
                SPARE
                    .try_with(|s| s.try_borrow_mut().ok()?.get_mut(c)?.pop())
                    .ok()
                    .flatten()
            })
            .filter(|b| b.capacity() == cap)
            .unwrap_or_else(|| Vec::with_capacity(cap))
    }

    /// Keeps an emptied buffer for [`take`] when its size is kept and there is room; else
    /// frees it.
    pub(super) fn give(mut buffer: Vec<u8>) {
        let cap = buffer.capacity();
        let Some(c) = class(cap) else {
            return;
        };
        buffer.clear();
        let _ = SPARE.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                if let Some(list) = s.get_mut(c) {
                    if list.len() < PER_SIZE && (list.len() + 1) * cap <= BYTES_PER_SIZE {
                        list.push(buffer);
                    }
                }
            }
        });
    }
}

/// First offset in `[from, to)` where `have` (at `have_off`) and `src` (at `src_off`) differ.
fn first_difference(
    have: &[u8],
    have_off: u64,
    src: &[u8],
    src_off: u64,
    from: u64,
    to: u64,
) -> Option<u64> {
    (from..to).find(|&o| {
        let a = have.get((o - have_off) as usize);
        let b = src.get((o - src_off) as usize);
        matches!((a, b), (Some(x), Some(y)) if x != y)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds one segment and drains everything ready (no forced gaps); returns the bytes out.
    fn feed(r: &mut Reassembler, off: u64, data: &[u8], out: &mut Vec<Chunk>) -> Inserted {
        let ins = r.insert(off, data, 0);
        if let Some(range) = ins.direct.clone() {
            out.push(Chunk::Data {
                offset: ins.direct_offset,
                bytes: data[range].to_vec(),
            });
        }
        while let Some(c) = r.pop(r.next()) {
            out.push(c);
        }
        ins
    }

    /// Rebuilds the stream from chunks, checking they are contiguous; gaps become `None`.
    fn rebuild(chunks: &[Chunk]) -> Vec<Option<u8>> {
        let mut s = Vec::new();
        for c in chunks {
            match c {
                Chunk::Data { offset, bytes } => {
                    assert_eq!(*offset, s.len() as u64, "data not contiguous");
                    assert!(!bytes.is_empty());
                    s.extend(bytes.iter().map(|b| Some(*b)));
                }
                Chunk::Gap { offset, len } => {
                    assert_eq!(*offset, s.len() as u64, "gap not contiguous");
                    assert!(*len > 0);
                    s.extend(std::iter::repeat(None).take(*len as usize));
                }
            }
        }
        s
    }

    #[test]
    fn memory_counts_pieces_and_history() {
        let mut r = Reassembler::new(16);
        let mut out = Vec::new();
        feed(&mut r, 0, b"abc", &mut out);
        assert_eq!(r.memory(), 4, "a small burst: the next power of two");
        feed(&mut r, 10, b"xyz", &mut out);
        assert_eq!(r.memory(), 4 + 3 + PIECE_COST);
        r.disable_history();
        assert_eq!(r.memory(), 3 + PIECE_COST);
        feed(&mut r, 3, b"defghij", &mut out);
        assert_eq!(r.memory(), 0, "no history kept once disabled");

        let mut r = Reassembler::new(16 << 10);
        feed(&mut r, 0, &[b'a'; 3000], &mut out);
        assert_eq!(
            r.memory(),
            16 << 10,
            "a larger burst: grown once to the cap"
        );
    }

    #[test]
    fn in_order_is_direct() {
        let mut r = Reassembler::new(16);
        let mut out = Vec::new();
        let ins = feed(&mut r, 0, b"hello", &mut out);
        assert_eq!(ins.direct, Some(0..5));
        assert_eq!(ins.new_bytes, 5);
        feed(&mut r, 5, b" world", &mut out);
        assert_eq!(r.next(), 11);
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn out_of_order_then_fill() {
        let mut r = Reassembler::new(16);
        let mut out = Vec::new();
        let ins = feed(&mut r, 5, b"world", &mut out);
        assert!(ins.direct.is_none());
        assert!(out.is_empty());
        assert_eq!(r.buffered(), 5 + PIECE_COST);
        feed(&mut r, 0, b"hello", &mut out);
        let s: Vec<u8> = rebuild(&out).into_iter().flatten().collect();
        assert_eq!(s, b"helloworld");
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn conflict_with_history_and_pending() {
        let mut r = Reassembler::new(16);
        let mut out = Vec::new();
        feed(&mut r, 0, b"abcdef", &mut out);
        let ins = feed(&mut r, 2, b"cXef", &mut out);
        assert_eq!(ins.conflict, Some(3));
        assert_eq!(ins.old_bytes, 4);
        assert_eq!(ins.new_bytes, 0);
        feed(&mut r, 10, b"klmn", &mut out);
        let ins = feed(&mut r, 9, b"jkLmno", &mut out);
        assert_eq!(ins.conflict, Some(11));
        assert_eq!(ins.new_bytes, 2);
        feed(&mut r, 6, b"ghi", &mut out);
        let s: Vec<u8> = rebuild(&out).into_iter().flatten().collect();
        assert_eq!(s, b"abcdefghijklmno", "first bytes kept");
    }

    #[test]
    fn acknowledged_history_is_not_compared() {
        let mut r = Reassembler::new(16);
        let mut out = Vec::new();
        feed(&mut r, 0, b"abcdef", &mut out);
        r.acknowledge(6);
        let ins = feed(&mut r, 0, b"XXXXXX", &mut out);
        assert_eq!(ins.conflict, None);
        assert_eq!(ins.old_bytes, 6);
    }

    #[test]
    fn truncated_segment_becomes_gap() {
        let mut r = Reassembler::new(16);
        let mut out = Vec::new();
        let ins = r.insert(0, b"abc", 7);
        assert_eq!(ins.direct, Some(0..3));
        out.push(Chunk::Data {
            offset: 0,
            bytes: b"abc".to_vec(),
        });
        while let Some(c) = r.pop(r.next()) {
            out.push(c);
        }
        assert_eq!(out.last(), Some(&Chunk::Gap { offset: 3, len: 7 }));
        feed(&mut r, 10, b"z", &mut out);
        assert_eq!(r.next(), 11);
    }

    #[test]
    fn forced_gap_merges_missing_markers() {
        let mut r = Reassembler::new(16);
        let mut out = Vec::new();
        r.insert(5, b"", 5); // missing 5..10 (out of order)
        feed(&mut r, 10, b"xy", &mut out);
        assert!(out.is_empty());
        // Hole 0..5 given up (e.g. ACKed): one gap 0..10, then the data.
        while let Some(c) = r.pop(5) {
            out.push(c);
        }
        assert_eq!(
            out,
            vec![
                Chunk::Gap { offset: 0, len: 10 },
                Chunk::Data {
                    offset: 10,
                    bytes: b"xy".to_vec()
                }
            ]
        );
    }

    #[derive(Debug, Clone)]
    struct Seg {
        start: usize,
        end: usize,
        missing: bool,
    }

    /// A stream, and a shuffled list of segments (with duplicates and overlaps) covering parts
    /// of it; some segments can be dropped.
    fn scenario(drops: bool) -> impl Strategy<Value = (Vec<u8>, Vec<Seg>)> {
        (1usize..400).prop_flat_map(move |len| {
            let stream = proptest::collection::vec(any::<u8>(), len);
            let cuts = proptest::collection::vec(0..len, 0..20);
            let extra = proptest::collection::vec((0..len, 1usize..40, any::<bool>()), 0..10);
            let seed = any::<u64>();
            let drop_mask = proptest::collection::vec(
                if drops {
                    prop_oneof![4 => Just(false), 1 => Just(true)].boxed()
                } else {
                    Just(false).boxed()
                },
                40,
            );
            (stream, cuts, extra, seed, drop_mask).prop_map(
                move |(stream, mut cuts, extra, seed, drop_mask)| {
                    cuts.push(0);
                    cuts.push(len);
                    cuts.sort_unstable();
                    cuts.dedup();
                    let mut segs: Vec<Seg> = cuts
                        .windows(2)
                        .enumerate()
                        .filter(|(i, _)| !drop_mask.get(*i).copied().unwrap_or(false))
                        .map(|(i, w)| Seg {
                            start: w[0],
                            end: w[1],
                            missing: drops && drop_mask.get(i + 20).copied().unwrap_or(false),
                        })
                        .collect();
                    for (s, l, dup_of_whole) in extra {
                        let e = (s + l).min(len);
                        if dup_of_whole || !drops {
                            segs.push(Seg {
                                start: s,
                                end: e,
                                missing: false,
                            });
                        }
                    }
                    // Deterministic shuffle from the seed.
                    let mut x = seed | 1;
                    for i in (1..segs.len()).rev() {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        segs.swap(i, (x % (i as u64 + 1)) as usize);
                    }
                    (stream, segs)
                },
            )
        })
    }

    proptest! {
        /// Random splits, reordering, duplication and overlaps yield exactly the original stream.
        #[test]
        fn reassembles_exactly((stream, segs) in scenario(false)) {
            let mut r = Reassembler::new(64);
            let mut out = Vec::new();
            for s in &segs {
                feed(&mut r, s.start as u64, &stream[s.start..s.end], &mut out);
            }
            let got: Vec<Option<u8>> = rebuild(&out);
            let want: Vec<Option<u8>> = stream.iter().map(|b| Some(*b)).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(r.buffered(), 0);
        }

        /// With drops and truncation, a final flush gives the captured bytes in place and gaps
        /// exactly where no segment supplied a byte, each offset covered once.
        #[test]
        fn gaps_match_naive_model((stream, segs) in scenario(true), cap in 1usize..300) {
            let mut r = Reassembler::new(32);
            let mut out = Vec::new();
            let mut seen = vec![false; stream.len()];
            // Offsets some truncated segment declared missing (the first word on a byte wins).
            let mut tainted = vec![false; stream.len()];
            let mut forced = false;
            for s in &segs {
                // A truncated segment carries the first half of its bytes only.
                let cut = if s.missing { s.start + (s.end - s.start) / 2 } else { s.end };
                let before = r.next();
                for t in tainted.iter_mut().take(s.end).skip(cut) { *t = true; }
                let ins = r.insert(s.start as u64, &stream[s.start..cut], (s.end - cut) as u64);
                if let Some(range) = ins.direct.clone() {
                    out.push(Chunk::Data { offset: ins.direct_offset, bytes: stream[s.start..cut][range].to_vec() });
                }
                // Bytes before `next` were delivered already or given up on.
                for (i, b) in seen.iter_mut().enumerate().take(cut).skip(s.start) {
                    if i as u64 >= before { *b = true; }
                }
                while let Some(c) = r.pop(r.next()) { out.push(c); }
                while r.buffered() > cap {
                    forced = true;
                    let limit = r.first_pending().unwrap_or(r.next());
                    while let Some(c) = r.pop(limit) { out.push(c); }
                }
            }
            while let Some(c) = r.pop(stream.len() as u64) { out.push(c); }
            let got = rebuild(&out);
            prop_assert_eq!(got.len(), stream.len());
            for (i, g) in got.iter().enumerate() {
                if let Some(b) = g {
                    prop_assert_eq!(*b, stream[i]);
                    prop_assert!(seen[i]);
                } else if !forced && !tainted[i] {
                    prop_assert!(!seen[i], "byte {} was captured but reported missing", i);
                }
            }
        }
    }
}
