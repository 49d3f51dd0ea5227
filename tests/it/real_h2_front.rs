//! `samples/real/h2f_mixed`: HAProxy as the ALB node with an HTTP/2 TLS front end (`alpn
//! h2,http/1.1`, TLS 1.3) and HTTP/1.1 targets, real multiplexing clients (Node.js `http2`,
//! curl `--http2 --parallel`), the clients' key log beside it (`tools/realcap/record_h2front.sh`;
//! truth: HAProxy's log, one line per stream, in `h2f_mixed.log`). Every stream's verdict is
//! checked from each vantage: both legs with and without the keys, the front end alone with the
//! keys (a cut of the same capture), and the target's own recording.

use albscope_testkit::vantage::{cut_capture, AlbEndpoints};

const FILE: &str = "samples/real/h2f_mixed.pcap";
const KEYS: &str = "samples/real/h2f_mixed.keys";

use crate::analyze_real::cli_json as json;

/// A report's requests as (path, category, status, candidates), sorted by path (unique here).
fn by_path(v: &serde_json::Value) -> Vec<(String, String, Option<u64>, Vec<String>)> {
    let mut out: Vec<_> = v["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| {
            let candidates = r["candidates"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .filter_map(|c| c.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            (
                r["path"].as_str().unwrap_or("").to_string(),
                r["category"].as_str().unwrap_or("").to_string(),
                r["status"].as_u64(),
                candidates,
            )
        })
        .collect();
    out.sort();
    out
}

/// The truth (HAProxy's log and the clients' results), by path: category and the status the
/// client got. `/reset/a2`: the target reset the connection; HAProxy answers the stream with
/// RST_STREAM REFUSED_STREAM where an ALB sends 502, so the client got no status. `/drip/20/a9`:
/// the client cancelled the stream (RST_STREAM CANCEL) after the 200's headers and 1 KB of its
/// body; HAProxy logs 200 `CD--` (client disconnect) and drops the target's connection: the
/// client's doing, not an error.
fn truth() -> Vec<(String, String, Option<u64>)> {
    let mut t: Vec<(String, String, Option<u64>)> = [
        ("/ok/a1", "ok", Some(200)),
        ("/reset/a2", "target_closed_before_response", None),
        ("/slow/7/a3", "target_idle_timeout", Some(504)),
        ("/status/503/a4", "target_generated_error", Some(503)),
        ("/big/48/a5", "ok", Some(200)),
        ("/big/48/a6", "ok", Some(200)),
        ("/ok/a7", "ok", Some(200)),
        ("/big/32/a8", "ok", Some(200)),
        ("/drip/20/a9", "ok", Some(200)),
        ("/big/24/c1", "ok", Some(200)),
        ("/big/24/c2", "ok", Some(200)),
        ("/ok/c3", "ok", Some(200)),
        ("/big/24/c4", "ok", Some(200)),
        ("/big/24/c5", "ok", Some(200)),
        ("/status/500/c6", "target_generated_error", Some(500)),
        ("/big/24/c7", "ok", Some(200)),
        ("/ok/c8", "ok", Some(200)),
        ("/big/24/c9", "ok", Some(200)),
        ("/big/24/c10", "ok", Some(200)),
        ("/slow/1/g1", "ok", Some(200)),
        ("/ok/g2", "ok", Some(200)),
    ]
    .iter()
    .map(|(p, c, s)| (p.to_string(), c.to_string(), *s))
    .collect();
    t.sort();
    t
}

/// Both legs, the front end decrypted: every stream right, the client's cancel included (a
/// client that stops an answer is not the ALB's error, nor an `incomplete_body`); the server's
/// GOAWAY at the idle timeout and the client's GOAWAY (41721) are no requests.
#[test]
fn http2_front_end_decrypted_every_stream_right() {
    let got: Vec<_> = by_path(&json(FILE, &["--tls-keylog", KEYS]))
        .into_iter()
        .map(|(p, c, s, _)| (p, c, s))
        .collect();
    assert_eq!(got, truth());
}

/// Both legs without the keys: each stream is its back-end request; what the encrypted front
/// end hides is `undetermined` with the truth among the candidates (the 504's give-up and the
/// cancelled answer both look, from the back end, like a client that left; the cancelled
/// answer's candidates name `ok`, the client stopping it after its headers), never wrong.
#[test]
fn http2_front_end_without_keys_is_never_wrong() {
    let seen = by_path(&json(FILE, &[]));
    let truth = truth();
    assert_eq!(seen.len(), truth.len(), "{seen:?}");
    for ((path, cat, status, candidates), t) in seen.iter().zip(&truth) {
        assert_eq!(path, &t.0);
        if cat == "undetermined" {
            assert!(candidates.contains(&t.1), "{path}: {candidates:?} vs {t:?}");
        } else {
            // the refused stream got no status: the 502 an ALB sends is inferred for it
            let want = t.2.or(*status);
            assert_eq!((cat, *status), (&t.1, want), "{path}");
        }
    }
    let undetermined: Vec<_> = seen
        .iter()
        .filter(|r| r.1 == "undetermined")
        .map(|r| r.0.as_str())
        .collect();
    assert_eq!(undetermined, ["/drip/20/a9", "/slow/7/a3"]);
}

/// The front end alone (the both-legs capture cut to the client connections), decrypted: the
/// client's cancel is `ok` with the cancel cited; the failures are the ALB's answers (the
/// REFUSED_STREAM with no back end to explain it `undetermined`, with the failures a node
/// answers that way at once among its candidates, the truth one of them, and what to capture
/// to tell them apart).
#[test]
fn http2_front_end_alone_decrypted() {
    let bytes = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FILE))
        .expect("h2f_mixed.pcap");
    let alb = AlbEndpoints::from_analysis_json(&json(FILE, &[]));
    let cut = cut_capture(&bytes, &alb).expect("cut");
    let front = crate::scratch::dir("real_h2_front").join("h2f_mixed.front.pcap");
    std::fs::write(&front, &cut.front_end).expect("write the cut");
    let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(KEYS);
    let v = json(
        front.to_str().expect("utf-8 path"),
        &["--tls-keylog", keys.to_str().expect("utf-8 path")],
    );
    let full = by_path(&v);
    let refused = full
        .iter()
        .find(|r| r.0 == "/reset/a2")
        .expect("the refused stream");
    for c in [
        "target_closed_before_response",
        "keepalive_race",
        "target_connect_refused",
        "no_target_attempt",
    ] {
        assert!(refused.3.iter().any(|x| x == c), "{c}: {refused:?}");
    }
    // 135 ms after the request: no timer of the ALB's can have ended
    for c in ["target_idle_timeout", "target_connect_timeout"] {
        assert!(!refused.3.iter().any(|x| x == c), "{c}: {refused:?}");
    }
    let refused_json = v["requests"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["path"] == "/reset/a2"))
        .expect("the refused stream");
    assert!(
        refused_json["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n
                .as_str()
                .is_some_and(|n| n.contains("capture the targets' ENIs")))),
        "{refused_json}"
    );
    // Whether the target got the request (so that a retry repeats it) is on the back end,
    // not in this capture: neither known nor "safe to retry" (the target had received it).
    let reset = &refused_json["client_stream_reset"];
    assert_eq!(reset["name"], "REFUSED_STREAM", "{refused_json}");
    assert!(reset["target_received"].is_null(), "{refused_json}");
    let text = std::process::Command::new(env!("CARGO_BIN_EXE_albscope"))
        .args([
            "analyze",
            "--format",
            "text",
            "--no-progress",
            "--tls-keylog",
        ])
        .arg(&keys)
        .arg(&front)
        .output()
        .expect("run albscope");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("refused the HTTP/2 stream"), "{text}");
    assert!(!text.contains("retry safely"), "{text}");
    let seen: Vec<_> = full.into_iter().map(|(p, c, s, _)| (p, c, s)).collect();
    let want: Vec<_> = truth()
        .into_iter()
        .map(|(p, c, s)| match p.as_str() {
            "/reset/a2" => (p, "undetermined".to_string(), s),
            _ => (p, c, s),
        })
        .collect();
    assert_eq!(seen, want);
    let drip = v["requests"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["path"] == "/drip/20/a9"))
        .expect("the cancelled stream");
    assert!(
        drip["headline"]
            .as_str()
            .is_some_and(|h| h.contains("client stopped the answer")),
        "{drip}"
    );
}

/// The target's own recording: the same back-end requests; the cancelled answer and the give-up
/// at the idle timeout are `undetermined` with the truth among the candidates (the cancelled
/// answer: `ok`, the client stopping it after its headers).
#[test]
fn http2_front_end_seen_from_the_target() {
    let seen = by_path(&json("samples/real/h2f_mixed.target.pcap", &[]));
    let truth = truth();
    assert_eq!(seen.len(), truth.len(), "{seen:?}");
    for ((path, cat, status, candidates), t) in seen.iter().zip(&truth) {
        assert_eq!(path, &t.0);
        if cat == "undetermined" {
            assert!(candidates.contains(&t.1), "{path}: {candidates:?} vs {t:?}");
        } else {
            // the refused stream got no status: the 502 an ALB sends is inferred for it
            let want = t.2.or(*status);
            assert_eq!((cat, *status), (&t.1, want), "{path}");
        }
    }
}
