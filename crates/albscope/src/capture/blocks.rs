//! Reading handed to another thread: a classic pcap file's bytes arrive in whole read blocks
//! (filled by a [`ReadAhead`] on the thread that owns it, e.g. the sink's thread of
//! `--threads 2`) and its records are parsed in place in them ([`BlockReader`], in the parser's
//! place). The file read with its kernel copy leaves the parsing thread; no packet is copied
//! (only a record cut by a block's end: into the next block's headroom).
//!
//! The reading thread fills every emptied block it is given back ([`ReadAhead::top_up`], never
//! waiting); a parser that finds no block waiting reads the next one itself, so neither side
//! ever waits on the other. Blocks are bounded ([`BLOCKS`] a file), so memory stays flat.

use super::input::Stream;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{parse_pcap_frame, parse_pcap_frame_be, PcapBlockOwned, PcapError};
use std::io::Read;
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};

/// Bytes read into a block at once.
const BLOCK: usize = 256 * 1024;
/// Room before a block's bytes for the rest of a record the previous block cut.
const HEADROOM: usize = 64 * 1024;
/// Blocks per file (one being parsed, the rest read ahead).
const BLOCKS: usize = 4;
/// Blocks per file when many files are read at once (memory stays that of one parser buffer).
const BLOCKS_MANY: usize = 2;

/// Bytes of a file: `buf[start..end]`.
struct Block {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The file's place in [`ReadAhead`].
    feed: usize,
    /// One of the file's own blocks (given back when done), not a joined one.
    pooled: bool,
}

impl Block {
    fn data(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }
}

/// One handed-over file's byte source.
struct Feed {
    stream: Stream,
    /// To the file's parser; `None` once the file ended.
    to: Option<Sender<Block>>,
}

/// Where the blocks of handed-over files are read: shared by their parsers (each reads its
/// next block itself when none is waiting) and the thread that reads ahead.
struct Feeds {
    feeds: Vec<Feed>,
    /// Emptied blocks, back from the parsers.
    spare: Receiver<Block>,
}

impl Feeds {
    /// Fills every emptied block and sends it to its parser.
    fn top_up(&mut self) {
        while let Ok(block) = self.spare.try_recv() {
            self.fill(block);
        }
    }

    /// Reads the next bytes of `block`'s file into it and sends it on; at the file's end the
    /// block is dropped and the file's parser told (its channel closes).
    fn fill(&mut self, mut block: Block) {
        let Some(feed) = self.feeds.get_mut(block.feed) else {
            return;
        };
        let Some(to) = &feed.to else { return };
        block.buf.resize(HEADROOM + BLOCK, 0);
        // A read error is remembered by the stream (`Filling`) and ends the file.
        let n = block
            .buf
            .get_mut(HEADROOM..)
            .map_or(0, |space| feed.stream.read(space).unwrap_or(0));
        if n == 0 {
            feed.to = None;
            return;
        }
        block.start = HEADROOM;
        block.end = HEADROOM + n;
        block.pooled = true;
        if to.send(block).is_err() {
            // The parser is gone (the file was closed): read no more of it.
            feed.to = None;
        }
    }
}

/// Reads ahead for the handed-over files: call [`ReadAhead::top_up`] whenever convenient.
pub(crate) struct ReadAhead(Arc<Mutex<Feeds>>);

impl ReadAhead {
    /// Fills the blocks the parsers gave back (none when a parser is reading just now).
    pub(crate) fn top_up(&self) {
        if let Ok(mut feeds) = self.0.try_lock() {
            feeds.top_up();
        }
    }
}

/// What [`super::input::FileInput`] hands over of a classic pcap file: its byte stream and the
/// parser's state.
pub(crate) struct HandedOver {
    pub(crate) stream: Stream,
    /// Bytes buffered and not yet consumed (the waiting packet's record first).
    pub(crate) buffered: Vec<u8>,
    /// Bytes consumed so far.
    pub(crate) consumed: usize,
    pub(crate) exhausted: bool,
    pub(crate) big_endian: bool,
}

/// Builds the read-ahead of `files` (their streams) and one parser per file, in order.
pub(crate) fn hand_over(files: Vec<HandedOver>) -> (ReadAhead, Vec<BlockReader>) {
    let (spare_tx, spare_rx) = channel();
    let per_file = if files.len() <= 2 {
        BLOCKS
    } else {
        BLOCKS_MANY
    };
    let mut feeds = Vec::with_capacity(files.len());
    let mut parsers = Vec::with_capacity(files.len());
    for (i, f) in files.into_iter().enumerate() {
        let (tx, rx) = channel();
        let end = f.buffered.len();
        parsers.push(BlockReader {
            cur: Block {
                buf: f.buffered,
                start: 0,
                end,
                feed: i,
                pooled: false,
            },
            consumed: f.consumed,
            exhausted: f.exhausted,
            big_endian: f.big_endian,
            from: rx,
            spare: spare_tx.clone(),
            feeds: None,
        });
        feeds.push(Feed {
            stream: f.stream,
            to: (!f.exhausted).then_some(tx),
        });
        for _ in 0..per_file {
            let _ = spare_tx.send(Block {
                buf: Vec::new(),
                start: 0,
                end: 0,
                feed: i,
                pooled: true,
            });
        }
    }
    let mut feeds = Feeds {
        feeds,
        spare: spare_rx,
    };
    feeds.top_up();
    let shared = Arc::new(Mutex::new(feeds));
    for p in &mut parsers {
        p.feeds = Some(Arc::clone(&shared));
    }
    (ReadAhead(shared), parsers)
}

