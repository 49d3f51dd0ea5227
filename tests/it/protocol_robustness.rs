//! Arbitrary and HTTP/TLS-like byte streams in both directions: never a panic, state always
//! freed, and results independent of how the streams are cut into segments.

use albscope::flow::Dir;
use albscope::protocol::ProtocolConfig;
use albscope_testkit::protocol_events::*;
use proptest::prelude::*;

const FRAGMENTS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"HEAD /h HTTP/1.1\r\n\r\n",
    b"POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
    b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    b"3\r\nabc\r\n",
    b"0\r\n\r\n",
    b"0\r\nT: 1\r\n\r\n",
    b"hello",
    b"\r\n",
    b"HTTP/1.1 2",
    b"\x16\x03\x01\x00\x05",
    b"\x15\x03\x03\x00\x02\x02\x28",
    b"\x17\x03\x03\x00\x03abc",
    b"\x14\x03\x03\x00\x01\x01",
    b"\x00\xff",
];

fn step() -> impl Strategy<Value = Step> {
    let bytes = prop_oneof![
        4 => proptest::sample::select(FRAGMENTS).prop_map(|f| f.to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..40),
    ];
    (0u8..10, bytes, 0u64..300).prop_map(|(k, b, len)| match k {
        0..=3 => Step::C(0, b),
        4..=7 => Step::S(0, b),
        8 => Step::Gap(
            0,
            if len % 2 == 0 {
                Dir::ToServer
            } else {
                Dir::ToClient
            },
            len,
        ),
        _ => {
            if len % 3 == 0 {
                Step::Rst(0, Dir::ToClient)
            } else {
                Step::Fin(
                    0,
                    if len % 2 == 0 {
                        Dir::ToServer
                    } else {
                        Dir::ToClient
                    },
                )
            }
        }
    })
}

fn timed(mut steps: Vec<Step>) -> Vec<Step> {
    for (i, s) in steps.iter_mut().enumerate() {
        let t = i as i64 * 10;
        match s {
            Step::C(ms, _)
            | Step::S(ms, _)
            | Step::Fin(ms, _)
            | Step::Rst(ms, _)
            | Step::Gap(ms, _, _) => *ms = t,
        }
    }
    steps
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn arbitrary_streams_are_split_invariant(
        steps in proptest::collection::vec(step(), 0..30),
        cut in 1usize..9,
    ) {
        let steps = timed(steps);
        let whole = fingerprint(&run(&steps));
        let split = fingerprint(&run_split(&steps, ProtocolConfig::default(), |n| {
            let mut v = vec![cut; n / cut];
            if n % cut > 0 { v.push(n % cut); }
            v
        }));
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn small_caps_never_panic(steps in proptest::collection::vec(step(), 0..30)) {
        let cfg = ProtocolConfig { max_response_header_bytes: 16, max_request_header_bytes: 16, max_headers: 1, ..ProtocolConfig::default() };
        let out = run_split(&timed(steps), cfg, |n| vec![1; n]);
        prop_assert_eq!(out.records.len(), 1);
    }
}
