//! TLS record reader: reassembles records across segments (only the small plaintext ones are
//! kept), parses the hellos and alerts with `tls-parser`, and times application-data bursts.

use super::http::Seg;
use super::{
    ClientHelloInfo, Http2Signs, ServerHelloInfo, TicketRun, TlsAlertInfo, TlsBurst, TlsInfo,
};
use crate::capture::{PacketPos, Timestamp};
use crate::flow::Dir;
use tls_parser::{
    parse_tls_client_hello_extensions, parse_tls_message_handshake,
    parse_tls_server_hello_extensions, TlsCipherSuite, TlsExtension, TlsMessage,
    TlsMessageHandshake,
};

/// Largest record accepted (16 KB plaintext + 2 KB expansion).
const MAX_RECORD: usize = 16384 + 2048;
/// Largest handshake message buffered while looking for a hello.
const MAX_HANDSHAKE: usize = 64 * 1024;
/// Largest alert record kept for parsing.
const MAX_ALERT_RECORD: usize = 512;
/// Bursts kept per connection.
pub(crate) const MAX_BURSTS: usize = 10_000;
/// Alerts kept per connection.
const MAX_ALERTS: usize = 64;

/// ServerHello.random of a TLS 1.3 HelloRetryRequest (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Bytes a TLS 1.3 record adds to its plaintext, padding aside: the inner content type and the
/// 16-byte AEAD tag (RFC 8446 5.2; every TLS 1.3 cipher suite's tag is 16 bytes).
const TLS13_OVERHEAD: usize = 17;
/// Plaintext size of an HTTP/2 SETTINGS acknowledgement: a 9-byte frame header and no payload
/// (RFC 9113 6.5.3), which every HTTP/2 client sends after the server's SETTINGS (the server's
/// connection preface). An HTTP/1 request is at least 18 bytes (`GET / HTTP/1.0` and the blank
/// line); a TLS 1.3 alert is 2, a KeyUpdate 5.
const H2_SETTINGS_ACK: usize = 9;

const CCS: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPDATA: u8 = 23;
const HEARTBEAT: u8 = 24;

/// Version name: "TLSv1.2" etc., hex when unknown.
pub(crate) fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSLv3".to_string(),
        0x0301 => "TLSv1.0".to_string(),
        0x0302 => "TLSv1.1".to_string(),
        0x0303 => "TLSv1.2".to_string(),
        0x0304 => "TLSv1.3".to_string(),
        0x7f00..=0x7fff => format!("TLSv1.3-draft{}", v & 0xff),
        _ => format!("0x{v:04x}"),
    }
}

/// GREASE values (RFC 8701) are noise and skipped.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// Cipher suite IANA name, or hex.
pub(crate) fn cipher_name(id: u16) -> String {
    match TlsCipherSuite::from_id(id) {
        Some(c) => c.name.to_string(),
        None => format!("0x{id:04x}"),
    }
}

fn alert_level(l: u8) -> String {
    match l {
        1 => "warning".to_string(),
        2 => "fatal".to_string(),
        _ => format!("unknown({l})"),
    }
}

/// Alert description in the RFC's snake_case spelling.
pub(crate) fn alert_description(d: u8) -> String {
    let s = match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return format!("unknown({d})"),
    };
    s.to_string()
}

/// A record being read.
#[derive(Debug)]
struct Record {
    typ: u8,
    len: usize,
    remaining: usize,
    keep: bool,
    data: Vec<u8>,
    start_ts: Timestamp,
    start_pos: PacketPos,
}

/// One direction's record reader.
#[derive(Debug, Default)]
struct DirState {
    hdr: [u8; 5],
    hdr_len: usize,
    /// Time and packet of the current record header's first byte.
    hdr_start: (Timestamp, PacketPos),
    rec: Option<Record>,
    hs_buf: Vec<u8>,
    hs_start: Option<(Timestamp, PacketPos)>,
    /// The hello of this direction was read (or given up on): handshake records are skipped.
    hello_done: bool,
    ccs: bool,
    hs_done: bool,
    dead: bool,
}

