//! Every both-legs sample cut into a back-end-only and a front-end-only copy
//! (`albscope_testkit::vantage`), each analysed and scored against the both-legs analysis
//! (`albscope_testkit::vantage_score`). `cargo test -p albscope-cli --test it vantage_cuts --
//! --nocapture` prints the table; its rows per sample: `both` (the original against itself:
//! checks the matcher), `back`, `front` (the cuts), `back+`/`front+` (a cut whose analysis did
//! not recognise its vantage, analysed again when told the ALB like `--alb-ip`
//! `--listener-port`), `rec-b` (a real back-end recording of the same events,
//! `samples/real/*.target.pcap`), `rec-f` (a real recording on the client's own interface,
//! `samples/real/*.client.pcap`).
//!
//! The rule: a confident wrong answer is the worst outcome. What holds today is asserted; what
//! issue 12 ("right from every vantage, honest where the capture cannot tell") asks is a gate;
//! cuts whose capture cannot tell the ALB from any TLS client or server are listed in
//! `CANNOT_TELL` (they say `unknown` and what to pass), and [`no_cut_is_worse_than_today`]
//! stops any cut from getting worse. A failure that
//! happens only on the leg a cut lacks (a 503 that never reached a target, seen from the back
//! end; a client that left while the ALB took the target's answer; a failure behind a TLS
//! front end, seen from the clients) is counted apart as `hidden`, neither missed nor wrong
//! (`albscope_testkit::vantage_score::not_visible`).

use albscope_testkit::vantage_score::{format_table, score_recording, score_sample, Row};
use std::sync::OnceLock;

/// Every both-legs capture in `samples/` (default timers) and `samples/real/` (idle timeout 5 s,
/// as their README says; the `.target.pcap` files are back-end captures already).
fn scoreboard() -> &'static Vec<Row> {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let mut rows = Vec::new();
        // samples/tls without their keys: the encrypted front end as a user without keys sees it
        // (not tls_gap: its one client connection, without keys, looks like the node's own
        // back-end connection, so the cut has no front end).
        for (dir, idle) in [
            ("samples", None),
            ("samples/real", Some(5_000)),
            ("samples/tls", Some(5_000)),
        ] {
            let mut files: Vec<_> = std::fs::read_dir(dir)
                .expect("samples directory")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
                .filter(|p| {
                    let name = p.to_string_lossy();
                    !name.ends_with(".target.pcap") && !name.ends_with(".client.pcap")
                })
                .filter(|p| !p.ends_with("samples/tls/tls_gap.pcap"))
                .collect();
            files.sort();
            for path in &files {
                let bytes = std::fs::read(path).expect("read sample");
                let name = path.to_string_lossy().to_string();
                match score_sample(&name, &bytes, idle) {
                    Ok(Some(r)) => rows.extend(r),
                    Ok(None) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            // the real back-end (and client-side) recordings next to the cuts of the same
            // events
            for (ext, label) in [("target.pcap", "rec-b"), ("client.pcap", "rec-f")] {
                for path in &files {
                    let recorded = path.with_extension(ext);
                    let Ok(recording) = std::fs::read(&recorded) else {
                        continue;
                    };
                    let bytes = std::fs::read(path).expect("read sample");
                    let name = recorded.to_string_lossy().to_string();
                    let row = score_recording(&name, &bytes, &recording, idle, label)
                        .unwrap_or_else(|e| panic!("{e}"));
                    rows.push(row);
                }
            }
        }
        rows
    })
}

#[test]
fn prints_the_scoreboard() {
    let rows = scoreboard();
    println!("{}", format_table(rows));
    assert!(
        rows.iter()
            .any(|r| r.sample.ends_with("samples/mixed.pcap")),
        "samples/mixed.pcap is a both-legs sample"
    );
    assert!(
        rows.iter()
            .any(|r| r.sample.ends_with("real/mixed_two_nodes.pcap")),
        "samples/real/mixed_two_nodes.pcap is a both-legs sample"
    );
}

/// The rows of one kind (`both`, `back`, `front`, `back+`, `front+`, `rec-b`).
fn rows_of(vantage: &str) -> impl Iterator<Item = &'static Row> + '_ {
    scoreboard().iter().filter(move |r| r.vantage == vantage)
}

