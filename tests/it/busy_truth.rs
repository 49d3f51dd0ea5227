//! Busy traffic (`tools/realcap/record_busy.sh`: many clients sending the same `GET
//! /api/items` through HAProxy as an ALB node, back-end connections reused across clients, a
//! target answering 200, 500, nothing, a close or a reset at random): EVERY request's category,
//! from every vantage, against the truth in HAProxy's log (`samples/real/busy_*.log`).
//!
//! The truth of a logged request: status 200 `ok`, 500 `target_generated_error`, 502 with
//! termination state `SH--` (the target closed or reset) `target_closed_before_response`, 504
//! `sH--` `target_idle_timeout`; a wrk request answered after wrk exited (it closes its
//! connections then) `client_closed`. HAProxy logs no line for a request it sent on a reused
//! back-end connection that the target then closed without answering: it closes the client's
//! connection silently (so that the client retries). Such a request is the last on its client
//! connection and on its back-end connection: `target_closed_before_response`.
//!
//! Vantages: both legs (the mirror capture), its back-end-only and front-end-only cuts
//! (`albscope_testkit::vantage`), and the target's own recording (`.target.pcap`). A cut may say
//! `undetermined` where its leg cannot tell; it must never name another category. From the
//! back end alone a client that left is invisible: the ALB's close at its idle timeout is all
//! there is (`target_idle_timeout` or `undetermined` there).

use albscope::flow::{community_id, Endpoint};
use albscope_testkit::vantage::{cut_capture, AlbEndpoints};
use albscope_testkit::vantage_score::{analyze_json, requests, Req};
use std::collections::HashMap;

/// One request of HAProxy's log.
#[derive(Clone, Debug)]
struct Logged {
    /// `ip:port` of the client.
    client: String,
    /// Reception time, seconds of the day (ms resolution).
    received: f64,
    /// Total active time, seconds.
    active: f64,
    status: u16,
    termination: String,
    /// The back-end connection's local port (`bi=`).
    back_port: u16,
    /// Position in the log (the order requests ended in).
    line: usize,
}

/// Seconds of the day of `HH:MM:SS.mmm`.
fn seconds(hms: &str) -> Option<f64> {
    let mut p = hms.split(':');
    let h: f64 = p.next()?.parse().ok()?;
    let m: f64 = p.next()?.parse().ok()?;
    let s: f64 = p.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// HAProxy's lines for `GET /api/items` and when wrk exited.
fn read_log(text: &str) -> (Vec<Logged>, f64) {
    let mut out = Vec::new();
    let mut wrk_exit = None;
    for (line, l) in text.lines().enumerate() {
        if let Some(t) = l.strip_prefix("wrk exited at ") {
            wrk_exit = seconds(t.trim());
            continue;
        }
        if !l.ends_with("\"GET /api/items HTTP/1.1\"") || !l.contains(" alb tg/") {
            continue;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        // client [date:time] alb tg/t1 TR/Tw/Tc/Tr/Ta status bytes tsc conns queues bi=.. {id} req
        let time = f[1]
            .trim_matches(|c| c == '[' || c == ']')
            .split_once(':')
            .map_or("", |(_, t)| t);
        let active: f64 = f[4].rsplit('/').next().unwrap().parse().unwrap();
        let bi = f[10].strip_prefix("bi=").unwrap();
        out.push(Logged {
            client: f[0].to_string(),
            received: seconds(time).unwrap(),
            active: active / 1000.0,
            status: f[5].parse().unwrap(),
            termination: f[7].to_string(),
            back_port: bi.rsplit_once(':').unwrap().1.parse().unwrap(),
            line,
        });
    }
    (out, wrk_exit.expect("the log says when wrk exited"))
}

/// The category the log proves for a request.
fn truth(r: &Logged, wrk_exit: f64) -> &'static str {
    if r.client.starts_with("10.99.2.10:") && r.received + r.active > wrk_exit {
        return "client_closed";
    }
    match (r.status, r.termination.as_str()) {
        (200, "----") => "ok",
        (500, "----") => "target_generated_error",
        (502, "SH--") => "target_closed_before_response",
        (504, "sH--") => "target_idle_timeout",
        other => panic!("no truth for {other:?} in {r:?}"),
    }
}

/// A request HAProxy did not log: see the module documentation.
const UNLOGGED: &str = "target_closed_before_response";

/// Seconds of the day of a JSON request's `time`.
fn time_of(json_time: &str) -> f64 {
    json_time
        .split_once('T')
        .and_then(|(_, t)| seconds(t.trim_end_matches('Z')))
        .unwrap_or(0.0)
}

/// Counts of one vantage.
#[derive(Default, Debug)]
struct Tally {
    checked: usize,
    right: usize,
    undetermined: usize,
    wrong: Vec<String>,
}

impl Tally {
    fn judge(&mut self, got: &Req, want: &str, also: &[&str], what: &str) {
        self.checked += 1;
        if got.category == want || also.contains(&got.category.as_str()) {
            self.right += 1;
        } else if got.category == "undetermined" {
            self.undetermined += 1;
        } else {
            self.wrong.push(format!(
                "{what} {} at {:?}: {} where the log says {want}",
                got.id, got.client, got.category
            ));
        }
    }
}

/// The analysis' requests with their times: the request's (`back`: its back-end request's,
/// from the timeline, where the front end was seen too).
fn analysed(json: &serde_json::Value, back: bool) -> Vec<(Req, f64)> {
    let times: Vec<f64> = json["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| {
            let sent = r["timeline"].as_array().and_then(|t| {
                t.iter().find(|e| {
                    e["side"] == "back"
                        && e["direction"] == "alb->target"
                        && e["event"].as_str().is_some_and(|x| x.starts_with("GET "))
                })
            });
            match sent {
                Some(e) if back => e["time"].as_str().map_or(0.0, time_of),
                _ => r["time"].as_str().map_or(0.0, time_of),
            }
        })
        .collect();
    requests(json).into_iter().zip(times).collect()
}

