//! One connection's decryption: frames the records of each direction (across segments), reads
//! the hellos for the randoms, the suite and ALPN, finds the session's secrets in the key log,
//! opens the protected records and hands their application data on as [`Plain`] pieces.
//!
//! A gap inside a record loses that record only (its length is known, the stream stays in
//! step; its sequence number is used up). A gap across a record header desynchronises the
//! direction: the bytes after it are searched for a record header whose record opens under
//! one of the next sequence numbers; until one does, the direction is unreadable.

use super::cipher::{Opened, RecordCipher, Suite, TAG_LEN};
use super::keylog::{KeyLog, SessionSecrets};
use super::{Alpn, DecryptInfo, DecryptStatus};
use crate::capture::{PacketPos, Timestamp};
use crate::flow::Dir;
use tls_parser::{
    parse_tls_message_handshake, parse_tls_server_hello_extensions, TlsExtension, TlsMessage,
    TlsMessageHandshake,
};

/// Largest record body accepted (16 KB plaintext + 2 KB expansion).
const MAX_RECORD: usize = 16384 + 2048;
/// Largest hello buffered.
const MAX_HELLO: usize = 64 * 1024;
/// Bytes kept while searching for a record header after a gap.
const RESYNC_WINDOW: usize = 2 * (MAX_RECORD + 5);
/// Sequence numbers tried after a gap (beyond the explicit-nonce guess).
const MAX_SEQ_TRIES: u64 = 64;
/// Plausible record headers tried after a gap before the direction is given up as opaque
/// (bounds the work a hopeless search can cost: candidates x sequence numbers x one record).
const MAX_RESYNC_CANDIDATES: u32 = 16;

const CCS: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPDATA: u8 = 23;

/// ServerHello.random of a TLS 1.3 HelloRetryRequest (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// A piece of decrypted application data, or plaintext known to be missing.
#[derive(Debug)]
pub(crate) enum Plain {
    /// Application data of one record, at the packet that completed the record.
    Data {
        dir: Dir,
        ts: Timestamp,
        pos: PacketPos,
        bytes: Vec<u8>,
    },
    /// About `len` plaintext bytes are missing (records lost in a capture gap).
    Gap { dir: Dir, ts: Timestamp, len: u64 },
}

/// Walks handshake messages across records, reporting each completed message's type.
#[derive(Debug, Default)]
struct MsgWalker {
    hdr: [u8; 4],
    hdr_len: usize,
    remaining: usize,
}

impl MsgWalker {
    fn walk(&mut self, mut bytes: &[u8], done: &mut Vec<u8>) {
        while !bytes.is_empty() {
            if self.hdr_len < 4 {
                let n = (4 - self.hdr_len).min(bytes.len());
                if let (Some(dst), Some(src)) = (
                    self.hdr.get_mut(self.hdr_len..self.hdr_len + n),
                    bytes.get(..n),
                ) {
                    dst.copy_from_slice(src);
                }
                self.hdr_len += n;
                bytes = bytes.get(n..).unwrap_or(&[]);
                if self.hdr_len == 4 {
                    let [_, a, b, c] = self.hdr;
                    self.remaining = u32::from_be_bytes([0, a, b, c]) as usize;
                    if self.remaining == 0 {
                        done.push(self.hdr[0]);
                        self.hdr_len = 0;
                    }
                }
                continue;
            }
            let n = self.remaining.min(bytes.len());
            self.remaining -= n;
            bytes = bytes.get(n..).unwrap_or(&[]);
            if self.remaining == 0 {
                done.push(self.hdr[0]);
                self.hdr_len = 0;
            }
        }
    }
}