/// `sample: what` for each row where `what` is not empty, one per line.
fn list(vantage: &str, what: impl Fn(&Row) -> Option<String>) -> String {
    rows_of(vantage)
        .filter_map(|r| what(r).map(|w| format!("  {}: {w}", r.sample)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The sum of `count` over one cut's rows, and the rows where it is not 0 with their details,
/// for assertion messages.
fn problems(vantage: &str, count: impl Fn(&Row) -> u64) -> (u64, String) {
    let n = rows_of(vantage).map(&count).sum();
    let l = list(vantage, |r| {
        let c = count(r);
        (c > 0).then(|| {
            let details: Vec<&str> = r.score.details.iter().map(String::as_str).collect();
            format!("{c}\n      {}", details.join("\n      "))
        })
    });
    (n, l)
}

#[test]
fn both_legs_analysis_agrees_with_itself() {
    for r in rows_of("both") {
        let s = &r.score;
        assert_eq!(r.detected, "both_legs", "{}", r.sample);
        assert_eq!(
            (s.undetermined, s.wrong, s.missed, s.extra, s.ok_missed),
            (0, 0, 0, 0, 0),
            "{}: the matcher must pair every request with itself: {:?}",
            r.sample,
            s.details
        );
    }
}

#[test]
fn every_packet_goes_to_exactly_one_cut() {
    for r in rows_of("both") {
        let c = &r.cut;
        assert_eq!(c.back + c.front + c.noise, c.packets, "{}", r.sample);
        assert_eq!(
            c.noise, 0,
            "{}: every sample packet is on one leg",
            r.sample
        );
        assert!(c.back > 0 && c.front > 0, "{}: {c:?}", r.sample);
    }
}

/// Recordings of one target where the mirror capture holds several: hc_refused.target.pcap is
/// target 1 (its refused health checks) while the clients were served by target 2;
/// target_errors.target.pcap is target 1 (nginx) while one request went to target 2 (Node.js);
/// the ngx_burst*, ngx_connect_fail and cdy_* recordings are target 1 while some requests went
/// to target 2.
const PARTIAL_RECORDINGS: &[&str] = &[
    "samples/real/hc_refused.target.pcap",
    "samples/real/target_errors.target.pcap",
    "samples/real/ngx_burst.target.pcap",
    "samples/real/ngx_burst_tls.target.pcap",
    "samples/real/ngx_connect_fail.target.pcap",
    // target 1 only; /blackhole went to target 2
    "samples/real/cdy_h1_mixed.target.pcap",
    "samples/real/cdy_h2_mixed.target.pcap",
];

/// The cut is realistic: where a real back-end recording of the same events exists
/// (`samples/real/X.target.pcap`, taken with tcpdump on the target), the back-end cut of the
/// mirror capture scores the same.
#[test]
fn back_end_cut_scores_like_a_real_target_recording() {
    let counts = |r: &Row| {
        let s = &r.score;
        [
            s.proved,
            s.inferred,
            s.undetermined,
            s.wrong,
            s.missed,
            s.hidden,
            s.extra,
            s.ok,
            s.ok_missed,
        ]
    };
    let recordings: Vec<&Row> = rows_of("rec-b").collect();
    assert!(recordings.len() >= 8, "samples/real has 8 .target.pcap");
    for rec in recordings {
        if PARTIAL_RECORDINGS.contains(&rec.sample.as_str()) {
            continue;
        }
        let mirror = rec.sample.replace(".target.pcap", ".pcap");
        let cut = rows_of("back")
            .find(|r| r.sample == mirror)
            .unwrap_or_else(|| panic!("no back-end cut of {mirror}"));
        assert_eq!(cut.detected, rec.detected, "{mirror}");
        assert_eq!(
            counts(cut),
            counts(rec),
            "{mirror}: back-end cut {:?} vs recording {:?}",
            cut.score.details,
            rec.score.details
        );
    }
}

#[test]
fn no_cut_counts_a_request_twice() {
    for v in ["back", "front"] {
        let (n, l) = problems(v, |r| r.score.extra);
        assert_eq!(
            n, 0,
            "{v}-end-only cuts report requests the original does not have:\n{l}"
        );
    }
}

/// Health checks live on the back end only: the back-end cut counts all of the original's, the
/// front-end cut none (and none became a client request: `extra` is 0).
#[test]
fn health_checks_stay_on_the_back_end() {
    for both in rows_of("both") {
        for r in scoreboard().iter().filter(|r| r.sample == both.sample) {
            let want = match r.vantage.as_str() {
                "back" | "back+" => both.health_checks,
                "front" | "front+" => 0,
                _ => continue,
            };
            assert_eq!(r.health_checks, want, "{} {}", r.sample, r.vantage);
        }
    }
}

#[test]
fn back_end_cut_is_never_confidently_wrong() {
    let (n, l) = problems("back", |r| r.score.wrong_confident);
    assert_eq!(
        n, 0,
        "back-end-only: a wrong category stated as proved:\n{l}"
    );
}

/// Issue 12: from the back end alone, an ALB close at the idle timeout is the idle timeout or a
/// client that left while the ALB waited (undetermined); a client that left while the ALB took
/// the target's whole answer is not visible there (`hidden`, its status marked inferred).
#[test]
fn back_end_cut_is_never_wrong() {
    let (n, l) = problems("back", |r| r.score.wrong);
    assert_eq!(n, 0, "back-end-only: wrong categories:\n{l}");
}

/// Issue 12: where the front end cannot tell, the category is `undetermined` with its
/// candidates, never a guess.
#[test]
fn front_end_cut_is_never_wrong() {
    let (n, l) = problems("front", |r| r.score.wrong);
    assert_eq!(n, 0, "front-end-only: wrong categories:\n{l}");
}

/// Issue 12: what the front end proves (a body cut short, the idle timeout outside the connect
/// and TLS window) is never stated wrongly.
#[test]
fn front_end_cut_is_never_confidently_wrong() {
    let (n, l) = problems("front", |r| r.score.wrong_confident);
    assert_eq!(
        n, 0,
        "front-end-only: a wrong category stated as proved:\n{l}"
    );
}

/// An `undetermined` answer lists what the request may be: the truth must be among its
/// candidates on every cut (a candidate list that rules out what happened is a wrong answer
/// in disguise). The front end's timing narrows a 502 (a keep-alive race fails at once, a
/// connect failure comes before the connect timeout, a TLS one before twice it); a proxy in
/// the ALB's place that answers its connect timeout 502 (Caddy: cdy_h1_mixed) keeps
/// target_connect_timeout among a 502's candidates at the connect timeout.
#[test]
fn undetermined_candidates_hold_the_truth() {
    for v in ["back", "front", "back+", "front+", "rec-b", "rec-f"] {
        let (n, l) = problems(v, |r| r.score.candidates_miss);
        assert_eq!(n, 0, "{v}: the truth is not among the candidates:\n{l}");
    }
}

/// Told the ALB, neither cut states a wrong category as proved.
#[test]
fn cuts_told_the_alb_are_never_confidently_wrong() {
    for v in ["back+", "front+"] {
        let (n, l) = problems(v, |r| r.score.wrong_confident);
        assert_eq!(n, 0, "{v}: a wrong category stated as proved:\n{l}");
    }
}

/// Cuts whose capture cannot tell the ALB from any TLS client or server: TLS only, no keys,
/// one private client address and one private server address on each side (an internal node,
/// or a node seen from one client), so no general rule names the node; their analysis says
/// `unknown`, never a guess, and names the likely nodes with the flags to pass
/// (`alb_candidates`): the third column is the told node's flags, which must be the first
/// candidate, or the second when the analysis says the first two are as likely (one client
/// and one server: either end may be the node), or when the ClientHellos carry no server name
/// (SNI) and so favour the opener: an ALB node sends none to its targets, but these recordings'
/// clients also reached the listener by its address (real clients use its DNS name). The
/// back-end cuts below name their node first for that reason. Told the ALB, each is recognised (`back+` /
/// `front+`). A front-end cut of several public clients (tls-frontend, http2-frontend) and a
/// back-end cut of 3 targets (artifacts/tls_target_group) are recognised without being told.
const CANNOT_TELL: &[(&str, &str, &str)] = &[
    // one keep-alive TLS connection from the node to one HTTPS target
    (
        "samples/tls/https_backend.pcap",
        "back",
        "--alb-ip 10.98.0.1 --target-port 443",
    ),
    // an HTTPS target group: TLS keep-alive connections from the node (nginx) to one target
    (
        "samples/real/ngx_apache_tls.pcap",
        "back",
        "--alb-ip 10.99.0.1 --target-port 8443",
    ),
    // an HTTPS target group of protocol version HTTP2 (a Go target): TLS keep-alive
    // connections from the node (HAProxy) to one target
    (
        "samples/real/gs_go_tls_h2.pcap",
        "back",
        "--alb-ip 10.99.0.1 --target-port 8080",
    ),
    // one private client (10.98.2.10) to the node's :443
    (
        "samples/tls/https_backend.pcap",
        "front",
        "--alb-ip 10.98.0.1 --listener-port 443",
    ),
    (
        "samples/tls/tls12_h1.pcap",
        "front",
        "--alb-ip 10.98.0.1 --listener-port 443",
    ),
    (
        "samples/tls/tls13_h1.pcap",
        "front",
        "--alb-ip 10.98.0.1 --listener-port 443",
    ),
    (
        "samples/tls/tls13_h2.pcap",
        "front",
        "--alb-ip 10.98.0.1 --listener-port 443",
    ),
    (
        "samples/real/http2_frontend.pcap",
        "front",
        "--alb-ip 10.98.2.1 --listener-port 443",
    ),
    // one private client (10.99.2.10) on many TLS connections to the node's :443 (nginx)
    (
        "samples/real/ngx_burst_tls.pcap",
        "front",
        "--alb-ip 10.99.0.1 --listener-port 443",
    ),
    (
        "samples/real/ngx_tls_out_of_order.pcap",
        "front",
        "--alb-ip 10.99.0.1 --listener-port 443",
    ),
    // the same with Caddy's HTTP/2 over TLS (one private client, 5 TLS connections)
    (
        "samples/real/cdy_h2_mixed.pcap",
        "front",
        "--alb-ip 10.99.0.1 --listener-port 443",
    ),
    // and with one request per connection (13 TLS connections)
    (
        "samples/real/cdy_h2_single.pcap",
        "front",
        "--alb-ip 10.99.0.1 --listener-port 443",
    ),
    // and HTTP/1.1 over TLS 1.3 (7 TLS connections)
    (
        "samples/real/cdy_h1_tls13.pcap",
        "front",
        "--alb-ip 10.99.0.1 --listener-port 443",
    ),
    // HAProxy's HTTP/2 TLS listener (one private client, 3 multiplexed TLS connections)
    (
        "samples/real/h2f_mixed.pcap",
        "front",
        "--alb-ip 10.99.0.1 --listener-port 443",
    ),
];

/// True for a row of a cut in [`CANNOT_TELL`].
fn cannot_tell(r: &Row) -> bool {
    CANNOT_TELL
        .iter()
        .any(|(sample, cut, _)| r.sample == *sample && r.vantage == *cut)
        || NAMES_NO_NODE
            .iter()
            .any(|(sample, cut)| r.sample == *sample && r.vantage == *cut)
}

/// A known gap: cuts that recognise no node and, unlike [`CANNOT_TELL`], name no candidate
/// either (they are in [`TODAY`] with what they miss). gs_go_h2c_mismatch: the stand-in sent
/// only the HTTP/2 preface and settings (it waits for the server's before its HEADERS) and Go
/// answered HTTP/1.1: no request line, no ALB header, no TLS, so nothing names the node; told
/// the node (`back+`) every 502 is found.
const NAMES_NO_NODE: &[(&str, &str)] = &[("samples/real/gs_go_h2c_mismatch.pcap", "back")];

/// The cuts in [`CANNOT_TELL`] say they recognised no ALB, name the node among the two most
/// likely candidates (first, or second after a tie the capture cannot break), and are
/// recognised when told it.
#[test]
fn cuts_that_cannot_tell_say_so_and_are_recognised_when_told() {
    for (sample, cut, flags) in CANNOT_TELL {
        let row = |v: &str| {
            scoreboard()
                .iter()
                .find(|r| r.sample == *sample && r.vantage == v)
                .unwrap_or_else(|| panic!("no {v} row of {sample}"))
        };
        assert_eq!(row(cut).detected, "unknown", "{sample} {cut}");
        let named = &row(cut).candidates;
        assert!(
            named.iter().take(2).any(|c| c == flags),
            "{sample} {cut}: candidates {named:?} lack {flags}"
        );
        let want = if *cut == "back" {
            "back_end_only"
        } else {
            "front_end_only"
        };
        assert_eq!(row(&format!("{cut}+")).detected, want, "{sample} {cut}+");
    }
}

/// A capture that recognises its node names no candidates (they are only for captures that
/// recognise none).
#[test]
fn recognised_cuts_name_no_candidates() {
    for r in scoreboard() {
        if r.detected != "unknown" {
            assert!(r.candidates.is_empty(), "{} {}", r.sample, r.vantage);
        }
    }
}

/// Issue 12 leftovers: no failure behind an encrypted front end goes unreported from the
/// clients' side: a recognised node states its exchanges as not visible, an unrecognised one
/// is named as a candidate with its connections (`hidden` is 0 on every front-end cut).
#[test]
fn front_end_cut_hides_no_encrypted_failure() {
    let (n, l) = problems("front", |r| r.score.hidden);
    assert_eq!(n, 0, "front-end-only: failures not reported at all:\n{l}");
}

/// Missed failed requests that the cut could have seen: the scorer counts those it cannot
/// (never reached the back end, behind an encrypted front end: `vantage_score::not_visible`)
/// apart, as `hidden`.
fn missed_visible(r: &Row) -> u64 {
    r.score.missed
}

/// Today's shortfalls per cut: `(sample, cut, wrong, of them stated as proved, missed)`; every
/// other cut has none. A fix lowers a number here (edit the table); a change that raises one, or
/// brings a new row, fails [`no_cut_is_worse_than_today`].
const TODAY: &[(&str, &str, u64, u64, u64)] = &[
    // samples/tls without keys: https_backend's back end is ONE TLS connection from one VPC
    // address to one HTTPS server, which any HTTPS client looks like: not recognised as an ALB
    // unless told (`back+`, where its 502 is inferred from the TLS records). Its other
    // failure, and tls13_h1's f0.0, are encrypted front-end exchanges no back-end request
    // matched: nothing of them is on the back end (`hidden`).
    ("samples/tls/https_backend.pcap", "back", 0, 0, 1),
    // (target_errors.target.pcap, recorded on target 1 only, no longer misses the request
    // target 2 served: the scorer counts requests of targets a recording does not cover as
    // hidden.)
    // an HTTPS target group seen from the back end alone, TLS only: not recognised as an ALB
    // unless told (in `CANNOT_TELL`; the real recording has no told row), so its target's 503
    // is missed; told the ALB (`back+`) it is stated as answered, status not visible
    ("samples/real/ngx_apache_tls.pcap", "back", 0, 0, 1),
    ("samples/real/ngx_apache_tls.target.pcap", "rec-b", 0, 0, 1),
    // HTTP/2 preface answered with HTTP/1.1 by a Go target, seen from the back end alone:
    // nothing names the node (see `NAMES_NO_NODE`)
    ("samples/real/gs_go_h2c_mismatch.pcap", "back", 0, 0, 3),
    (
        "samples/real/gs_go_h2c_mismatch.target.pcap",
        "rec-b",
        0,
        0,
        3,
    ),
    // an HTTPS target group speaking HTTP/2 (a Go target) seen from the back end alone
    // without keys: TLS only, not recognised unless told (in `CANNOT_TELL`); its failures are
    // in encrypted HTTP/2 streams (with the target's key log every one is read right)
    ("samples/real/gs_go_tls_h2.pcap", "back", 0, 0, 4),
    ("samples/real/gs_go_tls_h2.target.pcap", "rec-b", 0, 0, 4),
];

/// An encrypted front end seen alone (recognised from its public clients, or told the ALB):
/// every failed request behind it is stated as not visible or undetermined, never missed,
/// never wrong.
#[test]
fn encrypted_front_end_states_what_it_cannot_see() {
    let rows: Vec<&Row> = rows_of("front+")
        .chain(rows_of("front"))
        .filter(|r| r.score.not_visible + r.score.ok_not_visible > 0)
        .collect();
    assert!(
        rows.len() >= 3,
        "tls-frontend, http2-frontend and real/http2_frontend state their encrypted exchanges"
    );
    for sample in ["samples/tls-frontend.pcap", "samples/http2-frontend.pcap"] {
        assert!(
            rows.iter()
                .any(|r| r.sample == sample && r.vantage == "front"),
            "{sample}: its public clients name the node without being told"
        );
    }
    for r in rows {
        let s = &r.score;
        assert_eq!(
            (s.missed, s.hidden, s.wrong),
            (0, 0, 0),
            "{}: {:?}",
            r.sample,
            s.details
        );
    }
}

#[test]
fn no_cut_is_worse_than_today() {
    let mut worse = Vec::new();
    for r in scoreboard().iter().filter(|r| r.vantage != "both") {
        let (wrong, sure, missed) = TODAY
            .iter()
            .find(|t| r.sample == t.0 && r.vantage == t.1)
            .map_or((0, 0, 0), |t| (t.2, t.3, t.4));
        let s = &r.score;
        if s.wrong > wrong || s.wrong_confident > sure || s.missed > missed {
            worse.push(format!(
                "  {} {}: wrong {} (was {wrong}), stated as proved {} (was {sure}), missed {} \
                 (was {missed})\n      {}",
                r.sample,
                r.vantage,
                s.wrong,
                s.wrong_confident,
                s.missed,
                s.details.join("\n      ")
            ));
        }
    }
    assert!(
        worse.is_empty(),
        "cuts worse than before:\n{}",
        worse.join("\n")
    );
}

/// Issue 12: a truncating mirror's back end still names its node (whole X-Forwarded-* lines
/// of the cut-short heads); failures that never reach a target are counted as not visible.
/// A cut in [`CANNOT_TELL`] names no node and says what to pass: its failures are not missed
/// when the same cut told the ALB (`back+`) finds them.
#[test]
fn back_end_cut_misses_no_visible_failed_request() {
    let (n, l) = problems(
        "back",
        |r| {
            if cannot_tell(r) {
                0
            } else {
                missed_visible(r)
            }
        },
    );
    assert_eq!(n, 0, "back-end-only: missed failed requests:\n{l}");
    let (n, l) = problems("back+", missed_visible);
    assert_eq!(
        n, 0,
        "back-end-only, told the ALB: missed failed requests:\n{l}"
    );
}

/// Issue 12: node recognition per address (a second node serving the same site) and from
/// answers a truncating mirror cut short (their status line and Server header).
#[test]
fn front_end_cut_misses_no_visible_failed_request() {
    let (n, l) = problems("front", missed_visible);
    assert_eq!(n, 0, "front-end-only: missed failed requests:\n{l}");
}

/// Issue 12: every cut is recognised as its vantage, except the cuts in [`CANNOT_TELL`],
/// which say `unknown` with what to pass (`--alb-ip`, `--listener-port`), and are recognised
/// when told (rows `back+` / `front+`).
#[test]
fn cuts_are_recognised_as_their_vantage() {
    let mut wrong = String::new();
    for (v, want) in [("back", "back_end_only"), ("front", "front_end_only")] {
        let l = list(v, |r| {
            let excused = cannot_tell(r) && r.detected == "unknown";
            (r.detected != want && !excused).then(|| r.detected.clone())
        });
        if !l.is_empty() {
            wrong.push_str(&format!(
                "{v}-end-only cuts not recognised as {want}:\n{l}\n"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong}");
}

/// A hand-made capture: every kind of packet the cut must sort, with the leg it belongs to.
mod hand_made {
    use albscope_testkit::vantage::{cut_capture, AlbEndpoints, AlbNode, Leg};
    use etherparse::PacketBuilder;

    const ALB: [u8; 4] = [10, 0, 1, 25];
    const CLIENT: [u8; 4] = [198, 51, 100, 7];
    const TARGET: [u8; 4] = [10, 0, 2, 15];
    const DEAD_TARGET: [u8; 4] = [10, 0, 2, 99];
    const ALB_V6: [u8; 16] = [
        0x24, 0x06, 0xda, 0x1c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x19,
    ];
    const TARGET_V6: [u8; 16] = [
        0x24, 0x06, 0xda, 0x1c, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x63,
    ];
    const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    fn tcp4(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, syn: bool) -> Vec<u8> {
        let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(src, dst, 64)
            .tcp(sport, dport, 1000, 64240);
        let b = if syn { b.syn() } else { b.ack(1) };
        let payload: &[u8] = if syn { b"" } else { b"GET / HTTP/1.1\r\n\r\n" };
        let mut out = Vec::new();
        b.write(&mut out, payload).expect("build tcp");
        out
    }

    /// ICMP host unreachable from `from` quoting a SYN `src:sport -> dst:dport`.
    fn icmp4(from: [u8; 4], src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
        let mut quoted = Vec::new();
        PacketBuilder::ipv4(src, dst, 64)
            .tcp(sport, dport, 1000, 64240)
            .syn()
            .write(&mut quoted, &[])
            .expect("build quote");
        quoted.truncate(28);
        let mut out = Vec::new();
        PacketBuilder::ethernet2(MAC_B, MAC_A)
            .ipv4(from, src, 64)
            .icmpv4_raw(3, 1, [0; 4])
            .write(&mut out, &quoted)
            .expect("build icmp");
        out
    }

    fn frames() -> Vec<(Vec<u8>, Leg)> {
        let mut arp = vec![0xff; 6];
        arp.extend(MAC_A);
        arp.extend([0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
        arp.extend(MAC_A);
        arp.extend(ALB);
        arp.extend([0; 6]);
        arp.extend(TARGET);
        let mut dns = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(ALB, [10, 0, 0, 2], 64)
            .udp(5353, 53)
            .write(&mut dns, b"\x12\x34\x01\x00")
            .expect("build udp");
        let mut v6 = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv6(ALB_V6, TARGET_V6, 64)
            .tcp(33002, 8080, 1, 64240)
            .syn()
            .write(&mut v6, &[])
            .expect("build v6");
        vec![
            (tcp4(CLIENT, 40000, ALB, 80, true), Leg::Front),
            (tcp4(ALB, 80, CLIENT, 40000, true), Leg::Front),
            (tcp4(ALB, 33000, TARGET, 8080, true), Leg::Back),
            (tcp4(TARGET, 8080, ALB, 33000, true), Leg::Back),
            (tcp4(CLIENT, 40000, ALB, 80, false), Leg::Front),
            (tcp4(ALB, 33000, TARGET, 8080, false), Leg::Back),
            (tcp4(ALB, 33001, DEAD_TARGET, 8080, true), Leg::Back),
            (icmp4(DEAD_TARGET, ALB, 33001, DEAD_TARGET, 8080), Leg::Back),
            (icmp4([192, 0, 2, 1], ALB, 80, CLIENT, 40000), Leg::Front),
            (arp, Leg::Noise),
            (dns, Leg::Noise),
            (tcp4(TARGET, 40500, [10, 0, 3, 3], 5432, true), Leg::Noise),
            // the node's IPv6 address is not in alb_nodes, but the target is known
            (v6, Leg::Back),
            // a health check: back end
            (tcp4(ALB, 33003, TARGET, 8080, false), Leg::Back),
        ]
    }

    /// VXLAN (VNI 1001) from the ALB node to a mirror target, around an inner frame.
    fn vxlan(inner: &[u8]) -> Vec<u8> {
        let mut payload = vec![0x08, 0, 0, 0, 0, 0x03, 0xe9, 0];
        payload.extend(inner);
        let mut out = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(ALB, [10, 0, 9, 9], 64)
            .udp(49152, 4789)
            .write(&mut out, &payload)
            .expect("build vxlan");
        out
    }

    fn pcap_header() -> Vec<u8> {
        let mut h = Vec::new();
        h.extend(0xa1b2c3d4u32.to_le_bytes());
        h.extend(2u16.to_le_bytes());
        h.extend(4u16.to_le_bytes());
        h.extend([0; 8]);
        h.extend(65535u32.to_le_bytes());
        h.extend(1u32.to_le_bytes());
        h
    }

    fn pcap_record(i: usize, frame: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend(1_765_471_377u32.to_le_bytes());
        r.extend((i as u32 * 100).to_le_bytes());
        r.extend((frame.len() as u32).to_le_bytes());
        r.extend((frame.len() as u32).to_le_bytes());
        r.extend(frame);
        r
    }

    fn pcapng_head() -> Vec<u8> {
        let mut shb = Vec::new();
        shb.extend(0x0A0D0D0Au32.to_le_bytes());
        shb.extend(28u32.to_le_bytes());
        shb.extend(0x1A2B3C4Du32.to_le_bytes());
        shb.extend(1u16.to_le_bytes());
        shb.extend(0u16.to_le_bytes());
        shb.extend((-1i64).to_le_bytes());
        shb.extend(28u32.to_le_bytes());
        let mut idb = Vec::new();
        idb.extend(1u32.to_le_bytes());
        idb.extend(20u32.to_le_bytes());
        idb.extend(1u16.to_le_bytes()); // Ethernet
        idb.extend(0u16.to_le_bytes());
        idb.extend(0u32.to_le_bytes());
        idb.extend(20u32.to_le_bytes());
        shb.extend(idb);
        shb
    }

    fn pcapng_record(i: usize, frame: &[u8]) -> Vec<u8> {
        let padded = frame.len().div_ceil(4) * 4;
        let total = (32 + padded) as u32;
        let mut b = Vec::new();
        b.extend(6u32.to_le_bytes());
        b.extend(total.to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend((i as u32).to_le_bytes());
        b.extend((frame.len() as u32).to_le_bytes());
        b.extend((frame.len() as u32).to_le_bytes());
        b.extend(frame);
        b.resize(28 + padded, 0);
        b.extend(total.to_le_bytes());
        b
    }

    fn alb() -> AlbEndpoints {
        AlbEndpoints {
            nodes: vec![AlbNode {
                ip: ALB.into(),
                listener_ports: vec![80],
            }],
            targets: vec![
                "10.0.2.15:8080".parse().expect("addr"),
                "[2406:da1c:2::63]:8080".parse().expect("addr"),
            ],
        }
    }

    /// Builds the capture with `head`/`record`, cuts it, and checks every packet went where it
    /// belongs, byte for byte.
    fn check(head: Vec<u8>, record: fn(usize, &[u8]) -> Vec<u8>, wrap: fn(&[u8]) -> Vec<u8>) {
        let frames = frames();
        let records: Vec<Vec<u8>> = frames
            .iter()
            .enumerate()
            .map(|(i, (f, _))| record(i, &wrap(f)))
            .collect();
        let mut capture = head.clone();
        let (mut back, mut front) = (head.clone(), head);
        for (r, (_, leg)) in records.iter().zip(&frames) {
            capture.extend(r);
            if *leg != Leg::Front {
                back.extend(r);
            }
            if *leg != Leg::Back {
                front.extend(r);
            }
        }
        let cut = cut_capture(&capture, &alb()).expect("cut");
        let want: Vec<Leg> = frames.iter().map(|(_, l)| *l).collect();
        assert_eq!(cut.legs, want);
        assert!(cut.back_end == back, "back-end copy differs");
        assert!(cut.front_end == front, "front-end copy differs");
        assert_eq!(cut.stats.packets, frames.len() as u64);
        assert_eq!(cut.stats.icmp_errors, 2);
    }

    #[test]
    fn plain_pcap_is_cut_by_leg() {
        check(pcap_header(), pcap_record, |f| f.to_vec());
    }

    #[test]
    fn vxlan_pcap_is_cut_by_inner_leg() {
        check(pcap_header(), pcap_record, vxlan);
    }

    #[test]
    fn pcapng_is_cut_by_leg() {
        check(pcapng_head(), pcapng_record, vxlan);
    }
}