/// Front-visible requests by client connection, in time order, against the log's lines of
/// that connection in order.
fn judge_fronts(reqs: &[(Req, f64)], log: &[Logged], wrk_exit: f64, what: &str) -> Tally {
    let mut by_client: HashMap<&str, Vec<&Logged>> = HashMap::new();
    for l in log {
        by_client.entry(l.client.as_str()).or_default().push(l);
    }
    for v in by_client.values_mut() {
        v.sort_by(|a, b| a.received.total_cmp(&b.received).then(a.line.cmp(&b.line)));
    }
    let mut seen: HashMap<&str, Vec<&(Req, f64)>> = HashMap::new();
    for r in reqs {
        if let Some(c) = r.0.client.as_deref() {
            seen.entry(c).or_default().push(r);
        }
    }
    let mut t = Tally::default();
    for (client, rs) in &mut seen {
        rs.sort_by(|a, b| a.1.total_cmp(&b.1));
        let logged = by_client.get(client).cloned().unwrap_or_default();
        for (i, (r, _)) in rs.iter().map(|x| (&x.0, x.1)).enumerate() {
            match logged.get(i) {
                Some(l) => t.judge(r, truth(l, wrk_exit), &[], what),
                None => {
                    assert_eq!(
                        i,
                        rs.len() - 1,
                        "{what}: only a connection's last request goes unlogged"
                    );
                    t.judge(r, UNLOGGED, &[], what)
                }
            }
        }
        assert!(
            logged.len() <= rs.len(),
            "{what}: {client}: {} logged requests, {} found",
            logged.len(),
            rs.len()
        );
    }
    let found: usize = seen.values().map(Vec::len).sum();
    assert!(
        found >= log.len(),
        "{what}: {found} requests for {} logged",
        log.len()
    );
    t
}

