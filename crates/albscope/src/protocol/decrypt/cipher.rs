//! Record protection of the supported cipher suites: key derivation (TLS 1.3 HKDF-Expand-Label,
//! TLS 1.2 PRF) and opening one record with the suite's AEAD. The primitives are RustCrypto's
//! (`aes-gcm`, `chacha20poly1305`, `hkdf`, `hmac`, `sha2`); nothing here is cipher code.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384};

/// The hash of a suite (HKDF / PRF).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum HashAlg {
    Sha256,
    Sha384,
}

impl HashAlg {
    /// Output length in bytes.
    pub(crate) fn len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }
}

/// The AEAD of a suite.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum AeadAlg {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

impl AeadAlg {
    fn key_len(self) -> usize {
        match self {
            AeadAlg::Aes128Gcm => 16,
            AeadAlg::Aes256Gcm | AeadAlg::ChaCha20Poly1305 => 32,
        }
    }
}

/// A cipher suite albscope can decrypt.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Suite {
    pub id: u16,
    pub aead: AeadAlg,
    pub hash: HashAlg,
    /// TLS 1.3 suite (else a TLS 1.2 AEAD suite).
    pub tls13: bool,
}

impl Suite {
    /// The suite of IANA number `id`, when supported.
    pub(crate) fn from_id(id: u16) -> Option<Suite> {
        use AeadAlg::*;
        use HashAlg::*;
        let (aead, hash, tls13) = match id {
            0x1301 => (Aes128Gcm, Sha256, true),
            0x1302 => (Aes256Gcm, Sha384, true),
            0x1303 => (ChaCha20Poly1305, Sha256, true),
            // (EC)DHE and RSA key exchange with AES-GCM (RFC 5288, 5289).
            0x009c | 0x009e | 0x00a2 | 0xc02b | 0xc02f | 0xc02d | 0xc031 => {
                (Aes128Gcm, Sha256, false)
            }
            0x009d | 0x009f | 0x00a3 | 0xc02c | 0xc030 | 0xc02e | 0xc032 => {
                (Aes256Gcm, Sha384, false)
            }
            // ChaCha20-Poly1305 (RFC 7905).
            0xcca8..=0xccaa => (ChaCha20Poly1305, Sha256, false),
            _ => return None,
        };
        Some(Suite {
            id,
            aead,
            hash,
            tls13,
        })
    }

    /// Fixed IV bytes of a TLS 1.2 suite (the GCM salt is 4, ChaCha20's IV 12).
    fn tls12_iv_len(self) -> usize {
        match self.aead {
            AeadAlg::ChaCha20Poly1305 => 12,
            _ => 4,
        }
    }
}

/// HKDF-Expand-Label(secret, label, "", len) of RFC 8446 7.1; `None` when `secret` is shorter
/// than the hash.
pub(crate) fn expand_label(
    hash: HashAlg,
    secret: &[u8],
    label: &str,
    len: usize,
) -> Option<Vec<u8>> {
    let full = [b"tls13 ", label.as_bytes()].concat();
    let mut info = Vec::with_capacity(4 + full.len());
    info.extend_from_slice(&u16::try_from(len).ok()?.to_be_bytes());
    info.push(u8::try_from(full.len()).ok()?);
    info.extend_from_slice(&full);
    info.push(0);
    let mut out = vec![0u8; len];
    match hash {
        HashAlg::Sha256 => Hkdf::<Sha256>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .ok()?,
        HashAlg::Sha384 => Hkdf::<Sha384>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .ok()?,
    }
    Some(out)
}

/// P_hash of the TLS 1.2 PRF (RFC 5246 5): `len` bytes from `secret`, `label` and `seed`.
pub(crate) fn prf(hash: HashAlg, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    macro_rules! p_hash {
        ($h:ty) => {{
            let seed = [label, seed].concat();
            let mut out = Vec::with_capacity(len + 48);
            let Ok(mac) = <Hmac<$h> as Mac>::new_from_slice(secret) else {
                return out;
            };
            let mut a = seed.clone();
            while out.len() < len {
                let mut m = mac.clone();
                m.update(&a);
                a = m.finalize().into_bytes().to_vec();
                let mut m = mac.clone();
                m.update(&a);
                m.update(&seed);
                out.extend_from_slice(&m.finalize().into_bytes());
            }
            out.truncate(len);
            out
        }};
    }
    match hash {
        HashAlg::Sha256 => p_hash!(Sha256),
        HashAlg::Sha384 => p_hash!(Sha384),
    }
}