/// One direction's record reader and read keys.
#[derive(Debug, Default)]
struct DirDec {
    hdr: [u8; 5],
    hdr_len: usize,
    /// Inside a record body: bytes still to come.
    remaining: usize,
    in_body: bool,
    body: Vec<u8>,
    /// Part of the current record is missing from the capture.
    lost: bool,
    /// The plaintext handshake stream, until the hello is read.
    hello: Vec<u8>,
    hello_done: bool,
    /// Current read keys (handshake keys in TLS 1.3 until the Finished).
    cipher: Option<RecordCipher>,
    /// Keys that take over next: TLS 1.3 application keys, TLS 1.2 keys after ChangeCipherSpec.
    next: Option<RecordCipher>,
    /// TLS 1.3: the application keys are in use.
    app_stage: bool,
    walker: MsgWalker,
    /// After a gap across a record boundary: the bytes searched for the next record.
    resync: Option<Vec<u8>>,
    /// Records lost at most in that gap (bounds the sequence numbers tried).
    resync_span: u64,
    /// Stream bytes lost since the end of the last record read (gap and bytes skipped).
    desync_bytes: u64,
    /// Record headers tried in vain since the gap.
    failed_candidates: u32,
    /// Given up after a gap: the rest of the direction is opaque.
    dead: bool,
}

impl DirDec {
    fn memory(&self) -> usize {
        self.body.capacity()
            + self.hello.capacity()
            + self.resync.as_ref().map_or(0, |r| r.capacity())
    }
}

/// The decryption state of one TLS connection.
#[derive(Debug, Default)]
pub(crate) struct Decryptor {
    dirs: [DirDec; 2],
    client_random: Option<[u8; 32]>,
    server_random: Option<[u8; 32]>,
    tls13: bool,
    /// What happened so far.
    pub info: DecryptInfo,
    keys_found: bool,
    done: Vec<u8>,
}

impl Decryptor {
    /// Heap held by record and search buffers.
    pub fn memory(&self) -> usize {
        self.dirs.iter().map(DirDec::memory).sum()
    }

    /// Gives up the records being collected (buffer budget exhausted): they count as lost.
    pub fn release(&mut self) -> usize {
        let freed = self.memory();
        for st in &mut self.dirs {
            if st.in_body && !st.lost {
                st.lost = true;
            }
            st.body = Vec::new();
            if !st.hello_done {
                st.hello_done = true;
            }
            st.hello = Vec::new();
            if st.resync.is_some() {
                st.resync = Some(Vec::new());
            }
        }
        freed
    }

    /// Feeds a segment of direction `dir`; decrypted data goes to `out`.
    pub fn feed(
        &mut self,
        dir: Dir,
        ts: Timestamp,
        pos: PacketPos,
        bytes: &[u8],
        keys: &KeyLog,
        out: &mut Vec<Plain>,
    ) {
        let d = dir.index();
        if self.dirs.get(d).is_some_and(|s| s.dead) {
            return;
        }
        if self.dirs.get(d).is_some_and(|s| s.resync.is_some()) {
            self.resync_feed(dir, ts, pos, bytes, keys, out);
            return;
        }
        let mut i = 0;
        while i < bytes.len() {
            let Some(st) = self.dirs.get_mut(d) else {
                return;
            };
            let rest = bytes.get(i..).unwrap_or(&[]);
            if !st.in_body {
                let n = (5 - st.hdr_len).min(rest.len());
                if let (Some(dst), Some(src)) =
                    (st.hdr.get_mut(st.hdr_len..st.hdr_len + n), rest.get(..n))
                {
                    dst.copy_from_slice(src);
                }
                st.hdr_len += n;
                i += n;
                if st.hdr_len < 5 {
                    continue;
                }
                st.hdr_len = 0;
                let [typ, major, _, hi, lo] = st.hdr;
                let len = u16::from_be_bytes([hi, lo]) as usize;
                if !(CCS..=APPDATA + 1).contains(&typ) || major != 3 || len > MAX_RECORD {
                    // Not a record stream (or damaged beyond reading): look for the next
                    // record as after a gap.
                    self.info.unreadable_records += 1;
                    let hdr = st.hdr;
                    self.start_resync(dir, ts, 0, out);
                    let mut again = hdr.get(1..).unwrap_or(&[]).to_vec();
                    again.extend_from_slice(bytes.get(i..).unwrap_or(&[]));
                    self.resync_feed(dir, ts, pos, &again, keys, out);
                    return;
                }
                st.in_body = true;
                st.remaining = len;
                st.body.clear();
                st.lost = false;
            }
            let n = st.remaining.min(bytes.len() - i);
            if !st.lost {
                st.body
                    .extend_from_slice(bytes.get(i..i + n).unwrap_or(&[]));
            }
            st.remaining -= n;
            i += n;
            if st.remaining == 0 {
                st.in_body = false;
                let hdr = st.hdr;
                let body = std::mem::take(&mut st.body);
                if st.lost {
                    self.lost_record(dir, ts, &hdr, out);
                } else {
                    self.record(dir, ts, pos, &hdr, &body, keys, out);
                }
                if let Some(st) = self.dirs.get_mut(d) {
                    st.body = body;
                    st.body.clear();
                    if st.body.capacity() > 4096 {
                        st.body = Vec::new();
                    }
                }
                if self.dirs.get(d).is_some_and(|s| s.resync.is_some()) {
                    let rest = bytes.get(i..).unwrap_or(&[]);
                    self.resync_feed(dir, ts, pos, rest, keys, out);
                    return;
                }
            }
        }
    }

