//! TLS behaviour of the protocol layer, from hand-assembled records.

use albscope::flow::Dir;
use albscope::protocol::{AppKind, ProtocolConfig};
use albscope_testkit::protocol_events::*;

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

/// ClientHello from the IETF TLS 1.3 test vectors (draft-thomson-tls-tls13-vectors-01), as used
/// in tls-parser's own tests: real bytes from an implementation, not assembled here.
#[rustfmt::skip]
static TV_CLIENT_HELLO: &[u8] = &[
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0xce, 0x05, 0xcf, 0xa3, 0xd9,
    0x21, 0x70, 0xcb, 0xc2, 0x46, 0x5c, 0xdc, 0x3e, 0x3a, 0x2f, 0x57, 0x7f, 0x6e, 0xac, 0x80, 0x93,
    0x61, 0x70, 0x8a, 0xb2, 0x44, 0xb0, 0x7d, 0x8f, 0xad, 0x86, 0x16, 0x00, 0x00, 0x3e, 0x13, 0x01,
    0x13, 0x03, 0x13, 0x02, 0xc0, 0x2b, 0xc0, 0x2f, 0xcc, 0xa9, 0xcc, 0xa8, 0xc0, 0x0a, 0xc0, 0x09,
    0xc0, 0x13, 0xc0, 0x23, 0xc0, 0x27, 0xc0, 0x14, 0x00, 0x9e, 0xcc, 0xaa, 0x00, 0x33, 0x00, 0x32,
    0x00, 0x67, 0x00, 0x39, 0x00, 0x38, 0x00, 0x6b, 0x00, 0x16, 0x00, 0x13, 0x00, 0x9c, 0x00, 0x2f,
    0x00, 0x3c, 0x00, 0x35, 0x00, 0x3d, 0x00, 0x0a, 0x00, 0x05, 0x00, 0x04, 0x01, 0x00, 0x01, 0x95,
    0x00, 0x15, 0x00, 0xfc, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x0b, 0x00, 0x09, 0x00, 0x00, 0x06, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 0xff,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x0a, 0x00, 0x14, 0x00, 0x12, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18,
    0x00, 0x19, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x0b, 0x00, 0x02,
    0x01, 0x00, 0x00, 0x23, 0x00, 0x00, 0x00, 0x28, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20,
    0x2a, 0x98, 0x1d, 0xb6, 0xcd, 0xd0, 0x2a, 0x06, 0xc1, 0x76, 0x31, 0x02, 0xc9, 0xe7, 0x41, 0x36,
    0x5a, 0xc4, 0xe6, 0xf7, 0x2b, 0x31, 0x76, 0xa6, 0xbd, 0x6a, 0x35, 0x23, 0xd3, 0xec, 0x0f, 0x4c,
    0x00, 0x2b, 0x00, 0x07, 0x06, 0x7f, 0x12, 0x03, 0x03, 0x03, 0x02, 0x00, 0x0d, 0x00, 0x20, 0x00,
    0x1e, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x02, 0x03, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04,
    0x01, 0x05, 0x01, 0x06, 0x01, 0x02, 0x01, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02, 0x02, 0x02, 0x00,
    0x2d, 0x00, 0x02, 0x01, 0x01,
];

#[test]
fn real_client_hello_from_test_vectors() {
    // Cut into three segments at awkward places.
    let out = run(&[
        Step::C(0, TV_CLIENT_HELLO[..3].to_vec()),
        Step::C(1, TV_CLIENT_HELLO[3..200].to_vec()),
        Step::C(2, TV_CLIENT_HELLO[200..].to_vec()),
        Step::S(3, record(21, &[2, 70])),
    ]);
    let rec = out.record();
    assert_eq!(rec.app, AppKind::Tls);
    let tls = rec.tls.as_ref().unwrap();
    let ch = tls.client_hello.as_ref().unwrap();
    assert_eq!(ch.ts, ts(0));
    assert_eq!(ch.legacy_version, "TLSv1.2");
    assert_eq!(ch.sni.as_deref(), Some("server"));
    assert_eq!(
        ch.supported_versions,
        vec!["TLSv1.3-draft18", "TLSv1.2", "TLSv1.1"]
    );
    assert_eq!(ch.ciphers.len(), 31);
    assert_eq!(ch.ciphers[0], "TLS_AES_128_GCM_SHA256");
    assert_eq!(ch.ciphers[3], "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
    assert!(ch.alpn.is_empty());
    assert_eq!(tls.alerts[0].description, "protocol_version");
    assert_eq!(tls.alerts[0].level, "fatal");
}

#[test]
fn mid_stream_application_data_is_tls() {
    let out = run(&[
        Step::C(0, record(23, &[1; 64])),
        Step::S(5, record(23, &[2; 900])),
        Step::S(6, record(23, &[2; 100])),
    ]);
    let rec = out.record();
    assert_eq!(rec.app, AppKind::Tls);
    let tls = rec.tls.as_ref().unwrap();
    assert!(tls.client_hello.is_none());
    let b: Vec<(Dir, u64)> = tls.bursts.iter().map(|b| (b.dir, b.bytes)).collect();
    assert_eq!(b, vec![(Dir::ToServer, 64), (Dir::ToClient, 1000)]);
}

/// The TLS 1.3 conversation the sample-capture builder (`synth`) puts on the wire for an ALB
/// front end: the tracker must see the handshake and one request/response pair of bursts.
#[test]
fn synth_tls13_conversation() {
    use albscope_synth::rng::SplitMix64;
    use albscope_synth::tls as st;
    let mut r = SplitMix64::new(7);
    let ciphers = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f];
    let out = run(&[
        Step::C(
            0,
            st::client_hello(&mut r, Some("shop.example.com"), &ciphers),
        ),
        Step::S(1, st::server_flight(&mut r, 2500)),
        Step::C(2, st::client_finished(&mut r)),
        Step::C(3, st::app_data(&mut r, 300)),
        Step::S(50, st::app_data(&mut r, 20_000)),
        Step::Fin(60, Dir::ToServer),
    ]);
    let tls = out.record().tls.clone().unwrap();
    let ch = tls.client_hello.unwrap();
    assert_eq!(ch.sni.as_deref(), Some("shop.example.com"));
    assert_eq!(ch.supported_versions, vec!["TLSv1.3", "TLSv1.2"]);
    assert_eq!(ch.ciphers.len(), 5);
    let sh = tls.server_hello.unwrap();
    assert_eq!(sh.version, "TLSv1.3");
    assert_eq!(sh.cipher, "TLS_AES_128_GCM_SHA256");
    assert_eq!(tls.established, Some(ts(3)));
    let dirs: Vec<Dir> = tls.bursts.iter().map(|b| b.dir).collect();
    assert_eq!(dirs, vec![Dir::ToServer, Dir::ToClient]);
    assert_eq!(tls.bursts[1].bytes, 20_000 + 2 * 17);
}