/// An AEAD instance with its key.
enum Aead {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

impl Aead {
    fn new(alg: AeadAlg, key: &[u8]) -> Option<Aead> {
        Some(match alg {
            AeadAlg::Aes128Gcm => Aead::Aes128(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            AeadAlg::Aes256Gcm => Aead::Aes256(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
            AeadAlg::ChaCha20Poly1305 => {
                Aead::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?))
            }
        })
    }

    /// Encrypts `buf` in place, appending the tag (test support: building records).
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut Vec<u8>) -> bool {
        let nonce = Nonce::from_slice(nonce);
        match self {
            Aead::Aes128(a) => a.encrypt_in_place(nonce, aad, buf).is_ok(),
            Aead::Aes256(a) => a.encrypt_in_place(nonce, aad, buf).is_ok(),
            Aead::ChaCha(a) => a.encrypt_in_place(nonce, aad, buf).is_ok(),
        }
    }

    /// Decrypts `buf` (ciphertext and tag) in place; false when the tag does not verify.
    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut Vec<u8>) -> bool {
        let nonce = Nonce::from_slice(nonce);
        match self {
            Aead::Aes128(a) => a.decrypt_in_place(nonce, aad, buf).is_ok(),
            Aead::Aes256(a) => a.decrypt_in_place(nonce, aad, buf).is_ok(),
            Aead::ChaCha(a) => a.decrypt_in_place(nonce, aad, buf).is_ok(),
        }
    }
}

/// AEAD tag length of every supported suite.
pub(crate) const TAG_LEN: usize = 16;
/// Explicit nonce carried in TLS 1.2 AES-GCM records.
const EXPLICIT_NONCE_LEN: usize = 8;

/// The read state of one direction: AEAD key, IV and the next record's sequence number.
pub(crate) struct RecordCipher {
    aead: Aead,
    iv: [u8; 12],
    /// TLS 1.2 GCM: the IV is a 4-byte salt followed by the record's explicit nonce.
    explicit_nonce: bool,
    tls13: bool,
    /// Sequence number of the next record.
    pub seq: u64,
    /// The TLS 1.3 traffic secret the keys came from (for KeyUpdate).
    secret: Vec<u8>,
    hash: HashAlg,
    alg: AeadAlg,
}

impl std::fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordCipher")
            .field("tls13", &self.tls13)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// What [`RecordCipher::open`] returned: the plaintext and its (inner) content type.
pub(crate) struct Opened {
    pub content_type: u8,
    pub plaintext: Vec<u8>,
}

impl RecordCipher {
    /// TLS 1.3 read keys from a traffic secret (RFC 8446 7.3).
    pub(crate) fn tls13(suite: Suite, secret: &[u8]) -> Option<RecordCipher> {
        let key = expand_label(suite.hash, secret, "key", suite.aead.key_len())?;
        let iv = expand_label(suite.hash, secret, "iv", 12)?;
        Some(RecordCipher {
            aead: Aead::new(suite.aead, &key)?,
            iv: iv.try_into().ok()?,
            explicit_nonce: false,
            tls13: true,
            seq: 0,
            secret: secret.to_vec(),
            hash: suite.hash,
            alg: suite.aead,
        })
    }