    /// `len` bytes of direction `dir` are missing from the capture.
    pub fn gap(&mut self, dir: Dir, ts: Timestamp, len: u64, out: &mut Vec<Plain>) {
        let Some(st) = self.dirs.get_mut(dir.index()) else {
            return;
        };
        if st.dead {
            return;
        }
        if let Some(buf) = &mut st.resync {
            // Still searching: what was kept cannot be contiguous with what follows.
            st.desync_bytes = st
                .desync_bytes
                .saturating_add(buf.len() as u64)
                .saturating_add(len);
            buf.clear();
            st.resync_span = st.resync_span.saturating_add(len / 22 + 1);
            self.info.lost_bytes = self.info.lost_bytes.saturating_add(len);
            return;
        }
        if st.in_body && st.hdr_len == 0 && (len as usize) < st.remaining {
            st.remaining -= len as usize;
            st.lost = true;
            st.body = Vec::new();
            return;
        }
        // The gap runs over a record boundary: the framing is lost.
        let inside = if st.in_body { st.remaining as u64 } else { 0 };
        if st.in_body {
            st.in_body = false;
            let hdr = st.hdr;
            self.lost_record(dir, ts, &hdr, out);
        }
        self.start_resync(dir, ts, len.saturating_sub(inside), out);
    }

    /// Application data of `dir` became unreadable until a record is found again.
    fn start_resync(&mut self, dir: Dir, ts: Timestamp, lost: u64, out: &mut Vec<Plain>) {
        let Some(st) = self.dirs.get_mut(dir.index()) else {
            return;
        };
        st.hdr_len = 0;
        st.in_body = false;
        st.body = Vec::new();
        st.resync = Some(Vec::new());
        st.resync_span = lost / 22 + 1;
        st.desync_bytes = lost;
        self.info.lost_bytes = self.info.lost_bytes.saturating_add(lost);
        let _ = (ts, out);
    }