/// A classic pcap file's records, parsed in place in blocks read by a [`ReadAhead`].
pub(crate) struct BlockReader {
    /// The block being parsed.
    cur: Block,
    consumed: usize,
    exhausted: bool,
    big_endian: bool,
    from: Receiver<Block>,
    /// Emptied blocks back to the read-ahead.
    spare: Sender<Block>,
    feeds: Option<Arc<Mutex<Feeds>>>,
}

impl BlockReader {
    /// The next block of the file: a waiting one, else one read now; `None` at its end.
    fn next_block(&mut self) -> Option<Block> {
        loop {
            match self.from.try_recv() {
                Ok(block) => return Some(block),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {}
            }
            let feeds = self.feeds.as_ref()?;
            let mut feeds = feeds.lock().ok()?;
            // The read-ahead fell behind: read this file's next block here.
            while let Ok(block) = feeds.spare.try_recv() {
                let mine = block.feed == self.cur.feed;
                feeds.fill(block);
                if mine {
                    break;
                }
            }
            if let Ok(block) = self.from.try_recv() {
                return Some(block);
            }
            // No emptied block of this file came back to fill (or it ended): a new one.
            let still_open = feeds
                .feeds
                .get(self.cur.feed)
                .is_some_and(|f| f.to.is_some());
            if still_open {
                feeds.fill(Block {
                    buf: Vec::new(),
                    start: 0,
                    end: 0,
                    feed: self.cur.feed,
                    pooled: true,
                });
            }
        }
    }
}

impl PcapReaderIterator for BlockReader {
    fn next(&mut self) -> Result<(usize, PcapBlockOwned<'_>), PcapError<&[u8]>> {
        let data = self.cur.data();
        if data.is_empty() && self.exhausted {
            return Err(PcapError::Eof);
        }
        let parsed = if self.big_endian {
            parse_pcap_frame_be(data)
        } else {
            parse_pcap_frame(data)
        };
        match parsed {
            Ok((rest, block)) => Ok((data.len() - rest.len(), PcapBlockOwned::from(block))),
            Err(pcap_parser::nom::Err::Error(e)) | Err(pcap_parser::nom::Err::Failure(e)) => Err(e),
            Err(pcap_parser::nom::Err::Incomplete(_)) => Err(PcapError::Incomplete(0)),
        }
    }

    fn consume(&mut self, offset: usize) {
        self.consume_noshift(offset);
    }

    fn consume_noshift(&mut self, offset: usize) {
        let offset = offset.min(self.cur.end - self.cur.start);
        self.cur.start += offset;
        self.consumed += offset;
    }

    fn consumed(&self) -> usize {
        self.consumed
    }

    /// Appends the file's next block to the bytes not yet consumed (the rest of a record the
    /// block cut goes into the next block's headroom).
    fn refill(&mut self) -> Result<(), PcapError<&[u8]>> {
        if self.exhausted {
            return Ok(());
        }
        let Some(mut next) = self.next_block() else {
            self.exhausted = true;
            return Ok(());
        };
        let left = self.cur.data();
        let joined = if left.len() <= next.start {
            let at = next.start - left.len();
            if let Some(room) = next.buf.get_mut(at..next.start) {
                room.copy_from_slice(left);
            }
            next.start = at;
            next
        } else {
            // The rest is longer than the headroom (a record longer than the room): one buffer.
            let mut buf = Vec::with_capacity(left.len() + next.data().len());
            buf.extend_from_slice(left);
            buf.extend_from_slice(next.data());
            let end = buf.len();
            let feed = next.feed;
            self.give_back(next);
            Block {
                buf,
                start: 0,
                end,
                feed,
                pooled: false,
            }
        };
        let done = std::mem::replace(&mut self.cur, joined);
        self.give_back(done);
        Ok(())
    }

    fn position(&self) -> usize {
        self.cur.start
    }

    fn grow(&mut self, _new_size: usize) -> bool {
        true
    }

    fn data(&self) -> &[u8] {
        self.cur.data()
    }

    fn reader_exhausted(&self) -> bool {
        self.exhausted
    }
}

