//! TLS behaviour of the protocol layer, from hand-assembled records.

mod protocol_support;

use albscope::flow::Dir;
use albscope::protocol::{AppKind, ProtocolConfig};
use protocol_support::*;

fn u16b(v: usize) -> [u8; 2] {
    (v as u16).to_be_bytes()
}

fn record(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![typ, 0x03, 0x01];
    r.extend_from_slice(&u16b(body.len()));
    r.extend_from_slice(body);
    r
}

fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len() as u32;
    let mut h = vec![typ, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    h.extend_from_slice(body);
    h
}

fn ext(typ: u16, data: &[u8]) -> Vec<u8> {
    let mut e = typ.to_be_bytes().to_vec();
    e.extend_from_slice(&u16b(data.len()));
    e.extend_from_slice(data);
    e
}

/// A TLS 1.3-capable ClientHello (legacy version TLS 1.2) with SNI, ALPN, supported_versions and
/// a GREASE cipher.
fn client_hello() -> Vec<u8> {
    let mut b = vec![0x03, 0x03];
    b.extend_from_slice(&[7u8; 32]);
    b.push(0); // session id
    let ciphers: [u16; 4] = [0x0a0a, 0x1301, 0xc02f, 0xfefe];
    b.extend_from_slice(&u16b(ciphers.len() * 2));
    for c in ciphers {
        b.extend_from_slice(&c.to_be_bytes());
    }
    b.extend_from_slice(&[1, 0]); // compression: null
    let name = b"api.example.com";
    let mut sni = u16b(name.len() + 3).to_vec();
    sni.push(0);
    sni.extend_from_slice(&u16b(name.len()));
    sni.extend_from_slice(name);
    let mut alpn_list = Vec::new();
    for p in [&b"h2"[..], &b"http/1.1"[..]] {
        alpn_list.push(p.len() as u8);
        alpn_list.extend_from_slice(p);
    }
    let mut alpn = u16b(alpn_list.len()).to_vec();
    alpn.extend_from_slice(&alpn_list);
    let versions = [4u8, 0x03, 0x04, 0x03, 0x03];
    let mut exts = ext(0, &sni);
    exts.extend(ext(16, &alpn));
    exts.extend(ext(43, &versions));
    b.extend_from_slice(&u16b(exts.len()));
    b.extend_from_slice(&exts);
    record(22, &handshake(1, &b))
}

/// A ServerHello choosing `cipher`, optionally TLS 1.3 via supported_versions, with ALPN.
fn server_hello(cipher: u16, tls13: bool) -> Vec<u8> {
    let mut b = vec![0x03, 0x03];
    b.extend_from_slice(&[9u8; 32]);
    b.push(0);
    b.extend_from_slice(&cipher.to_be_bytes());
    b.push(0);
    let mut exts = Vec::new();
    if tls13 {
        exts.extend(ext(43, &[0x03, 0x04]));
    }
    exts.extend(ext(16, &[0, 3, 2, b'h', b'2']));
    b.extend_from_slice(&u16b(exts.len()));
    b.extend_from_slice(&exts);
    record(22, &handshake(2, &b))
}

fn tls_config() -> ProtocolConfig {
    ProtocolConfig::default()
}

#[test]
fn client_and_server_hello_are_parsed() {
    let out = run(&[
        Step::C(0, client_hello()),
        Step::S(3, server_hello(0x1301, true)),
    ]);
    let rec = out.record();
    assert_eq!(rec.app, AppKind::Tls);
    let tls = rec.tls.as_ref().unwrap();
    let ch = tls.client_hello.as_ref().unwrap();
    assert_eq!(ch.ts, ts(0));
    assert_eq!(ch.legacy_version, "TLSv1.2");
    assert_eq!(ch.supported_versions, vec!["TLSv1.3", "TLSv1.2"]);
    assert_eq!(
        ch.ciphers,
        vec![
            "TLS_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "0xfefe"
        ]
    );
    assert_eq!(ch.sni.as_deref(), Some("api.example.com"));
    assert_eq!(ch.alpn, vec!["h2", "http/1.1"]);
    let sh = tls.server_hello.as_ref().unwrap();
    assert_eq!(sh.version, "TLSv1.3");
    assert_eq!(sh.cipher, "TLS_AES_128_GCM_SHA256");
    assert_eq!(sh.alpn.as_deref(), Some("h2"));
    assert_eq!(sh.ts, ts(3));
    assert!(tls.established.is_none());
}

#[test]
fn client_hello_split_across_records_and_segments() {
    // The handshake message in two records, each record cut into 7-byte segments.
    let ch = client_hello();
    let msg = &ch[5..];
    let mut bytes = record(22, &msg[..30]);
    bytes.extend(record(22, &msg[30..]));
    let out = run_split(&[Step::C(0, bytes)], tls_config(), |n| {
        let mut v = vec![7; n / 7];
        if n % 7 > 0 {
            v.push(n % 7);
        }
        v
    });
    let tls = out.record().tls.clone().unwrap();
    assert_eq!(
        tls.client_hello.unwrap().sni.as_deref(),
        Some("api.example.com")
    );
}