/// The TLS state of one connection.
#[derive(Debug, Default)]
pub(crate) struct TlsConn {
    dirs: [DirState; 2],
    /// What was read so far.
    pub info: TlsInfo,
    tls13: bool,
    /// Direction of the last application-data record after the handshake.
    last_app: Option<Dir>,
    /// Where the records stand for [`Http2Signs`].
    h2_shape: H2Shape,
    /// Where the server's records stand for [`TicketRun`].
    ticket_shape: TicketShape,
    /// Records or streams that could not be read.
    pub errors: u64,
}

impl TlsConn {
    /// Feeds a segment of direction `dir`.
    pub fn feed(&mut self, dir: Dir, seg: Seg<'_>) {
        let d = dir.index();
        let mut i = 0;
        while i < seg.bytes.len() {
            let Some(st) = self.dirs.get_mut(d) else {
                return;
            };
            if st.dead {
                return;
            }
            let rest = seg.bytes.get(i..).unwrap_or(&[]);
            match &mut st.rec {
                None => {
                    if st.hdr_len == 0 {
                        st.hdr_start = (seg.ts, seg.pos);
                    }
                    let need = 5 - st.hdr_len;
                    let n = need.min(rest.len());
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
                    let [typ, major, _minor, hi, lo] = st.hdr;
                    let len = u16::from_be_bytes([hi, lo]) as usize;
                    if !(CCS..=HEARTBEAT).contains(&typ) || major != 3 || len > MAX_RECORD {
                        st.dead = true;
                        self.errors += 1;
                        return;
                    }
                    let keep = match typ {
                        ALERT => len <= MAX_ALERT_RECORD,
                        HANDSHAKE => !st.hello_done && !st.ccs,
                        _ => false,
                    };
                    st.rec = Some(Record {
                        typ,
                        len,
                        remaining: len,
                        keep,
                        data: Vec::new(),
                        start_ts: st.hdr_start.0,
                        start_pos: st.hdr_start.1,
                    });
                }
                Some(rec) => {
                    let n = rec.remaining.min(rest.len());
                    if rec.keep {
                        rec.data.extend_from_slice(rest.get(..n).unwrap_or(&[]));
                    }
                    rec.remaining -= n;
                    i += n;
                }
            }
            let done = matches!(&st.rec, Some(r) if r.remaining == 0);
            if done {
                if let Some(rec) = st.rec.take() {
                    self.record(dir, rec, seg.ts, seg.pos);
                }
            }
        }
    }

    /// Heap held by the record and handshake buffers of both directions.
    pub fn memory(&self) -> usize {
        self.dirs
            .iter()
            .map(|st| st.hs_buf.capacity() + st.rec.as_ref().map_or(0, |r| r.data.capacity()))
            .sum()
    }

    /// Gives up the records and handshake messages being collected (buffer budget exhausted):
    /// they are skipped as after a gap inside them; returns the bytes freed.
    pub fn release(&mut self) -> usize {
        let freed = self.memory();
        for st in &mut self.dirs {
            if let Some(rec) = &mut st.rec {
                if rec.keep {
                    rec.keep = false;
                    rec.data = Vec::new();
                    if rec.typ == HANDSHAKE {
                        st.hello_done = true;
                    }
                }
            }
            st.hs_buf = Vec::new();
        }
        freed
    }

    /// `len` bytes of direction `dir` are missing.
    pub fn gap(&mut self, dir: Dir, len: u64) {
        let Some(st) = self.dirs.get_mut(dir.index()) else {
            return;
        };
        if st.dead {
            return;
        }
        match &mut st.rec {
            Some(rec) if st.hdr_len == 0 && (len as usize) < rec.remaining => {
                rec.remaining -= len as usize;
                if rec.keep {
                    rec.keep = false;
                    rec.data.clear();
                    if rec.typ == HANDSHAKE {
                        st.hello_done = true;
                        st.hs_buf.clear();
                    }
                }
            }
            _ => {
                st.dead = true;
                self.errors += 1;
            }
        }
    }