    /// TLS 1.2 read keys of both directions (client's, server's) from the master secret
    /// (RFC 5246 6.3; AEAD suites have no MAC keys).
    pub(crate) fn tls12_pair(
        suite: Suite,
        master: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
    ) -> Option<(RecordCipher, RecordCipher)> {
        let key_len = suite.aead.key_len();
        let iv_len = suite.tls12_iv_len();
        let seed = [&server_random[..], &client_random[..]].concat();
        let block = prf(
            suite.hash,
            master,
            b"key expansion",
            &seed,
            2 * (key_len + iv_len),
        );
        let (ck, rest) = block.split_at_checked(key_len)?;
        let (sk, rest) = rest.split_at_checked(key_len)?;
        let (civ, siv) = rest.split_at_checked(iv_len)?;
        let make = |key: &[u8], fixed: &[u8]| -> Option<RecordCipher> {
            let mut iv = [0u8; 12];
            iv.get_mut(..fixed.len())?.copy_from_slice(fixed);
            Some(RecordCipher {
                aead: Aead::new(suite.aead, key)?,
                iv,
                explicit_nonce: suite.aead != AeadAlg::ChaCha20Poly1305,
                tls13: false,
                seq: 0,
                secret: Vec::new(),
                hash: suite.hash,
                alg: suite.aead,
            })
        };
        Some((make(ck, civ)?, make(sk, siv)?))
    }

    /// Bytes a record body carries beyond its plaintext (explicit nonce, tag, TLS 1.3 inner
    /// content type; padding is not counted).
    pub(crate) fn overhead(&self) -> u64 {
        let nonce = if self.explicit_nonce {
            EXPLICIT_NONCE_LEN
        } else {
            0
        };
        (TAG_LEN + nonce + usize::from(self.tls13)) as u64
    }

    /// The keys after a TLS 1.3 KeyUpdate (RFC 8446 7.2), sequence number 0.
    pub(crate) fn updated(&self) -> Option<RecordCipher> {
        let next = expand_label(self.hash, &self.secret, "traffic upd", self.hash.len())?;
        let suite = Suite {
            id: 0,
            aead: self.alg,
            hash: self.hash,
            tls13: true,
        };
        RecordCipher::tls13(suite, &next)
    }

    /// Opens the record with header `header` (type, version, length) and body `body` under
    /// sequence number `seq`; `None` when it does not authenticate (wrong key, wrong sequence
    /// number, damaged bytes).
    pub(crate) fn open_at(&self, seq: u64, header: &[u8; 5], body: &[u8]) -> Option<Opened> {
        let mut nonce = self.iv;
        let (mut buf, aad) = if self.tls13 {
            xor_seq(&mut nonce, seq);
            (body.to_vec(), header.to_vec())
        } else {
            let ciphertext = if self.explicit_nonce {
                let explicit = body.get(..EXPLICIT_NONCE_LEN)?;
                nonce.get_mut(4..)?.copy_from_slice(explicit);
                body.get(EXPLICIT_NONCE_LEN..)?
            } else {
                xor_seq(&mut nonce, seq);
                body
            };
            let plain_len = u16::try_from(ciphertext.len().checked_sub(TAG_LEN)?).ok()?;
            let mut aad = Vec::with_capacity(13);
            aad.extend_from_slice(&seq.to_be_bytes());
            aad.extend_from_slice(header.get(..3)?);
            aad.extend_from_slice(&plain_len.to_be_bytes());
            (ciphertext.to_vec(), aad)
        };
        if buf.len() < TAG_LEN || !self.aead.open(&nonce, &aad, &mut buf) {
            return None;
        }
        if self.tls13 {
            // TLSInnerPlaintext: content, type, zero padding.
            let end = buf.iter().rposition(|b| *b != 0)?;
            let content_type = *buf.get(end)?;
            buf.truncate(end);
            Some(Opened {
                content_type,
                plaintext: buf,
            })
        } else {
            Some(Opened {
                content_type: header[0],
                plaintext: buf,
            })
        }
    }