/// Back-end requests by back-end connection (their Community ID), in time order, against
/// the log's lines of that connection (by reception, then log order).
fn judge_backs(
    reqs: &[(Req, f64)],
    json: &serde_json::Value,
    log: &[Logged],
    wrk_exit: f64,
    what: &str,
) -> Tally {
    let node: std::net::IpAddr = "10.99.0.1".parse().unwrap();
    let target = Endpoint {
        ip: "10.99.1.11".parse().unwrap(),
        port: 8080,
    };
    let mut by_conn: HashMap<String, Vec<&Logged>> = HashMap::new();
    for l in log {
        let id = community_id(
            Endpoint {
                ip: node,
                port: l.back_port,
            },
            target,
        );
        by_conn.entry(id).or_default().push(l);
    }
    for v in by_conn.values_mut() {
        v.sort_by(|a, b| a.received.total_cmp(&b.received).then(a.line.cmp(&b.line)));
    }
    let back_ids: Vec<Option<String>> = json["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| r["back_community_id"].as_str().map(str::to_string))
        .collect();
    let mut seen: HashMap<&str, Vec<&(Req, f64)>> = HashMap::new();
    for (r, id) in reqs.iter().zip(&back_ids) {
        if let (Some(id), Some("/api/items")) = (id.as_deref(), r.0.path.as_deref()) {
            seen.entry(id).or_default().push(r);
        }
    }
    let mut t = Tally::default();
    for (conn, rs) in &mut seen {
        rs.sort_by(|a, b| a.1.total_cmp(&b.1));
        let logged = by_conn.get(*conn).cloned().unwrap_or_default();
        for (i, (r, _)) in rs.iter().map(|x| (&x.0, x.1)).enumerate() {
            match logged.get(i) {
                // the client's leaving is not on the back end: the ALB's close at its
                // timeout is what shows
                Some(l) if truth(l, wrk_exit) == "client_closed" => {
                    t.judge(r, "client_closed", &["target_idle_timeout", "ok"], what)
                }
                Some(l) => t.judge(r, truth(l, wrk_exit), &[], what),
                None => {
                    assert_eq!(
                        i,
                        rs.len() - 1,
                        "{what}: only a connection's last request goes unlogged"
                    );
                    t.judge(r, UNLOGGED, &[], what)
                }
            }
        }
    }
    let found: usize = seen.values().map(Vec::len).sum();
    assert!(
        found >= log.len(),
        "{what}: {found} back-end requests for {} logged",
        log.len()
    );
    t
}

#[test]
fn busy_recordings_every_request_matches_the_proxy_log_from_every_vantage() {
    let mut report = Vec::new();
    let mut wrong = Vec::new();
    for scenario in ["busy_noid", "busy_traceid"] {
        let dir = "samples/real";
        let log_text = std::fs::read_to_string(format!("{dir}/{scenario}.log")).expect("log");
        let (log, wrk_exit) = read_log(&log_text);
        assert!(log.len() > 150, "{scenario}: {} logged requests", log.len());
        let pcap = std::fs::read(format!("{dir}/{scenario}.pcap")).expect("pcap");
        let both_json = analyze_json(scenario, &pcap, Some(5_000));
        let alb = AlbEndpoints::from_analysis_json(&both_json);
        let cut = cut_capture(&pcap, &alb).expect("cut");
        let back_json = analyze_json(scenario, &cut.back_end, Some(5_000));
        let back = analysed(&back_json, true);
        let front = analysed(&analyze_json(scenario, &cut.front_end, Some(5_000)), false);
        let target = std::fs::read(format!("{dir}/{scenario}.target.pcap")).expect("target pcap");
        let rec_json = analyze_json(scenario, &target, Some(5_000));
        let rec = analysed(&rec_json, true);
        let both = analysed(&both_json, false);
        let both_by_back = analysed(&both_json, true);
        let tallies = [
            ("both", judge_fronts(&both, &log, wrk_exit, "both")),
            (
                "both/back",
                judge_backs(&both_by_back, &both_json, &log, wrk_exit, "both/back"),
            ),
            ("front", judge_fronts(&front, &log, wrk_exit, "front")),
            (
                "back",
                judge_backs(&back, &back_json, &log, wrk_exit, "back"),
            ),
            (
                "rec-b",
                judge_backs(&rec, &rec_json, &log, wrk_exit, "rec-b"),
            ),
        ];
        for (vantage, t) in tallies {
            report.push(format!(
                "{scenario} {vantage}: {} checked, {} right, {} undetermined, {} wrong",
                t.checked,
                t.right,
                t.undetermined,
                t.wrong.len()
            ));
            wrong.extend(t.wrong.into_iter().map(|w| format!("{scenario}: {w}")));
        }
    }
    println!("{}", report.join("\n"));
    assert!(
        wrong.is_empty(),
        "confident wrong answers:\n{}",
        wrong.join("\n")
    );
}