    fn record(&mut self, dir: Dir, rec: Record, end_ts: Timestamp, end_pos: PacketPos) {
        let d = dir.index();
        let _ = end_pos;
        match rec.typ {
            CCS => {
                if let Some(st) = self.dirs.get_mut(d) {
                    st.ccs = true;
                }
            }
            ALERT => {
                let after_ccs = self.dirs.get(d).is_some_and(|s| s.ccs);
                if after_ccs && rec.len != 2 || !rec.keep {
                    self.alert(dir, &rec, "encrypted".to_string(), "encrypted".to_string());
                } else {
                    for pair in rec.data.chunks_exact(2) {
                        if let [l, desc] = pair {
                            self.alert(dir, &rec, alert_level(*l), alert_description(*desc));
                        }
                    }
                }
            }
            HANDSHAKE => {
                let Some(st) = self.dirs.get_mut(d) else {
                    return;
                };
                if st.ccs {
                    st.hs_done = true;
                } else if rec.keep {
                    if st.hs_buf.is_empty() {
                        st.hs_start = Some((rec.start_ts, rec.start_pos));
                    }
                    st.hs_buf.extend_from_slice(&rec.data);
                    self.handshake_messages(dir);
                }
            }
            APPDATA => self.app_data(dir, &rec, end_ts),
            _ => {}
        }
    }

    fn alert(&mut self, dir: Dir, rec: &Record, level: String, description: String) {
        if self.info.alerts.len() < MAX_ALERTS {
            self.info.alerts.push(TlsAlertInfo {
                ts: rec.start_ts,
                pos: rec.start_pos,
                dir,
                level,
                description,
            });
        }
    }

    fn app_data(&mut self, dir: Dir, rec: &Record, end_ts: Timestamp) {
        let d = dir.index();
        let any_hello = self.info.client_hello.is_some() || self.info.server_hello.is_some();
        if self.info.established.is_none() && any_hello {
            let both = self.dirs.iter().all(|s| s.hs_done);
            if !both {
                // TLS 1.3: the first encrypted record of each side is (the end of) its handshake.
                if self.tls13 {
                    if let Some(st) = self.dirs.get_mut(d) {
                        st.hs_done = true;
                    }
                }
                return;
            }
            self.info.established = Some(rec.start_ts);
        }
        if self.tls13 {
            self.h2_shape
                .note(&mut self.info.h2_signs, dir, rec.len, self.last_app);
        }
        self.last_app = Some(dir);
        let ticket = self.tls13
            && self
                .ticket_shape
                .note(&mut self.info.tickets, dir, rec.len, any_hello);
        let data = rec.len > super::ALERT_SIZED_RECORD;
        match self.info.bursts.last_mut() {
            Some(b) if b.dir == dir => {
                let data_end = if data { end_ts } else { b.data_last() };
                b.last = end_ts;
                b.tail_us = u32::try_from(end_ts.since(data_end).0 / 1000).unwrap_or(u32::MAX);
                b.tail_bytes = if data {
                    0
                } else {
                    let len = u16::try_from(rec.len).unwrap_or(u16::MAX);
                    b.tail_bytes.saturating_add(len)
                };
                b.bytes = b.bytes.saturating_add(rec.len as u64);
                b.tickets = b.tickets.saturating_add(u8::from(ticket));
            }
            _ => {
                if self.info.bursts.len() < MAX_BURSTS {
                    self.info.bursts.push(TlsBurst {
                        dir,
                        first: rec.start_ts,
                        first_pos: rec.start_pos,
                        last: end_ts,
                        bytes: rec.len as u64,
                        tail_us: 0,
                        tail_bytes: 0,
                        tickets: u8::from(ticket),
                    });
                } else {
                    self.info.bursts_dropped = self.info.bursts_dropped.saturating_add(1);
                }
            }
        }
    }