    /// Searches the bytes after a gap for a record that opens; goes on from there.
    fn resync_feed(
        &mut self,
        dir: Dir,
        ts: Timestamp,
        pos: PacketPos,
        bytes: &[u8],
        keys: &KeyLog,
        out: &mut Vec<Plain>,
    ) {
        let d = dir.index();
        let Some(st) = self.dirs.get_mut(d) else {
            return;
        };
        let Some(mut buf) = st.resync.take() else {
            return;
        };
        buf.extend_from_slice(bytes);
        let mut start = 0;
        let found = loop {
            let Some(rel) = buf.get(start..).and_then(|b| {
                b.windows(3)
                    .position(|w| matches!(w, [ALERT..=APPDATA, 3, 3]))
            }) else {
                start = buf.len().saturating_sub(2);
                break None;
            };
            let at = start + rel;
            let Some(&[typ, _, _, hi, lo]) = buf.get(at..at + 5) else {
                start = at;
                break None;
            };
            let len = u16::from_be_bytes([hi, lo]) as usize;
            if !(TAG_LEN + 1..=MAX_RECORD).contains(&len) {
                start = at + 1;
                continue;
            }
            let Some(body) = buf.get(at + 5..at + 5 + len) else {
                // Wait for the whole record.
                start = at;
                break None;
            };
            let hdr = [typ, 3, 3, hi, lo];
            if let Some((seq, opened)) = try_seqs(st, &hdr, body) {
                break Some((at, len, hdr, seq, opened));
            }
            // Perhaps a record beyond the sequence numbers tried: look further next time.
            st.failed_candidates += 1;
            st.resync_span = st.resync_span.saturating_add(1);
            start = at + 1;
            if st.failed_candidates >= MAX_RESYNC_CANDIDATES {
                break None;
            }
        };
        let skipped = match &found {
            Some((at, ..)) => *at,
            None => start,
        };
        self.info.lost_bytes = self.info.lost_bytes.saturating_add(skipped as u64);
        st.desync_bytes = st.desync_bytes.saturating_add(skipped as u64);
        if found.is_none() && st.failed_candidates >= MAX_RESYNC_CANDIDATES {
            // Given up: the rest of this direction stays opaque (reported as unsynced).
            st.dead = true;
            st.resync = Some(Vec::new());
            return;
        }
        match found {
            None => {
                buf.drain(..start.min(buf.len()));
                if buf.len() > RESYNC_WINDOW {
                    let cut = buf.len() - RESYNC_WINDOW;
                    buf.drain(..cut);
                    self.info.lost_bytes = self.info.lost_bytes.saturating_add(cut as u64);
                    st.desync_bytes = st.desync_bytes.saturating_add(cut as u64);
                }
                st.resync = Some(buf);
            }
            Some((at, len, hdr, seq, opened)) => {
                let rest = buf.get(at + 5 + len..).unwrap_or(&[]).to_vec();
                self.info.resyncs += 1;
                st.failed_candidates = 0;
                if let Some(c) = st.cipher.as_mut() {
                    // The records between: their count from the sequence numbers, their
                    // plaintext from the bytes lost less each record's header and overhead.
                    let lost = seq.saturating_sub(c.seq);
                    self.info.lost_records = self.info.lost_records.saturating_add(lost);
                    let plain = st
                        .desync_bytes
                        .saturating_sub(lost.saturating_mul(5 + c.overhead()));
                    c.seq = seq.saturating_add(1);
                    if plain > 0 && (st.app_stage || !self.tls13) {
                        out.push(Plain::Gap {
                            dir,
                            ts,
                            len: plain,
                        });
                    }
                }
                st.desync_bytes = 0;
                self.opened(dir, ts, pos, &hdr, opened, out);
                self.feed(dir, ts, pos, &rest, keys, out);
            }
        }
    }

    /// A record whose bytes are partly missing: its sequence number is used up.
    fn lost_record(&mut self, dir: Dir, ts: Timestamp, hdr: &[u8; 5], out: &mut Vec<Plain>) {
        let len = u16::from_be_bytes([hdr[3], hdr[4]]) as u64;
        self.info.lost_records += 1;
        self.info.lost_bytes = self.info.lost_bytes.saturating_add(len + 5);
        let Some(st) = self.dirs.get_mut(dir.index()) else {
            return;
        };
        if let Some(c) = st.cipher.as_mut() {
            if !(self.tls13 && hdr[0] == CCS) {
                c.seq = c.seq.saturating_add(1);
            }
            if hdr[0] == APPDATA && (st.app_stage || !self.tls13) {
                out.push(Plain::Gap {
                    dir,
                    ts,
                    len: len.saturating_sub(c.overhead()),
                });
            }
        }
    }

