//! Hand-built TLS records that look real on the wire: ClientHello (TLS 1.2/1.3 ciphers like an
//! `ELBSecurityPolicy-TLS13-1-2-2021-06`), a TLS 1.3 server flight, opaque application data and
//! fatal alerts. No cryptography: encrypted parts are deterministic random bytes.

use super::rng::SplitMix64;

/// Cipher suites offered by the ALB (TLS 1.3 suites, then ECDHE TLS 1.2 suites).
pub const ELB_POLICY_CIPHERS: [u16; 11] = [
    0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xc023, 0xc027, 0xc024, 0xc028,
];

fn record(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(5 + body.len());
    r.push(content_type);
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![msg_type];
    h.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    h.extend_from_slice(body);
    h
}

fn ext(out: &mut Vec<u8>, typ: u16, data: &[u8]) {
    out.extend_from_slice(&typ.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

fn bytes(rng: &mut SplitMix64, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill(&mut v);
    v
}

/// A ClientHello record offering TLS 1.3 and 1.2 with `ciphers` (SNI when `sni` is given).
pub fn client_hello(rng: &mut SplitMix64, sni: Option<&str>, ciphers: &[u16]) -> Vec<u8> {
    client_hello_alpn(rng, sni, ciphers, &[])
}

/// A ClientHello like [`client_hello`] offering the ALPN protocols `alpn` (none: no ALPN
/// extension).
pub fn client_hello_alpn(
    rng: &mut SplitMix64,
    sni: Option<&str>,
    ciphers: &[u16],
    alpn: &[&str],
) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0x0303u16.to_be_bytes());
    b.extend_from_slice(&bytes(rng, 32));
    b.push(32);
    b.extend_from_slice(&bytes(rng, 32));
    b.extend_from_slice(&((ciphers.len() * 2) as u16).to_be_bytes());
    for c in ciphers {
        b.extend_from_slice(&c.to_be_bytes());
    }
    b.extend_from_slice(&[1, 0]);
    let mut e = Vec::new();
    if let Some(name) = sni {
        let mut d = Vec::new();
        d.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        d.push(0);
        d.extend_from_slice(&(name.len() as u16).to_be_bytes());
        d.extend_from_slice(name.as_bytes());
        ext(&mut e, 0x0000, &d);
    }
    if !alpn.is_empty() {
        let mut list = Vec::new();
        for p in alpn {
            list.push(p.len() as u8);
            list.extend_from_slice(p.as_bytes());
        }
        let mut d = (list.len() as u16).to_be_bytes().to_vec();
        d.extend_from_slice(&list);
        ext(&mut e, 0x0010, &d);
    }
    ext(&mut e, 0x000b, &[1, 0]);
    ext(&mut e, 0x000a, &[0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18]);
    ext(&mut e, 0x0017, &[]);
    ext(
        &mut e,
        0x000d,
        &[0, 16, 4, 3, 5, 3, 6, 3, 8, 4, 8, 5, 8, 6, 4, 1, 5, 1],
    );
    ext(&mut e, 0x002b, &[4, 3, 4, 3, 3]);
    ext(&mut e, 0x002d, &[1, 1]);
    let mut ks = vec![0, 36, 0x00, 0x1d, 0, 32];
    ks.extend_from_slice(&bytes(rng, 32));
    ext(&mut e, 0x0033, &ks);
    ext(&mut e, 0xff01, &[0]);
    b.extend_from_slice(&(e.len() as u16).to_be_bytes());
    b.extend_from_slice(&e);
    record(0x16, 0x0301, &handshake(1, &b))
}

/// The server's TLS 1.3 first flight: ServerHello, ChangeCipherSpec and encrypted handshake
/// records (EncryptedExtensions, Certificate, CertificateVerify, Finished: `cert_len` bytes).
pub fn server_flight(rng: &mut SplitMix64, cert_len: usize) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0x0303u16.to_be_bytes());
    b.extend_from_slice(&bytes(rng, 32));
    b.push(32);
    b.extend_from_slice(&bytes(rng, 32));
    b.extend_from_slice(&0x1301u16.to_be_bytes());
    b.push(0);
    let mut e = Vec::new();
    ext(&mut e, 0x002b, &[3, 4]);
    let mut ks = vec![0x00, 0x1d, 0, 32];
    ks.extend_from_slice(&bytes(rng, 32));
    ext(&mut e, 0x0033, &ks);
    b.extend_from_slice(&(e.len() as u16).to_be_bytes());
    b.extend_from_slice(&e);
    let mut out = record(0x16, 0x0303, &handshake(2, &b));
    out.extend_from_slice(&change_cipher_spec());
    out.extend_from_slice(&app_data(rng, cert_len));
    out
}

/// ChangeCipherSpec record (TLS 1.3 middlebox compatibility).
pub fn change_cipher_spec() -> Vec<u8> {
    record(0x14, 0x0303, &[1])
}

/// The client's second flight: ChangeCipherSpec + encrypted Finished.
pub fn client_finished(rng: &mut SplitMix64) -> Vec<u8> {
    let mut out = change_cipher_spec();
    out.extend_from_slice(&app_data(rng, 36));
    out
}

/// Application-data records carrying `plaintext_len` bytes (16 KB max per record, +17 bytes
/// of AEAD tag and inner content type each).
pub fn app_data(rng: &mut SplitMix64, plaintext_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(plaintext_len + 32);
    let mut left = plaintext_len.max(1);
    while left > 0 {
        let n = left.min(16384);
        out.extend_from_slice(&record(0x17, 0x0303, &bytes(rng, n + 17)));
        left -= n;
    }
    out
}

/// A fatal `handshake_failure` alert (plaintext, TLS 1.2 record version).
pub fn alert_handshake_failure() -> Vec<u8> {
    record(0x15, 0x0303, &[2, 40])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tls_parser::{parse_tls_plaintext, TlsMessage, TlsMessageHandshake};

    #[test]
    fn client_hello_parses() {
        let mut r = SplitMix64::new(1);
        let ch = client_hello(&mut r, Some("api.example.com"), &ELB_POLICY_CIPHERS);
        let (rest, rec) = parse_tls_plaintext(&ch).expect("parse");
        assert!(rest.is_empty());
        let Some(TlsMessage::Handshake(TlsMessageHandshake::ClientHello(h))) = rec.msg.first()
        else {
            panic!("not a ClientHello")
        };
        assert_eq!(h.ciphers.len(), ELB_POLICY_CIPHERS.len());
        let exts = tls_parser::parse_tls_client_hello_extensions(h.ext.unwrap_or_default())
            .expect("extensions");
        assert!(exts.1.len() >= 8);
    }

    #[test]
    fn server_flight_and_alert_parse() {
        let mut r = SplitMix64::new(2);
        let sf = server_flight(&mut r, 2500);
        let (rest, rec) = parse_tls_plaintext(&sf).expect("parse");
        assert!(matches!(
            rec.msg.first(),
            Some(TlsMessage::Handshake(TlsMessageHandshake::ServerHello(_)))
        ));
        assert_eq!(rest.first(), Some(&0x14));
        let alert = alert_handshake_failure();
        let (_, al) = parse_tls_plaintext(&alert).expect("alert");
        assert!(matches!(al.msg.first(), Some(TlsMessage::Alert(_))));
        assert_eq!(app_data(&mut r, 20000).len(), 20000 + 2 * 22);
    }
}