    fn handshake_messages(&mut self, dir: Dir) {
        let d = dir.index();
        loop {
            let Some(st) = self.dirs.get_mut(d) else {
                return;
            };
            if st.hello_done {
                st.hs_buf = Vec::new();
                return;
            }
            let len = match st.hs_buf.get(1..4) {
                Some([a, b, c]) => u32::from_be_bytes([0, *a, *b, *c]) as usize,
                _ => return,
            };
            if len + 4 > MAX_HANDSHAKE {
                st.hello_done = true;
                self.errors += 1;
                continue;
            }
            if st.hs_buf.len() < len + 4 {
                return;
            }
            let (ts, pos) = st.hs_start.unwrap_or_default();
            let msg: Vec<u8> = st.hs_buf.drain(..len + 4).collect();
            st.hs_start = if st.hs_buf.is_empty() {
                None
            } else {
                st.hs_start
            };
            match parse_tls_message_handshake(&msg) {
                Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch))))
                    if dir == Dir::ToServer =>
                {
                    let mut info = ClientHelloInfo {
                        ts,
                        pos,
                        legacy_version: version_name(ch.version.0),
                        supported_versions: Vec::new(),
                        ciphers: ch
                            .ciphers
                            .iter()
                            .filter(|c| !is_grease(c.0))
                            .map(|c| cipher_name(c.0))
                            .collect(),
                        sni: None,
                        alpn: Vec::new(),
                    };
                    if let Some(Ok((_, exts))) = ch.ext.map(parse_tls_client_hello_extensions) {
                        for e in exts {
                            match e {
                                TlsExtension::SNI(names) => {
                                    info.sni = names
                                        .first()
                                        .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
                                }
                                TlsExtension::ALPN(list) => {
                                    info.alpn = list
                                        .iter()
                                        .map(|p| String::from_utf8_lossy(p).into_owned())
                                        .collect();
                                }
                                TlsExtension::SupportedVersions(vs) => {
                                    info.supported_versions = vs
                                        .iter()
                                        .filter(|v| !is_grease(v.0))
                                        .map(|v| version_name(v.0))
                                        .collect();
                                }
                                _ => {}
                            }
                        }
                    }
                    if self.info.client_hello.is_none() {
                        self.info.client_hello = Some(info);
                    }
                    self.mark_hello_done(d);
                }
                Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ServerHello(sh))))
                    if dir == Dir::ToClient =>
                {
                    if sh.random == HRR_RANDOM {
                        continue;
                    }
                    let mut version = sh.version.0;
                    let mut alpn = None;
                    if let Some(Ok((_, exts))) = sh.ext.map(parse_tls_server_hello_extensions) {
                        for e in exts {
                            match e {
                                TlsExtension::SupportedVersions(vs) => {
                                    if let Some(v) = vs.first() {
                                        version = v.0;
                                    }
                                }
                                TlsExtension::ALPN(list) => {
                                    alpn = list
                                        .first()
                                        .map(|p| String::from_utf8_lossy(p).into_owned());
                                }
                                _ => {}
                            }
                        }
                    }
                    self.tls13 = version == 0x0304;
                    self.info.server_hello = Some(ServerHelloInfo {
                        ts,
                        pos,
                        version: version_name(version),
                        cipher: cipher_name(sh.cipher.0),
                        alpn,
                    });
                    self.mark_hello_done(d);
                }
                Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ServerHelloV13Draft18(sh))))
                    if dir == Dir::ToClient =>
                {
                    self.tls13 = true;
                    self.info.server_hello = Some(ServerHelloInfo {
                        ts,
                        pos,
                        version: version_name(sh.version.0),
                        cipher: cipher_name(sh.cipher.0),
                        alpn: None,
                    });
                    self.mark_hello_done(d);
                }
                Ok(_) => {}
                Err(_) => {
                    self.errors += 1;
                    self.mark_hello_done(d);
                }
            }
        }
    }

    fn mark_hello_done(&mut self, d: usize) {
        if let Some(st) = self.dirs.get_mut(d) {
            st.hello_done = true;
            st.hs_buf = Vec::new();
            st.hs_start = None;
        }
    }
}

