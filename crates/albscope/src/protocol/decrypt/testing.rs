//! Test support (hidden from the API): builds a TLS 1.3 or 1.2 session's records with known
//! secrets, so tests and fuzz targets can feed real protected records to the decryptor.

use super::cipher::{RecordCipher, Suite};
use super::keylog::KeyLog;

/// One side's record writer with the keys the session's key log names.
pub struct Sealer {
    cipher: RecordCipher,
}

impl Sealer {
    /// Seals `plaintext` of `content_type` (23 application data, 22 handshake, 21 alert) into
    /// the next record; `None` when it does not fit one record.
    pub fn seal(&mut self, content_type: u8, plaintext: &[u8]) -> Option<Vec<u8>> {
        self.cipher.seal_next(content_type, plaintext)
    }

    /// Sends a TLS 1.3 KeyUpdate and switches to the next keys (RFC 8446 7.2): the record
    /// carrying the message, under the current keys; `None` when not TLS 1.3.
    pub fn key_update(&mut self) -> Option<Vec<u8>> {
        let next = self.cipher.updated()?;
        let record = self.cipher.seal_next(22, &[24, 0, 0, 1, 0])?;
        self.cipher = next;
        Some(record)
    }
}

/// A TLS session with fixed randoms and secrets: its hellos, its key log and its sealers.
pub struct Session {
    /// The suite's IANA number.
    pub suite: u16,
    /// TLS 1.3 (else 1.2).
    pub tls13: bool,
    client_random: [u8; 32],
    server_random: [u8; 32],
    secret: u8,
}

impl Session {
    /// A session of suite `suite` (a TLS 1.3 suite, or a TLS 1.2 AEAD suite); `seed` varies
    /// the randoms and secrets. `None` for a suite albscope does not decrypt.
    pub fn new(suite: u16, seed: u8) -> Option<Session> {
        let s = Suite::from_id(suite)?;
        Some(Session {
            suite,
            tls13: s.tls13,
            client_random: [seed ^ 0xc1; 32],
            server_random: [seed ^ 0x5e; 32],
            secret: seed,
        })
    }

    fn hash_len(&self) -> usize {
        Suite::from_id(self.suite).map_or(32, |s| s.hash.len())
    }

    fn secret(&self, label: u8) -> Vec<u8> {
        vec![self.secret.wrapping_add(label); self.hash_len()]
    }

    /// The NSS key log lines of the session.
    pub fn key_log(&self) -> String {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let cr = hex(&self.client_random);
        if self.tls13 {
            [
                ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", 1),
                ("SERVER_HANDSHAKE_TRAFFIC_SECRET", 2),
                ("CLIENT_TRAFFIC_SECRET_0", 3),
                ("SERVER_TRAFFIC_SECRET_0", 4),
            ]
            .iter()
            .map(|(l, n)| format!("{l} {cr} {}\n", hex(&self.secret(*n))))
            .collect()
        } else {
            format!("CLIENT_RANDOM {cr} {}\n", hex(&[self.secret; 48]))
        }
    }

    /// The key log, parsed.
    pub fn keys(&self) -> KeyLog {
        let mut k = KeyLog::default();
        k.add_text("session", self.key_log().as_bytes());
        k
    }

    /// The ClientHello record.
    pub fn client_hello(&self) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&self.client_random);
        body.push(0);
        body.extend_from_slice(&[0, 2]);
        body.extend_from_slice(&self.suite.to_be_bytes());
        body.extend_from_slice(&[1, 0]);
        let ext: &[u8] = if self.tls13 {
            &[0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]
        } else {
            &[]
        };
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(ext);
        handshake_record(1, &body)
    }

    /// The ServerHello record.
    pub fn server_hello(&self) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&self.server_random);
        body.push(0);
        body.extend_from_slice(&self.suite.to_be_bytes());
        body.push(0);
        let ext: &[u8] = if self.tls13 {
            &[0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]
        } else {
            &[]
        };
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(ext);
        handshake_record(2, &body)
    }

    /// The sealers of (client, server): TLS 1.3 handshake keys, TLS 1.2 keys (used after
    /// ChangeCipherSpec).
    pub fn handshake_sealers(&self) -> Option<(Sealer, Sealer)> {
        let suite = Suite::from_id(self.suite)?;
        if self.tls13 {
            Some((
                Sealer {
                    cipher: RecordCipher::tls13(suite, &self.secret(1))?,
                },
                Sealer {
                    cipher: RecordCipher::tls13(suite, &self.secret(2))?,
                },
            ))
        } else {
            let (c, s) = RecordCipher::tls12_pair(
                suite,
                &[self.secret; 48],
                &self.client_random,
                &self.server_random,
            )?;
            Some((Sealer { cipher: c }, Sealer { cipher: s }))
        }
    }

    /// TLS 1.3 application-data sealers of (client, server).
    pub fn application_sealers(&self) -> Option<(Sealer, Sealer)> {
        let suite = Suite::from_id(self.suite)?;
        Some((
            Sealer {
                cipher: RecordCipher::tls13(suite, &self.secret(3))?,
            },
            Sealer {
                cipher: RecordCipher::tls13(suite, &self.secret(4))?,
            },
        ))
    }
}

/// A handshake record with one message of type `typ`.
fn handshake_record(typ: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len() as u32;
    let mut msg = vec![typ];
    msg.extend_from_slice(&len.to_be_bytes()[1..]);
    msg.extend_from_slice(body);
    let mut rec = vec![22, 3, 1];
    rec.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    rec.extend_from_slice(&msg);
    rec
}
