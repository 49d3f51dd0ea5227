//! TLS decryption with a key log: `keylog` reads NSS key logs (`--tls-keylog`, pcapng
//! Decryption Secrets Blocks), `cipher` derives record keys and opens records with RustCrypto's
//! AEADs, `stream` follows one connection's records (across segments and gaps) and yields the
//! application data, which the tracker feeds to the same parsers as clear-text streams.

mod cipher;
mod keylog;
mod stream;
#[doc(hidden)]
pub mod testing;

pub use keylog::{KeyLog, KeyLogProblem, KeyLogProblemKind};
pub(crate) use stream::{Decryptor, Plain};

use crate::capture::PacketPos;
use crate::flow::Dir;
use serde::Serialize;

/// A TLS version's name ("TLSv1.3"; hex when unknown).
pub fn tls_version_name(v: u16) -> String {
    super::tls::version_name(v)
}

/// A cipher suite's IANA name (hex when unknown).
pub fn tls_cipher_name(id: u16) -> String {
    super::tls::cipher_name(id)
}

/// The application protocol negotiated with ALPN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Alpn {
    /// `http/1.1` (or `http/1.0`).
    Http1,
    /// `h2`.
    H2,
    /// Anything else, as sent.
    Other(String),
}

impl Alpn {
    /// The ALPN protocol id as sent on the wire.
    pub fn from_wire(id: &[u8]) -> Alpn {
        match id {
            b"http/1.1" | b"http/1.0" => Alpn::Http1,
            b"h2" => Alpn::H2,
            _ => Alpn::Other(String::from_utf8_lossy(id).into_owned()),
        }
    }
}

/// Whether a TLS connection could be decrypted.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecryptStatus {
    /// The session's keys were found and its records opened.
    Decrypted,
    /// No key log line for this session (its ClientHello.random).
    KeysMissing,
    /// The hellos were not captured (the capture began mid-connection): the session cannot be
    /// looked up.
    #[default]
    HandshakeMissing,
    /// The server never chose a session (no ServerHello: the handshake failed or was cut).
    NotEstablished,
    /// The negotiated cipher suite is not one albscope decrypts (e.g. CBC).
    UnsupportedCipher,
    /// Keys were found but no record opened with them (wrong key, damaged records).
    Failed,
}

/// What decryption did on one connection (present when a key log was given).
#[derive(Clone, Debug, Default)]
pub struct DecryptInfo {
    /// The outcome.
    pub status: DecryptStatus,
    /// Negotiated protocol version (ServerHello, supported_versions).
    pub version: Option<u16>,
    /// Negotiated cipher suite.
    pub cipher: Option<u16>,
    /// ALPN protocol chosen by the server.
    pub alpn: Option<Alpn>,
    /// Records opened (handshake and application data).
    pub records: u64,
    /// Application data bytes decrypted.
    pub plaintext_bytes: u64,
    /// The application data went to a parser (HTTP/1.x); false for a protocol albscope does
    /// not parse yet (HTTP/2): the connection is then reported as opaque bursts.
    pub parsed: bool,
    /// Records that did not authenticate (wrong key, tag mismatch, sequence lost).
    pub failures: u64,
    /// The first of those: direction and packet.
    pub first_failure: Option<(Dir, PacketPos)>,
    /// Records lost (wholly or in part) in capture gaps.
    pub lost_records: u64,
    /// Bytes of records lost in capture gaps (and skipped while resynchronising).
    pub lost_bytes: u64,
    /// Times a record was found again after a gap broke the record framing.
    pub resyncs: u64,
    /// Directions still unsynchronised at the end (their rest was opaque).
    pub unsynced: Vec<Dir>,
    /// TLS 1.3 KeyUpdates followed.
    pub key_updates: u64,
    /// Encrypted handshake records skipped (TLS 1.3 without the handshake secrets).
    pub handshake_records_skipped: u64,
    /// Application-data records that could not be opened because there were no keys.
    pub opaque_records: u64,
    /// Record headers that were not TLS (framing lost).
    pub unreadable_records: u64,
}

impl DecryptInfo {
    /// True when the connection's records were decrypted.
    pub fn decrypted(&self) -> bool {
        self.status == DecryptStatus::Decrypted
    }
}