/// The record counts [`Http2Signs`] needs, in a TLS 1.3 connection's application data.
#[derive(Clone, Copy, Debug, Default)]
struct H2Shape {
    /// Client records so far (saturating).
    client_records: u8,
    /// Server bursts that began after the client's first record: answers (a server speaking
    /// before the client does sends session tickets, or an HTTP/2 server its SETTINGS).
    answers: u8,
    /// Client records before the first answer.
    client_before_answer: u8,
    /// The current server burst: its plaintext bytes, and whether it is an answer.
    burst_plain: usize,
    burst_answers: bool,
}

/// Where a TLS 1.3 connection's records stand for its [`TicketRun`].
#[derive(Clone, Copy, Debug, Default)]
struct TicketShape {
    /// No more records can join the run.
    closed: bool,
    /// A client record came after the handshake.
    client: bool,
    /// A server record came after a client record: the server's burst after the request.
    answering: bool,
}

impl TicketShape {
    /// Notes an application-data record of `len` bytes from `dir` after the handshake (seen
    /// when `handshake`); true when it joins `run`. A server record joins while the run is
    /// open and it has the run's size (the first: any size in [`TicketRun::RECORD`]); the run
    /// closes at any other server record, and at a client record after a server record that
    /// followed a client record (tickets go out before the server reads the request, so they
    /// end within its first burst after the request at the latest).
    fn note(&mut self, run: &mut TicketRun, dir: Dir, len: usize, handshake: bool) -> bool {
        if !handshake {
            self.closed = true;
        }
        match dir {
            Dir::ToServer => {
                if self.answering {
                    self.closed = true;
                }
                self.client = true;
                false
            }
            Dir::ToClient => {
                self.answering |= self.client;
                let fits = TicketRun::RECORD.contains(&len)
                    && (run.count == 0 || usize::from(run.record) == len);
                if self.closed || !fits || run.count == u8::MAX {
                    self.closed = true;
                    return false;
                }
                run.record = u16::try_from(len).unwrap_or(u16::MAX);
                run.count += 1;
                true
            }
        }
    }
}

/// Most answers before the server's own SETTINGS acknowledgement: it answers the client's
/// preface, which opens the connection, though the two sides' first frames may interleave.
const SERVER_ACK_WITHIN: u8 = 4;
/// Fewest plaintext bytes of any HTTP/1 answer (`HTTP/1.1 100 \r\n\r\n`: a status line
/// with an empty reason and the blank line) and of a TLS 1.3 NewSessionTicket.
const SMALLEST_H1_ANSWER: usize = 17;