impl BlockReader {
    /// An emptied block back to the read-ahead (a joined one is freed).
    fn give_back(&self, block: Block) {
        if block.pooled {
            let _ = self.spare.send(block);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::capture::CaptureReader;

    /// A classic pcap file (little- or big-endian) of `sizes` packets, each filled with its
    /// number; `cut` bytes left off the end.
    fn pcap(sizes: &[usize], big_endian: bool, cut: usize) -> Vec<u8> {
        let num = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend_from_slice(&num(0xa1b2_c3d4));
        out.extend_from_slice(
            &(if big_endian {
                [0, 2, 0, 4]
            } else {
                [2, 0, 4, 0]
            }),
        );
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&num(262_144));
        out.extend_from_slice(&num(1));
        for (i, &size) in sizes.iter().enumerate() {
            let i = u32::try_from(i).unwrap();
            out.extend_from_slice(&num(1_700_000_000 + i));
            out.extend_from_slice(&num(i));
            out.extend_from_slice(&num(u32::try_from(size).unwrap()));
            out.extend_from_slice(&num(u32::try_from(size).unwrap()));
            out.extend(std::iter::repeat(i as u8).take(size));
        }
        out.truncate(out.len() - cut);
        out
    }

    /// A reader of `bytes` written to a file (only regular files are handed over).
    fn file_reader(bytes: &[u8]) -> CaptureReader {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "albscope-blocks-{}-{}.pcap",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, bytes).unwrap();
        let reader = CaptureReader::open(&[&path]).unwrap();
        // Open files stay readable on Unix after their name is gone.
        let _ = std::fs::remove_file(&path);
        reader
    }

    /// Every packet (time, length, first byte, offset) and the summaries' bytes and damage.
    fn read_all(bytes: &[u8], hand_over: bool, top_up: bool) -> Vec<String> {
        let mut reader = file_reader(bytes);
        // An input that ended at its first packet is not handed over.
        let read_ahead = if hand_over {
            reader.hand_over_reading()
        } else {
            None
        };
        assert_eq!(read_ahead.is_some(), hand_over && bytes.len() > 100);
        let mut seen = Vec::new();
        while let Some(p) = reader.next_packet() {
            seen.push(format!(
                "{} {} {:?} {}",
                p.ts.0,
                p.data.len(),
                p.data.first(),
                p.pos.offset
            ));
            if top_up {
                if let Some(r) = &read_ahead {
                    r.top_up();
                }
            }
        }
        for s in reader.summaries() {
            // The damage message names the file: each run reads its own copy.
            let damage = s.damage.map(|d| d.replace(&s.file, "F"));
            seen.push(format!("{} {} {:?}", s.packets, s.bytes, damage));
        }
        seen
    }

    #[test]
    fn handed_over_reading_parses_the_same_packets() {
        // Records cut by blocks' ends, one longer than the headroom, one longer than a block.
        let mut sizes: Vec<usize> = (0..3000).map(|i| 60 + (i * 37) % 1500).collect();
        sizes.insert(700, 100_000);
        sizes.insert(1500, 262_144);
        sizes.insert(1501, 200_000);
        for big_endian in [false, true] {
            for cut in [0, 5, 20, 1000] {
                let bytes = pcap(&sizes, big_endian, cut);
                let want = read_all(&bytes, false, false);
                assert_eq!(want.len(), sizes.len() + 1 - usize::from(cut > 0));
                assert_eq!(read_all(&bytes, true, false), want, "cut {cut}");
                assert_eq!(read_all(&bytes, true, true), want, "cut {cut}");
            }
        }
        // Smaller than a block, and empty of packets.
        for sizes in [&sizes[..3], &[][..]] {
            let bytes = pcap(sizes, false, 0);
            let want = read_all(&bytes, false, false);
            assert_eq!(read_all(&bytes, true, true), want);
        }
    }

    #[test]
    fn reading_ahead_on_another_thread_gives_the_same_packets() {
        let sizes: Vec<usize> = (0..20_000).map(|i| 40 + (i * 97) % 9000).collect();
        let bytes = pcap(&sizes, false, 0);
        let want = read_all(&bytes, false, false);
        let mut reader = file_reader(&bytes);
        let read_ahead = reader.hand_over_reading().unwrap();
        let done = std::sync::atomic::AtomicBool::new(false);
        let seen = std::thread::scope(|scope| {
            scope.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    read_ahead.top_up();
                    std::thread::yield_now();
                }
            });
            let mut seen = Vec::new();
            while let Some(p) = reader.next_packet() {
                seen.push(format!(
                    "{} {} {:?} {}",
                    p.ts.0,
                    p.data.len(),
                    p.data.first(),
                    p.pos.offset
                ));
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            seen
        });
        assert_eq!(seen[..], want[..want.len() - 1]);
    }
}