#[test]
fn handshake_answered_by_rst_has_client_hello_only() {
    let out = run(&[Step::C(0, client_hello()), Step::Rst(1, Dir::ToClient)]);
    let rec = out.record();
    assert_eq!(rec.app, AppKind::Tls);
    let tls = rec.tls.as_ref().unwrap();
    assert!(tls.client_hello.is_some());
    assert!(tls.server_hello.is_none());
    assert!(tls.alerts.is_empty());
    assert!(tls.established.is_none());
    assert!(out.contexts.is_empty());
}

#[test]
fn handshake_failure_alert() {
    let out = run(&[
        Step::C(0, client_hello()),
        Step::S(2, record(21, &[2, 40])),
        Step::Fin(3, Dir::ToClient),
    ]);
    let tls = out.record().tls.clone().unwrap();
    assert_eq!(tls.alerts.len(), 1);
    let a = &tls.alerts[0];
    assert_eq!(a.level, "fatal");
    assert_eq!(a.description, "handshake_failure");
    assert_eq!(a.dir, Dir::ToClient);
    assert_eq!(a.ts, ts(2));
}

#[test]
fn protocol_version_alert_from_client() {
    let out = run(&[
        Step::C(0, client_hello()),
        Step::S(2, server_hello(0x009c, false)),
        Step::C(3, record(21, &[2, 70])),
    ]);
    let tls = out.record().tls.clone().unwrap();
    assert_eq!(tls.server_hello.unwrap().version, "TLSv1.2");
    assert_eq!(tls.alerts[0].description, "protocol_version");
    assert_eq!(tls.alerts[0].dir, Dir::ToServer);
}

#[test]
fn tls12_established_bursts_and_encrypted_alert() {
    let fin = record(22, &[0xaa; 40]);
    let mut client_flight = record(22, &handshake(16, &[1, 2, 3, 4]));
    client_flight.extend(record(20, &[1]));
    client_flight.extend(fin.clone());
    let mut server_flight = record(20, &[1]);
    server_flight.extend(fin);
    let out = run(&[
        Step::C(0, client_hello()),
        Step::S(1, server_hello(0xc02f, false)),
        Step::C(2, client_flight),
        Step::S(3, server_flight),
        Step::C(10, record(23, &[0; 100])),
        Step::C(11, record(23, &[0; 50])),
        Step::S(20, record(23, &[0; 1000])),
        Step::C(30, record(23, &[0; 80])),
        Step::S(40, record(23, &[0; 300])),
        Step::S(41, record(21, &[0x55; 26])),
    ]);
    let tls = out.record().tls.clone().unwrap();
    assert_eq!(tls.established, Some(ts(10)));
    let b: Vec<(Dir, u64)> = tls.bursts.iter().map(|b| (b.dir, b.bytes)).collect();
    assert_eq!(
        b,
        vec![
            (Dir::ToServer, 150),
            (Dir::ToClient, 1000),
            (Dir::ToServer, 80),
            (Dir::ToClient, 300)
        ]
    );
    assert_eq!(tls.bursts[0].first, ts(10));
    assert_eq!(tls.bursts[0].last, ts(11));
    assert_eq!(tls.alerts.len(), 1);
    assert_eq!(tls.alerts[0].level, "encrypted");
}

#[test]
fn tls13_established_after_both_encrypted_flights() {
    let out = run(&[
        Step::C(0, client_hello()),
        Step::S(
            1,
            [
                server_hello(0x1302, true),
                record(20, &[1]),
                record(23, &[0; 2000]),
            ]
            .concat(),
        ),
        Step::C(2, [record(20, &[1]), record(23, &[0; 53])].concat()),
        Step::C(3, record(23, &[0; 200])),
        Step::S(5, record(23, &[0; 700])),
    ]);
    let tls = out.record().tls.clone().unwrap();
    assert_eq!(
        tls.server_hello.as_ref().unwrap().cipher,
        "TLS_AES_256_GCM_SHA384"
    );
    assert_eq!(tls.established, Some(ts(3)));
    assert_eq!(tls.bursts.len(), 2);
    assert!(out.contexts.is_empty());
}

#[test]
fn garbage_after_tls_header_does_not_panic() {
    let mut bytes = client_hello();
    bytes.extend_from_slice(b"\x16\x03\x01\xff\xffnot a record");
    let out = run(&[Step::C(0, bytes), Step::S(1, b"\x99\x98".to_vec())]);
    assert!(out.record().tls.as_ref().unwrap().client_hello.is_some());
}