    /// A whole record.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        dir: Dir,
        ts: Timestamp,
        pos: PacketPos,
        hdr: &[u8; 5],
        body: &[u8],
        keys: &KeyLog,
        out: &mut Vec<Plain>,
    ) {
        let d = dir.index();
        let Some(st) = self.dirs.get_mut(d) else {
            return;
        };
        let typ = hdr[0];
        if st.cipher.is_none() && (st.next.is_none() || self.tls13) {
            match typ {
                HANDSHAKE if !st.hello_done => {
                    if st.hello.len() + body.len() > MAX_HELLO {
                        st.hello_done = true;
                        st.hello = Vec::new();
                        return;
                    }
                    st.hello.extend_from_slice(body);
                    self.hellos(dir, keys);
                    return;
                }
                APPDATA => {
                    // TLS 1.3 without handshake keys: the encrypted handshake and then the
                    // application data, opened with the application keys once they work.
                    if let Some(next) = st.next.as_ref() {
                        if let Some(opened) = next.open_at(0, hdr, body) {
                            st.cipher = st.next.take();
                            st.app_stage = true;
                            if let Some(c) = st.cipher.as_mut() {
                                c.seq = 1;
                            }
                            self.opened(dir, ts, pos, hdr, opened, out);
                        } else {
                            self.info.handshake_records_skipped += 1;
                        }
                    } else {
                        self.info.opaque_records += 1;
                    }
                    return;
                }
                _ => return,
            }
        }
        if typ == CCS {
            if !self.tls13 && st.cipher.is_none() {
                st.cipher = st.next.take();
            }
            return;
        }
        let Some(c) = st.cipher.as_mut() else {
            return;
        };
        if let Some(opened) = c.open_at(c.seq, hdr, body) {
            c.seq = c.seq.saturating_add(1);
            self.opened(dir, ts, pos, hdr, opened, out);
            return;
        }
        c.seq = c.seq.saturating_add(1);
        // TLS 1.3: a Finished lost or not seen; the application keys may have taken over.
        if self.tls13 && !st.app_stage {
            if let Some(opened) = st.next.as_ref().and_then(|n| n.open_at(0, hdr, body)) {
                st.cipher = st.next.take();
                st.app_stage = true;
                if let Some(c) = st.cipher.as_mut() {
                    c.seq = 1;
                }
                self.opened(dir, ts, pos, hdr, opened, out);
                return;
            }
        }
        self.info.failures += 1;
        if self.info.first_failure.is_none() {
            self.info.first_failure = Some((dir, pos));
        }
    }

    /// A record that opened.
    fn opened(
        &mut self,
        dir: Dir,
        ts: Timestamp,
        pos: PacketPos,
        hdr: &[u8; 5],
        opened: Opened,
        out: &mut Vec<Plain>,
    ) {
        let _ = hdr;
        self.info.records += 1;
        let Some(st) = self.dirs.get_mut(dir.index()) else {
            return;
        };
        match opened.content_type {
            APPDATA => {
                self.info.plaintext_bytes = self
                    .info
                    .plaintext_bytes
                    .saturating_add(opened.plaintext.len() as u64);
                if !opened.plaintext.is_empty() {
                    out.push(Plain::Data {
                        dir,
                        ts,
                        pos,
                        bytes: opened.plaintext,
                    });
                }
            }
            HANDSHAKE => {
                self.done.clear();
                st.walker.walk(&opened.plaintext, &mut self.done);
                for t in &self.done {
                    match t {
                        // Finished: the application keys follow (TLS 1.3).
                        20 if self.tls13 && !st.app_stage => {
                            if let Some(next) = st.next.take() {
                                st.cipher = Some(next);
                                st.app_stage = true;
                            }
                        }
                        // KeyUpdate.
                        24 if self.tls13 && st.app_stage => {
                            if let Some(up) = st.cipher.as_ref().and_then(RecordCipher::updated) {
                                st.cipher = Some(up);
                                self.info.key_updates += 1;
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// Reads the hellos from the plaintext handshake of `dir`; after the ServerHello, looks
    /// the session up and sets up the keys.
    fn hellos(&mut self, dir: Dir, keys: &KeyLog) {
        let d = dir.index();
        loop {
            let Some(st) = self.dirs.get_mut(d) else {
                return;
            };
            let len = match st.hello.get(1..4) {
                Some([a, b, c]) => u32::from_be_bytes([0, *a, *b, *c]) as usize,
                _ => return,
            };
            if st.hello.len() < len + 4 {
                return;
            }
            let msg: Vec<u8> = st.hello.drain(..len + 4).collect();
            match parse_tls_message_handshake(&msg) {
                Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch))))
                    if dir == Dir::ToServer =>
                {
                    self.client_random = ch.random.try_into().ok();
                    st.hello_done = true;
                    st.hello = Vec::new();
                    return;
                }
                Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ServerHello(sh))))
                    if dir == Dir::ToClient =>
                {
                    if sh.random == HRR_RANDOM {
                        continue;
                    }
                    self.server_random = sh.random.try_into().ok();
                    let mut version = sh.version.0;
                    if let Some(Ok((_, exts))) = sh.ext.map(parse_tls_server_hello_extensions) {
                        for e in exts {
                            match e {
                                TlsExtension::SupportedVersions(vs) => {
                                    if let Some(v) = vs.first() {
                                        version = v.0;
                                    }
                                }
                                TlsExtension::ALPN(list) => {
                                    self.info.alpn = list.first().map(|p| Alpn::from_wire(p));
                                }
                                _ => {}
                            }
                        }
                    }
                    st.hello_done = true;
                    st.hello = Vec::new();
                    self.info.cipher = Some(sh.cipher.0);
                    self.info.version = Some(version);
                    self.tls13 = version == 0x0304;
                    self.setup(sh.cipher.0, keys);
                    return;
                }
                Ok(_) => {}
                Err(_) => {
                    st.hello_done = true;
                    st.hello = Vec::new();
                    return;
                }
            }
        }
    }

    /// Finds the session's secrets and derives the read keys of both directions.
    fn setup(&mut self, cipher: u16, keys: &KeyLog) {
        let Some(suite) = Suite::from_id(cipher).filter(|s| s.tls13 == self.tls13) else {
            self.info.status = DecryptStatus::UnsupportedCipher;
            return;
        };
        let Some(secrets) = self.client_random.and_then(|r| keys.get(&r)) else {
            self.info.status = if self.client_random.is_some() {
                DecryptStatus::KeysMissing
            } else {
                DecryptStatus::HandshakeMissing
            };
            return;
        };
        let SessionSecrets {
            master,
            client_handshake,
            server_handshake,
            client_traffic,
            server_traffic,
        } = secrets;
        let [c, s] = &mut self.dirs;
        if self.tls13 {
            let k = |secret: &Option<Vec<u8>>| {
                secret
                    .as_deref()
                    .and_then(|x| RecordCipher::tls13(suite, x))
            };
            c.cipher = k(client_handshake);
            s.cipher = k(server_handshake);
            c.next = k(client_traffic);
            s.next = k(server_traffic);
            self.keys_found = c.next.is_some() || s.next.is_some();
        } else if let (Some(master), Some(cr), Some(sr)) =
            (master, self.client_random, self.server_random)
        {
            if let Some((ck, sk)) = RecordCipher::tls12_pair(suite, master, &cr, &sr) {
                c.next = Some(ck);
                s.next = Some(sk);
                self.keys_found = true;
            }
        }
        self.info.status = if self.keys_found {
            DecryptStatus::Decrypted
        } else {
            DecryptStatus::KeysMissing
        };
    }

    /// The outcome, at the end of the connection.
    pub fn finish(mut self) -> DecryptInfo {
        if self.keys_found && self.info.records == 0 && self.info.failures > 0 {
            self.info.status = DecryptStatus::Failed;
        }
        if self.info.cipher.is_none() && self.client_random.is_some() {
            self.info.status = DecryptStatus::NotEstablished;
        }
        self.info.unsynced = self
            .dirs
            .iter()
            .zip([Dir::ToServer, Dir::ToClient])
            .filter(|(st, _)| st.resync.is_some())
            .map(|(_, d)| d)
            .collect();
        self.info
    }
}

/// Tries the sequence numbers a record found after a gap may have: the explicit nonce (TLS
/// 1.2 GCM), then the next ones after the last record read; TLS 1.3 before the Finished also
/// the application keys from 0.
fn try_seqs(st: &mut DirDec, hdr: &[u8; 5], body: &[u8]) -> Option<(u64, Opened)> {
    let span = st.resync_span.clamp(1, MAX_SEQ_TRIES);
    if let Some(c) = st.cipher.as_ref() {
        if let Some(seq) = c.explicit_seq(body) {
            if let Some(o) = c.open_at(seq, hdr, body) {
                return Some((seq, o));
            }
        }
        for seq in c.seq..c.seq.saturating_add(span + 1) {
            if let Some(o) = c.open_at(seq, hdr, body) {
                return Some((seq, o));
            }
        }
    }
    if !st.app_stage {
        let next = st.next.as_ref()?;
        for seq in 0..span + 1 {
            if let Some(o) = next.open_at(seq, hdr, body) {
                st.cipher = st.next.take();
                st.app_stage = true;
                return Some((seq, o));
            }
        }
    }
    None
}