    /// Builds the record carrying `plaintext` of `content_type` under the next sequence number
    /// (test support: the inverse of [`RecordCipher::open_at`]); `None` for a plaintext too
    /// long for one record.
    pub(crate) fn seal_next(&mut self, content_type: u8, plaintext: &[u8]) -> Option<Vec<u8>> {
        let seq = self.seq;
        let mut nonce = self.iv;
        let overhead = usize::try_from(self.overhead()).ok()?;
        let body_len = u16::try_from(plaintext.len() + overhead).ok()?;
        let outer = if self.tls13 { 23 } else { content_type };
        let header = [outer, 3, 3, (body_len >> 8) as u8, body_len as u8];
        let mut buf = plaintext.to_vec();
        let mut record = header.to_vec();
        let aad = if self.tls13 {
            buf.push(content_type);
            xor_seq(&mut nonce, seq);
            header.to_vec()
        } else {
            if self.explicit_nonce {
                nonce.get_mut(4..)?.copy_from_slice(&seq.to_be_bytes());
                record.extend_from_slice(&seq.to_be_bytes());
            } else {
                xor_seq(&mut nonce, seq);
            }
            let mut aad = seq.to_be_bytes().to_vec();
            aad.extend_from_slice(&[content_type, 3, 3]);
            aad.extend_from_slice(&u16::try_from(plaintext.len()).ok()?.to_be_bytes());
            aad
        };
        if !self.aead.seal(&nonce, &aad, &mut buf) {
            return None;
        }
        record.extend_from_slice(&buf);
        self.seq += 1;
        Some(record)
    }

    /// The explicit nonce of a TLS 1.2 GCM record, read as a number (OpenSSL and most stacks
    /// send the sequence number there: a first guess after a gap).
    pub(crate) fn explicit_seq(&self, body: &[u8]) -> Option<u64> {
        if !self.explicit_nonce {
            return None;
        }
        let b: [u8; 8] = body.get(..EXPLICIT_NONCE_LEN)?.try_into().ok()?;
        Some(u64::from_be_bytes(b))
    }
}

/// XORs the sequence number into the last 8 bytes of the nonce (RFC 8446 5.3, RFC 7905 2).
fn xor_seq(nonce: &mut [u8; 12], seq: u64) {
    for (n, s) in nonce.iter_mut().skip(4).zip(seq.to_be_bytes()) {
        *n ^= s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8448 3 (simple 1-RTT handshake): the server's handshake and application traffic
    /// keys and IVs from their secrets.
    #[test]
    fn rfc8448_traffic_keys() {
        let hs = hex("b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38");
        assert_eq!(
            expand_label(HashAlg::Sha256, &hs, "key", 16).unwrap(),
            hex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc")
        );
        assert_eq!(
            expand_label(HashAlg::Sha256, &hs, "iv", 12).unwrap(),
            hex("5d 31 3e b2 67 12 76 ee 13 00 0b 30")
        );
        let ap = hex("a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43");
        assert_eq!(
            expand_label(HashAlg::Sha256, &ap, "key", 16).unwrap(),
            hex("9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56")
        );
        assert_eq!(
            expand_label(HashAlg::Sha256, &ap, "iv", 12).unwrap(),
            hex("cf 78 2b 88 dd 83 54 9a ad f1 e9 84")
        );
        // A secret shorter than the hash is refused, not a panic.
        assert!(expand_label(HashAlg::Sha384, &ap, "key", 32).is_none());
    }

    #[test]
    fn unknown_suites_are_not_decryptable() {
        assert!(Suite::from_id(0x002f).is_none());
        assert!(Suite::from_id(0x1301).is_some_and(|s| s.tls13));
        assert!(Suite::from_id(0xc030).is_some_and(|s| s.hash == HashAlg::Sha384));
    }

    #[test]
    fn tls12_prf_is_deterministic_and_sized() {
        let a = prf(HashAlg::Sha256, b"secret", b"label", b"seed", 100);
        assert_eq!(a.len(), 100);
        assert_eq!(a, prf(HashAlg::Sha256, b"secret", b"label", b"seed", 100));
        assert_eq!(
            prf(HashAlg::Sha384, b"secret", b"label", b"seed", 7).len(),
            7
        );
        // The TLS 1.2 PRF (SHA-256) test vector circulated on the IETF TLS list.
        let out = prf(
            HashAlg::Sha256,
            &hex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35"),
            b"test label",
            &hex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c"),
            100,
        );
        assert_eq!(out[..8], hex("e3 f2 29 ba 72 7b e1 7b")[..]);
    }
}