impl H2Shape {
    /// Updates `signs` with one application-data record of `len` bytes from `dir`; `last`
    /// is the direction of the record before it.
    ///
    /// A client record of exactly 9 bytes right after a server answer is an HTTP/2 SETTINGS
    /// acknowledgement (RFC 9113 6.5.3) or an HTTP/1.1 request body that the answer let go
    /// on (an interim `100 Continue`, or an early answer). It counts when the answer cannot be
    /// an HTTP/1 one (fewer than [`SMALLEST_H1_ANSWER`] bytes), or when it is the first answer
    /// and the client had sent two records or more before it: its preface, then the frames
    /// of a request (RFC 9113 3.4 lets a client go on without waiting for the server's
    /// preface, and clients do), where a client sending `Expect: 100-continue` waits after its
    /// one record of request headers. A server answer opening with a record of exactly 9
    /// bytes early in the connection is the server's own acknowledgement of the client's
    /// SETTINGS (an HTTP/1 server's answer opens with a status line): a sign that holds when
    /// the client packs its acknowledgement with other frames.
    fn note(&mut self, signs: &mut Http2Signs, dir: Dir, len: usize, last: Option<Dir>) {
        let plain = len.saturating_sub(TLS13_OVERHEAD);
        let opens = last.is_some_and(|l| l != dir);
        match dir {
            Dir::ToServer => {
                if opens && self.burst_answers {
                    let no_h1_answer = self.burst_plain < SMALLEST_H1_ANSWER;
                    let after_preface = self.answers == 1 && self.client_before_answer >= 2;
                    if plain == H2_SETTINGS_ACK && (no_h1_answer || after_preface) {
                        signs.client_settings_acks = signs.client_settings_acks.saturating_add(1);
                    }
                }
                if signs.client_first == 0 {
                    signs.client_first = u16::try_from(plain).unwrap_or(u16::MAX).max(1);
                }
                self.client_records = self.client_records.saturating_add(1);
            }
            Dir::ToClient => {
                if last != Some(Dir::ToClient) {
                    self.burst_plain = 0;
                    self.burst_answers = self.client_records > 0;
                    if self.burst_answers {
                        if self.answers == 0 {
                            self.client_before_answer = self.client_records;
                        }
                        self.answers = self.answers.saturating_add(1);
                        if plain == H2_SETTINGS_ACK && self.answers <= SERVER_ACK_WITHIN {
                            signs.server_settings_acks =
                                signs.server_settings_acks.saturating_add(1);
                        }
                    }
                }
                self.burst_plain = self.burst_plain.saturating_add(plain);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(version_name(0x0303), "TLSv1.2");
        assert_eq!(version_name(0x7f17), "TLSv1.3-draft23");
        assert_eq!(version_name(0x0a0a), "0x0a0a");
        assert_eq!(cipher_name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(cipher_name(0xfefe), "0xfefe");
        assert_eq!(alert_description(40), "handshake_failure");
        assert_eq!(alert_description(200), "unknown(200)");
        assert!(is_grease(0x1a1a));
        assert!(!is_grease(0x1a2a));
    }

    #[test]
    fn oversized_record_stops_the_direction() {
        let mut t = TlsConn::default();
        let seg = Seg {
            ts: Timestamp(1),
            pos: PacketPos::default(),
            offset: 0,
            bytes: &[0x17, 0x03, 0x03, 0xff, 0xff, 0, 0],
        };
        t.feed(Dir::ToServer, seg);
        assert_eq!(t.errors, 1);
        t.feed(Dir::ToServer, seg);
        assert_eq!(t.errors, 1);
    }

    /// A TLS 1.3 connection after its handshake: records of `(dir, length)` in order.
    fn signs_of(records: &[(Dir, usize)]) -> Http2Signs {
        let mut signs = Http2Signs::default();
        let mut shape = H2Shape::default();
        let mut last = None;
        for &(dir, len) in records {
            shape.note(&mut signs, dir, len, last);
            last = Some(dir);
        }
        signs
    }

    #[test]
    fn tls13_record_sizes_show_the_settings_acknowledgement() {
        use Dir::{ToClient as S, ToServer as C};
        // curl --http2 through Caddy (cdy_h2_single 41504): preface+SETTINGS+WINDOW_UPDATE,
        // the server's SETTINGS, HEADERS, WINDOW_UPDATE, the client's SETTINGS ack
        let h2 = signs_of(&[
            (C, 81),
            (S, 50),
            (C, 60),
            (S, 30),
            (C, 26),
            (S, 26),
            (C, 19),
        ]);
        assert_eq!((h2.client_first, h2.client_settings_acks), (64, 1));
        // and the server's own acknowledgement alone (26 bytes) opening its answer
        assert_eq!(h2.server_settings_acks, 1);
        // cdy_h2_single 41502: the ack after the server's first answer (SETTINGS, then its
        // ack packed with a WINDOW_UPDATE), the client having sent its preface and HEADERS
        let first = signs_of(&[(C, 81), (C, 60), (S, 50), (S, 39), (C, 26), (S, 112)]);
        assert_eq!(
            (first.client_settings_acks, first.server_settings_acks),
            (1, 0)
        );
        // 41503: the server's SETTINGS before any client record is no answer
        let early = signs_of(&[(S, 50), (C, 81), (C, 63), (S, 39), (C, 26), (S, 108)]);
        assert_eq!(early.client_settings_acks, 1);
        // an HTTP/2 client packing its ack with a request; the server acks alone
        let packed = signs_of(&[(C, 81), (S, 57), (C, 90), (S, 26), (C, 60), (S, 200)]);
        assert_eq!(
            (packed.client_settings_acks, packed.server_settings_acks),
            (0, 1)
        );
        // HTTP/1.1: a 9-byte body after an interim `100 Continue` (25 bytes) that the client
        // waited for after its one record of headers: no sign
        let h1_9 = signs_of(&[(C, 190), (S, 42), (C, 26), (S, 170), (C, 19)]);
        assert_eq!(
            (h1_9.client_settings_acks, h1_9.server_settings_acks),
            (0, 0)
        );
        // the ack right behind the request (no server data between): not counted
        let behind = signs_of(&[(C, 81), (S, 50), (C, 64), (C, 26), (S, 39)]);
        assert_eq!(behind.client_settings_acks, 0);
        // HTTP/1.1 with a 12-byte body after an interim 100 Continue (cdy_h1_tls13 41606),
        // and a close_notify (2 bytes): neither is 9 bytes
        let h1 = signs_of(&[(C, 189), (S, 42), (S, 42), (C, 29), (S, 153), (C, 19)]);
        assert_eq!((h1.client_first, h1.client_settings_acks), (172, 0));
    }

    #[test]
    fn gap_inside_application_data_keeps_sync() {
        let mut t = TlsConn::default();
        let mk = |b: &'static [u8]| Seg {
            ts: Timestamp(1),
            pos: PacketPos::default(),
            offset: 0,
            bytes: b,
        };
        t.feed(Dir::ToClient, mk(&[0x17, 0x03, 0x03, 0x00, 0x10, 1, 2]));
        t.gap(Dir::ToClient, 12);
        t.feed(Dir::ToClient, mk(&[3, 4, 0x17, 0x03, 0x03, 0x00, 0x01, 9]));
        assert_eq!(t.errors, 0);
        assert_eq!(t.info.bursts.len(), 1);
        assert_eq!(t.info.bursts[0].bytes, 17);
    }

    /// A server burst whose data record is followed by a TLS 1.3 alert-sized record (the
    /// close_notify) 200 ms later: the burst runs to the alert, its data ends at the answer and
    /// holds only the answer's bytes.
    #[test]
    fn trailing_alert_record_is_no_data() {
        let mut t = TlsConn::default();
        let record = |len: u8| {
            let mut r = vec![0x17, 0x03, 0x03, 0x00, len];
            r.resize(5 + usize::from(len), 0);
            r
        };
        let (answer, alert, more) = (record(200), record(19), record(40));
        fn at(ms: i64, bytes: &[u8]) -> Seg<'_> {
            Seg {
                ts: Timestamp(ms * 1_000_000),
                pos: PacketPos::default(),
                offset: 0,
                bytes,
            }
        }
        t.feed(Dir::ToClient, at(10, &answer));
        t.feed(Dir::ToClient, at(210, &alert));
        let b = &t.info.bursts[0];
        assert_eq!((b.last, b.bytes), (Timestamp(210_000_000), 219));
        assert_eq!(b.data_last(), Timestamp(10_000_000));
        assert_eq!(b.data_bytes(), 200);
        // data after the alert: the data end moves to it, the alert's bytes count again
        t.feed(Dir::ToClient, at(300, &more));
        let b = &t.info.bursts[0];
        assert_eq!(b.data_last(), Timestamp(300_000_000));
        assert_eq!((b.bytes, b.data_bytes()), (259, 259));
        // two alerts after it: neither is data
        t.feed(Dir::ToClient, at(310, &alert));
        t.feed(Dir::ToClient, at(320, &alert));
        assert_eq!(t.info.bursts[0].data_bytes(), 259);
    }

    /// The server's records after a TLS 1.3 handshake, `(dir, record length)` in order: the
    /// run of session-ticket-shaped records and how many of them each record joined.
    fn run_of(records: &[(Dir, usize)]) -> (TicketRun, Vec<bool>) {
        let mut run = TicketRun::default();
        let mut shape = TicketShape::default();
        let joined = records
            .iter()
            .map(|&(dir, len)| shape.note(&mut run, dir, len, true))
            .collect();
        (run, joined)
    }

    #[test]
    fn session_tickets_make_a_run_of_equal_records() {
        use Dir::{ToClient as S, ToServer as C};
        // nginx (OpenSSL) tickets after the request that went out with the Finished, then
        // nothing (`return 444`): both join, the run is two records of 266 bytes
        let (run, joined) = run_of(&[(C, 238), (S, 266), (S, 266), (C, 19)]);
        assert_eq!((run.record, run.count), (266, 2));
        assert_eq!(joined, [false, true, true, false]);
        // the tickets and the answer in one burst: the answer (160) closes the run
        let (run, joined) = run_of(&[(C, 118), (S, 266), (S, 266), (S, 160)]);
        assert_eq!((run.record, run.count), (266, 2));
        assert_eq!(joined, [false, true, true, false]);
        // one ticket before the request, the second after it (Python's OpenSSL)
        let (run, _) = run_of(&[(S, 250), (C, 118), (S, 250), (S, 138)]);
        assert_eq!(run.count, 2);
        // a server without tickets answering the same 120 bytes twice on one connection:
        // the second answer follows a second request, after the first answer: no run of two
        let (run, joined) = run_of(&[(C, 232), (S, 120), (C, 232), (S, 120)]);
        assert_eq!(run.count, 1);
        assert_eq!(joined, [false, true, false, false]);
        // an alert-sized record (a close_notify) or a record too big for a ticket is none
        let (run, _) = run_of(&[(C, 238), (S, 19), (S, 266)]);
        assert_eq!(run.count, 0);
        let (run, _) = run_of(&[(C, 238), (S, 9000)]);
        assert_eq!(run.count, 0);
    }

    #[test]
    fn a_burst_of_tickets_only_is_no_answer() {
        let burst = |bytes: u64, tickets: u8| TlsBurst {
            dir: Dir::ToClient,
            first: Timestamp(0),
            first_pos: PacketPos::default(),
            last: Timestamp(0),
            bytes,
            tail_us: 0,
            tail_bytes: 0,
            tickets,
        };
        use super::super::TicketAnswer::*;
        let two = TicketRun {
            record: 266,
            count: 2,
        };
        assert_eq!(two.answer(&burst(532, 2)), TicketsOnly);
        assert_eq!(two.answer(&burst(266, 1)), TicketsOnly);
        assert_eq!(two.answer(&burst(692, 2)), Answer);
        assert_eq!(two.answer(&burst(160, 0)), Answer);
        // a trailing close_notify is no data
        let mut with_alert = burst(551, 2);
        with_alert.tail_bytes = 19;
        assert_eq!(two.answer(&with_alert), TicketsOnly);
        // a run of one: a ticket or a whole answer of that size
        let one = TicketRun {
            record: 250,
            count: 1,
        };
        assert_eq!(one.answer(&burst(250, 1)), TicketOrAnswer);
        assert_eq!(one.answer(&burst(400, 1)), Answer);
    }
}
