//! The NSS key log format (`SSLKEYLOGFILE`): one secret per line, `LABEL <client random>
//! <secret>` in hex, `#` comments. Read from files given with `--tls-keylog` and from pcapng
//! Decryption Secrets Blocks.

use std::collections::HashMap;
use std::fmt;

/// The secrets logged for one TLS session (keyed by its ClientHello.random).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionSecrets {
    /// TLS 1.2 and older: `CLIENT_RANDOM` (the 48-byte master secret).
    pub master: Option<Vec<u8>>,
    /// TLS 1.3 `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    pub client_handshake: Option<Vec<u8>>,
    /// TLS 1.3 `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub server_handshake: Option<Vec<u8>>,
    /// TLS 1.3 `CLIENT_TRAFFIC_SECRET_0`.
    pub client_traffic: Option<Vec<u8>>,
    /// TLS 1.3 `SERVER_TRAFFIC_SECRET_0`.
    pub server_traffic: Option<Vec<u8>>,
}

/// Why a key log line was not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyLogProblemKind {
    /// Not `LABEL RANDOM SECRET`.
    NotThreeFields,
    /// The client random is not 32 bytes of hex.
    BadClientRandom,
    /// The secret is not hex, or empty.
    BadSecret,
    /// The line is not UTF-8.
    NotText,
}

/// A malformed line of a key log, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLogProblem {
    /// The key log's name (file path, or the capture's for a Decryption Secrets Block).
    pub source: String,
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub kind: KeyLogProblemKind,
}

impl fmt::Display for KeyLogProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            KeyLogProblemKind::NotThreeFields => "not a key log line (LABEL CLIENT_RANDOM SECRET)",
            KeyLogProblemKind::BadClientRandom => "the client random is not 64 hex digits",
            KeyLogProblemKind::BadSecret => "the secret is not hex",
            KeyLogProblemKind::NotText => "not text",
        };
        write!(f, "{}:{}: {what}; line ignored", self.source, self.line)
    }
}

/// Every session secret read, by client random.
#[derive(Clone, Debug, Default)]
pub struct KeyLog {
    sessions: HashMap<[u8; 32], SessionSecrets>,
    /// Lines read that held a secret (including labels albscope does not use).
    pub lines: u64,
}

impl KeyLog {
    /// No secrets.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Sessions with at least one secret.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// The secrets of the session whose ClientHello.random is `random`.
    pub fn get(&self, random: &[u8; 32]) -> Option<&SessionSecrets> {
        self.sessions.get(random)
    }

    /// Adds the lines of `text` (named `source` in problems); returns the malformed lines.
    /// Unknown labels (early secrets, exporter secrets, other protocols) are skipped silently.
    pub fn add_text(&mut self, source: &str, text: &[u8]) -> Vec<KeyLogProblem> {
        let mut problems = Vec::new();
        for (i, raw) in text.split(|b| *b == b'\n').enumerate() {
            let problem = |kind| KeyLogProblem {
                source: source.to_string(),
                line: i as u64 + 1,
                kind,
            };
            let Ok(line) = std::str::from_utf8(raw) else {
                problems.push(problem(KeyLogProblemKind::NotText));
                continue;
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [label, random, secret] = fields.as_slice() else {
                problems.push(problem(KeyLogProblemKind::NotThreeFields));
                continue;
            };
            let Some(random) = hex(random).and_then(|r| <[u8; 32]>::try_from(r).ok()) else {
                problems.push(problem(KeyLogProblemKind::BadClientRandom));
                continue;
            };
            let Some(secret) = hex(secret).filter(|s| !s.is_empty()) else {
                problems.push(problem(KeyLogProblemKind::BadSecret));
                continue;
            };
            self.lines += 1;
            let Some(field) = Field::of(label) else {
                continue;
            };
            let entry = self.sessions.entry(random).or_default();
            *field.slot(entry) = Some(secret);
        }
        problems
    }

    /// Adds every session of `other`.
    pub fn merge(&mut self, other: &KeyLog) {
        self.lines += other.lines;
        for (random, s) in &other.sessions {
            let e = self.sessions.entry(*random).or_default();
            let pairs = [
                (&mut e.master, &s.master),
                (&mut e.client_handshake, &s.client_handshake),
                (&mut e.server_handshake, &s.server_handshake),
                (&mut e.client_traffic, &s.client_traffic),
                (&mut e.server_traffic, &s.server_traffic),
            ];
            for (dst, src) in pairs {
                if src.is_some() {
                    dst.clone_from(src);
                }
            }
        }
    }
}

/// The secrets albscope uses, by key log label.
#[derive(Copy, Clone)]
enum Field {
    Master,
    ClientHandshake,
    ServerHandshake,
    ClientTraffic,
    ServerTraffic,
}

impl Field {
    fn of(label: &str) -> Option<Field> {
        Some(match label {
            "CLIENT_RANDOM" => Field::Master,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Field::ClientHandshake,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => Field::ServerHandshake,
            "CLIENT_TRAFFIC_SECRET_0" => Field::ClientTraffic,
            "SERVER_TRAFFIC_SECRET_0" => Field::ServerTraffic,
            _ => return None,
        })
    }

    fn slot(self, s: &mut SessionSecrets) -> &mut Option<Vec<u8>> {
        match self {
            Field::Master => &mut s.master,
            Field::ClientHandshake => &mut s.client_handshake,
            Field::ServerHandshake => &mut s.server_handshake,
            Field::ClientTraffic => &mut s.client_traffic,
            Field::ServerTraffic => &mut s.server_traffic,
        }
    }
}

/// Hex digits to bytes (`None` for odd length or a non-hex digit).
fn hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    b.chunks_exact(2)
        .map(|p| {
            let d = |c: u8| (c as char).to_digit(16);
            Some((d(*p.first()?)? * 16 + d(*p.get(1)?)?) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_labels_and_reports_bad_lines_with_their_number() {
        let r = "ab".repeat(32);
        let text = format!(
            "# comment\nCLIENT_RANDOM {r} {m}\nSERVER_TRAFFIC_SECRET_0 {r} 0102\nEXPORTER_SECRET {r} 03\n\
             CLIENT_RANDOM zz 00\nCLIENT_RANDOM {r}\nCLIENT_RANDOM {r} xyz\n",
            m = "11".repeat(48)
        );
        let mut log = KeyLog::default();
        let problems = log.add_text("k.log", text.as_bytes());
        let lines: Vec<(u64, KeyLogProblemKind)> =
            problems.iter().map(|p| (p.line, p.kind.clone())).collect();
        assert_eq!(
            lines,
            vec![
                (5, KeyLogProblemKind::BadClientRandom),
                (6, KeyLogProblemKind::NotThreeFields),
                (7, KeyLogProblemKind::BadSecret),
            ]
        );
        assert_eq!(
            problems[0].to_string(),
            "k.log:5: the client random is not 64 hex digits; line ignored"
        );
        let s = log.get(&[0xab; 32]).unwrap();
        assert_eq!(s.master.as_deref(), Some(&[0x11; 48][..]));
        assert_eq!(s.server_traffic.as_deref(), Some(&[1, 2][..]));
        assert_eq!(log.sessions(), 1);
        let mut other = KeyLog::default();
        other.merge(&log);
        assert_eq!(other.get(&[0xab; 32]), Some(s));
    }
}
