//! The vantage scoreboard: how right the analysis of a back-end-only or front-end-only cut of a
//! both-legs capture ([`crate::vantage`]) is, taking the both-legs analysis as the truth.
//!
//! Everything is read from the analyses' JSON documents (`serde_json::Value`), which is the
//! stable interface; only [`analyze_json`] touches the library's Rust types.
//!
//! Each request of a cut is matched to one request of the original: by `trace_id` when both
//! carry the same one; else by `client` (ip:port) within 1 s; else by `target` (ip:port) within
//! 1 s, preferring the same method and path, nearest in time. Then it is
//! - **proved**: same category, nothing marked inferred;
//! - **inferred**: same category, but `status_inferred` (or any other `*_inferred` flag) is true,
//!   or some evidence line says "inferred";
//! - **undetermined**: the cut says `undetermined` (the original did not);
//! - **not visible**: the cut states the outcome is not visible (`outcome_not_visible`: an
//!   encrypted front end without keys and without the back end), or counts the request's
//!   encrypted connection among those whose exchanges' outcome is not visible
//!   (`summary.encrypted_front.list`: HTTP/2, whose exchanges are not requests; or, when no
//!   node was recognised, `alb_candidates[].list`: a likely node's TLS connections): honest, not
//!   missed; ok requests of the original stated so are counted apart (`ok_not_visible`);
//! - **wrong**: another category that is not `undetermined` (also an ok request that the cut
//!   calls a failure); counted again as **sure** (`wrong_confident`, `WRONG!` in the details)
//!   when nothing in the cut's request says inferred: a confident wrong answer;
//! - **extra**: no request of the original matches (e.g. counted twice, a health check taken
//!   for a client request).
//!
//! A failed request of the original that no cut request matches is **missed**. Ok requests of the
//! original matched as ok are counted apart (`ok`), unmatched ones as `ok_missed`.
//!
//! **Not visible** (`hidden`) instead of missed or wrong: a failure that happened only on the
//! leg the cut lacks, so no capture from that vantage can hold it ([`not_visible`]):
//! - back end only: a request for which the original found no back-end attempt at all (no
//!   `target`: a 503 the ALB answered without trying one, `no_target_attempt`, or an opaque
//!   front-end exchange, `undetermined`, that no back-end request matched): nothing of it is
//!   on the back-end leg, so no back-end capture can hold it; and a client that left (`client_closed`) while the ALB
//!   took the target's whole answer anyway (the back end is a complete, normal exchange; the
//!   cut may call it ok only with its status marked inferred, else it is wrong);
//! - front end only: a failure behind an encrypted front end (TLS without keys: the client's
//!   requests and the ALB's answers are not readable).

use serde_json::Value;
use std::fmt::Write as _;

/// Analyses capture bytes in-process like `albscope analyze --all --format json` (with
/// `--idle-timeout` when `idle_timeout_ms` is given) and returns the JSON document.
pub fn analyze_json(name: &str, capture: &[u8], idle_timeout_ms: Option<i64>) -> Value {
    analyze_json_told(name, capture, idle_timeout_ms, None)
}

/// [`analyze_json`], told the ALB nodes' addresses and listener ports when `alb` is given (like
/// `--alb-ip` and `--listener-port`).
pub fn analyze_json_told(
    name: &str,
    capture: &[u8],
    idle_timeout_ms: Option<i64>,
    alb: Option<&crate::vantage::AlbEndpoints>,
) -> Value {
    use albscope::alb::AlbConfig;
    use albscope::capture::{CaptureReader, Duration};
    use albscope::diagnose::analyze_capture;
    use albscope::pipeline::PipelineConfig;

    let reader = CaptureReader::from_reader(name, Box::new(std::io::Cursor::new(capture.to_vec())));
    let mut reader = match reader {
        Ok(r) => r,
        Err(e) => return serde_json::json!({ "error": e.to_string() }),
    };
    let mut config = AlbConfig {
        idle_timeout: idle_timeout_ms.map(Duration::from_millis),
        ..AlbConfig::default()
    };
    if let Some(alb) = alb {
        config.alb_ips = alb.nodes.iter().map(|n| n.ip).collect();
        let mut ports: Vec<u16> = alb
            .nodes
            .iter()
            .flat_map(|n| n.listener_ports.clone())
            .collect();
        ports.sort_unstable();
        ports.dedup();
        config.listener_ports = ports;
    }
    let analysis = analyze_capture(&mut reader, &PipelineConfig::default(), config, true);
    let mut out = Vec::new();
    if let Err(e) = albscope::report::write_json(&analysis, &mut out) {
        return serde_json::json!({ "error": e.to_string() });
    }
    serde_json::from_slice(&out).unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
}

/// Seconds since the Unix epoch of an RFC 3339 UTC time like `2025-12-11T16:43:13.180000Z`.
pub fn parse_time(s: &str) -> Option<f64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':');
    let (h, min) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let sec: f64 = t.next()?.parse().ok()?;
    // days from civil (Howard Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3_600 + min * 60) as f64 + sec)
}

/// The fields of one JSON request the scoreboard uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Req {
    /// `id`.
    pub id: String,
    /// `time` in epoch seconds.
    pub time: Option<f64>,
    /// `client` (ip:port), when the front end was seen.
    pub client: Option<String>,
    /// `target` (ip:port), when the back end was seen.
    pub target: Option<String>,
    /// `trace_id`.
    pub trace_id: Option<String>,
    /// `method`.
    pub method: Option<String>,
    /// `path`.
    pub path: Option<String>,
    /// `status` (None when the client got no status).
    pub status: Option<u64>,
    /// `category`.
    pub category: String,
    /// `front_encrypted`: the client spoke TLS to the ALB.
    pub front_encrypted: bool,
    /// Something about the request is marked inferred (see the module documentation).
    pub inferred: bool,
    /// `outcome_not_visible`: the cut states the outcome cannot be seen.
    pub not_visible: bool,
    /// The target's answer reached the ALB (`access_log.target_status_code` is a status).
    pub target_answered: bool,
    /// `candidates`: with `undetermined`, the categories it may be, most likely first.
    pub candidates: Vec<String>,
}

impl Req {
    /// Reads one element of the JSON `requests` array.
    pub fn from_json(v: &Value) -> Req {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let flagged = v.as_object().is_some_and(|m| {
            m.iter()
                .any(|(k, val)| k.ends_with("inferred") && val.as_bool() == Some(true))
        });
        let said = v
            .get("evidence")
            .and_then(Value::as_array)
            .is_some_and(|ev| {
                ev.iter()
                    .filter_map(Value::as_str)
                    .any(|e| e.to_ascii_lowercase().contains("inferred"))
            });
        Req {
            id: s("id").unwrap_or_default(),
            time: s("time").as_deref().and_then(parse_time),
            client: s("client"),
            target: s("target"),
            trace_id: s("trace_id"),
            method: s("method"),
            path: s("path"),
            status: v.get("status").and_then(Value::as_u64),
            category: s("category").unwrap_or_else(|| "?".to_string()),
            front_encrypted: v.get("front_encrypted").and_then(Value::as_bool) == Some(true),
            inferred: flagged || said,
            not_visible: v.get("outcome_not_visible").and_then(Value::as_bool) == Some(true),
            target_answered: v
                .pointer("/access_log/target_status_code")
                .is_some_and(Value::is_u64),
            candidates: v
                .get("candidates")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect(),
        }
    }

    /// Not `ok`, and its outcome visible: a request the analysis states it cannot see the
    /// outcome of (`outcome_not_visible`: an encrypted answer, no keys, no readable other leg)
    /// is neither failed nor ok, so it is no truth a cut can miss.
    pub fn failed(&self) -> bool {
        self.category != "ok" && !self.not_visible
    }

    fn short(&self) -> String {
        let who = self
            .client
            .clone()
            .or_else(|| self.target.clone().map(|t| format!("-> {t}")))
            .unwrap_or_default();
        let what = match (&self.method, &self.path) {
            (Some(m), Some(p)) => format!(" {m} {p}"),
            _ => String::new(),
        };
        let status = self.status.map_or("-".to_string(), |s| s.to_string());
        format!("{} {who}{what} {status} {}", self.id, self.category)
    }
}

/// The requests of an analysis' JSON document.
pub fn requests(analysis: &Value) -> Vec<Req> {
    analysis
        .get("requests")
        .and_then(Value::as_array)
        .map(|rs| rs.iter().map(Req::from_json).collect())
        .unwrap_or_default()
}

/// The verdict on one matched request of a cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Same category, nothing inferred.
    Proved,
    /// Same category, something marked inferred.
    Inferred,
    /// The cut says `undetermined`.
    Undetermined,
    /// The cut states the outcome is not visible.
    NotVisible,
    /// Another category.
    Wrong,
}

/// The verdict on `cut` given the original's `truth`.
pub fn verdict(truth: &Req, cut: &Req) -> Verdict {
    if cut.not_visible {
        Verdict::NotVisible
    } else if cut.category == truth.category {
        if cut.inferred {
            Verdict::Inferred
        } else {
            Verdict::Proved
        }
    } else if cut.category == "undetermined" {
        Verdict::Undetermined
    } else {
        Verdict::Wrong
    }
}

/// Which legs a cut holds: decides which failures it cannot see ([`not_visible`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Both legs (the original).
    Both,
    /// The back end only (ALB <-> targets).
    Back,
    /// The front end only (clients <-> ALB).
    Front,
}

impl Seen {
    /// The legs a row's vantage label holds (`back`, `back+`, `rec-b`: back end; `front`,
    /// `front+`, `rec-f`: front end; anything else both).
    pub fn of_label(label: &str) -> Seen {
        if label.starts_with("back") || label.starts_with("rec-b") {
            Seen::Back
        } else if label.starts_with("front") || label.starts_with("rec-f") {
            Seen::Front
        } else {
            Seen::Both
        }
    }
}

/// True when the original's failed request `truth` happened only on a leg a capture from
/// `seen` lacks (see the module documentation): not counted as missed. `cut` is the cut's
/// matching request, when there is one: it must then say only what the leg shows (`ok`, its
/// status marked inferred).
pub fn not_visible(seen: Seen, truth: &Req, cut: Option<&Req>) -> bool {
    match (seen, cut) {
        // no back-end attempt in the original: nothing of it is on the back-end leg
        (Seen::Back, None) => truth.target.is_none(),
        (Seen::Back, Some(c)) => {
            truth.category == "client_closed"
                && truth.target_answered
                && c.category == "ok"
                && c.inferred
        }
        (Seen::Front, None) => truth.front_encrypted,
        _ => false,
    }
}

/// Counts for one cut (or a sum of cuts).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Score {
    /// Failed requests in the original (the truth).
    pub failed: u64,
    /// Cut requests judged proved (original failed).
    pub proved: u64,
    /// Cut requests judged inferred (original failed).
    pub inferred: u64,
    /// Cut requests judged undetermined.
    pub undetermined: u64,
    /// Failed requests of the original the cut states as not visible.
    pub not_visible: u64,
    /// Cut requests in a wrong category (incl. ok requests called failures).
    pub wrong: u64,
    /// Those of `wrong` that nothing marks inferred: confident wrong answers, the worst outcome.
    pub wrong_confident: u64,
    /// Of `undetermined`: those whose candidates leave out the original's category (an
    /// undetermined with no candidates names none and is not counted).
    pub candidates_miss: u64,
    /// Failed requests of the original no cut request matches, that the cut could have seen.
    pub missed: u64,
    /// Failed requests of the original that happened only on the leg the cut lacks
    /// ([`not_visible`]): neither missed nor wrong.
    pub hidden: u64,
    /// Cut requests matching no request of the original.
    pub extra: u64,
    /// Ok requests of the original found ok in the cut.
    pub ok: u64,
    /// Ok requests of the original no cut request matches.
    pub ok_missed: u64,
    /// Ok requests of the original the cut states as not visible.
    pub ok_not_visible: u64,
    /// One line per wrong / undetermined / missed / extra request.
    pub details: Vec<String>,
    /// The failed requests of the original that were missed.
    pub missed_requests: Vec<Req>,
}

impl Score {
    /// Adds `other`'s counts (not its details).
    pub fn add(&mut self, other: &Score) {
        self.failed += other.failed;
        self.proved += other.proved;
        self.inferred += other.inferred;
        self.undetermined += other.undetermined;
        self.not_visible += other.not_visible;
        self.ok_not_visible += other.ok_not_visible;
        self.wrong += other.wrong;
        self.wrong_confident += other.wrong_confident;
        self.candidates_miss += other.candidates_miss;
        self.missed += other.missed;
        self.hidden += other.hidden;
        self.extra += other.extra;
        self.ok += other.ok;
        self.ok_missed += other.ok_missed;
    }
}

/// How far apart in time two requests may be and still match.
const MATCH_WINDOW_S: f64 = 1.0;

fn close(a: &Req, b: &Req) -> Option<f64> {
    let d = (a.time? - b.time?).abs();
    (d <= MATCH_WINDOW_S).then_some(d)
}

/// One connection of the cut's `summary.encrypted_front.list` or `alb_candidates[].list`: client
/// (`ip:port`, or `ip:` for every port of an address), first and last exchange.
struct OpaqueConn {
    client: String,
    first: f64,
    last: f64,
}

/// The cut's encrypted front-end connections whose exchanges' outcome is not visible: those
/// of a recognised node (`summary.encrypted_front.list`), and, where no node was recognised,
/// the TLS connections of the likely nodes it names (`alb_candidates[].list`, each with its
/// encrypted exchanges counted and the flags to pass).
fn opaque_connections(cut: &Value) -> Vec<OpaqueConn> {
    let listed = |l: &Vec<Value>| -> Vec<OpaqueConn> {
        l.iter()
            .filter_map(|c| {
                let s = |k: &str| c.get(k).and_then(Value::as_str);
                Some(OpaqueConn {
                    client: s("client")?.to_string(),
                    first: parse_time(s("first")?)?,
                    last: parse_time(s("last")?)?,
                })
            })
            .collect()
    };
    let mut out = cut
        .pointer("/summary/encrypted_front/list")
        .and_then(Value::as_array)
        .map(listed)
        .unwrap_or_default();
    for c in cut
        .get("alb_candidates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(l) = c.get("list").and_then(Value::as_array) {
            let shown = listed(l);
            // The list is cut at its first connections; the statement covers every TLS
            // connection of the candidate, so a cut list stands for its clients' addresses
            // over the whole capture.
            let connections = c.get("connections").and_then(Value::as_u64).unwrap_or(0);
            if connections > shown.len() as u64 {
                let mut addresses: Vec<String> = shown
                    .iter()
                    .filter_map(|o| o.client.rsplit_once(':').map(|(ip, _)| format!("{ip}:")))
                    .collect();
                addresses.sort();
                addresses.dedup();
                out.extend(addresses.into_iter().map(|client| OpaqueConn {
                    client,
                    first: f64::NEG_INFINITY,
                    last: f64::INFINITY,
                }));
            }
            out.extend(shown);
        }
    }
    out
}

/// True when the cut counts `t`'s client connection among those whose exchanges' outcome is
/// not visible, around `t`'s time.
fn stated_not_visible(opaque: &[OpaqueConn], t: &Req) -> bool {
    let (Some(client), Some(time)) = (&t.client, t.time) else {
        return false;
    };
    opaque.iter().any(|c| {
        // "ip:" (a cut candidate list) stands for every port of that address.
        let same_client = if c.client.ends_with(':') {
            client.starts_with(&c.client)
        } else {
            &c.client == client
        };
        same_client && time >= c.first - MATCH_WINDOW_S && time <= c.last + MATCH_WINDOW_S
    })
}

/// The index of the original request `c` matches, among the unmatched ones.
fn find_match(truth: &[Req], taken: &[bool], c: &Req) -> Option<usize> {
    let free = || truth.iter().enumerate().filter(|(i, _)| !taken[*i]);
    if let Some(tid) = &c.trace_id {
        if let Some((i, _)) = free().find(|(_, t)| t.trace_id.as_ref() == Some(tid)) {
            return Some(i);
        }
    }
    let nearest = |key: &dyn Fn(&Req) -> bool| -> Option<usize> {
        free()
            .filter(|(_, t)| key(t))
            .filter_map(|(i, t)| {
                let same_request = t.method == c.method && t.path == c.path;
                close(t, c).map(|d| (i, !same_request, d))
            })
            .min_by(|a, b| {
                (a.1, a.2)
                    .partial_cmp(&(b.1, b.2))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .map(|(i, _, _)| i)
    };
    if let Some(client) = &c.client {
        if let Some(i) = nearest(&|t: &Req| t.client.as_ref() == Some(client)) {
            return Some(i);
        }
    }
    if let Some(target) = &c.target {
        if let Some(i) = nearest(&|t: &Req| t.target.as_ref() == Some(target)) {
            return Some(i);
        }
    }
    None
}

/// Scores the analysis `cut` of one cut against the analysis `original` of the whole capture,
/// as a capture holding both legs.
pub fn score(original: &Value, cut: &Value) -> Score {
    score_seen(original, cut, Seen::Both)
}

/// Scores the analysis `cut` of a capture holding the legs `seen` against the analysis
/// `original` of the whole capture.
pub fn score_seen(original: &Value, cut: &Value, seen: Seen) -> Score {
    let truth = requests(original);
    let cut_reqs = requests(cut);
    let mut taken = vec![false; truth.len()];
    let mut s = Score {
        failed: truth.iter().filter(|r| r.failed()).count() as u64,
        ..Score::default()
    };
    for c in &cut_reqs {
        let Some(i) = find_match(&truth, &taken, c) else {
            s.extra += 1;
            s.details.push(format!("extra   {}", c.short()));
            continue;
        };
        taken[i] = true;
        let t = &truth[i];
        if t.failed() && not_visible(seen, t, Some(c)) {
            s.hidden += 1;
            s.details.push(format!(
                "hidden  {}  (truth: {}; not visible from this vantage)",
                c.short(),
                t.short()
            ));
            continue;
        }
        let v = verdict(t, c);
        if v == Verdict::NotVisible {
            if t.failed() {
                s.not_visible += 1;
                s.details
                    .push(format!("n/vis   {}  (truth: {})", c.short(), t.short()));
            } else {
                s.ok_not_visible += 1;
            }
            continue;
        }
        if !t.failed() && v != Verdict::Wrong && v != Verdict::Undetermined {
            s.ok += 1;
            continue;
        }
        match v {
            Verdict::Proved => s.proved += 1,
            Verdict::Inferred => s.inferred += 1,
            Verdict::Undetermined => {
                s.undetermined += 1;
                if t.failed() && candidates_miss(t, c) {
                    s.candidates_miss += 1;
                }
            }
            Verdict::NotVisible => {}
            Verdict::Wrong => {
                s.wrong += 1;
                if !c.inferred {
                    s.wrong_confident += 1;
                }
            }
        }
        if matches!(v, Verdict::Wrong | Verdict::Undetermined) {
            let tag = match v {
                Verdict::Wrong if !c.inferred => "WRONG! ",
                Verdict::Wrong => "wrong  ",
                _ if t.failed() && candidates_miss(t, c) => "undet-x",
                _ => "undet  ",
            };
            s.details
                .push(format!("{tag} {}  (truth: {})", c.short(), t.short()));
        }
    }
    let opaque = opaque_connections(cut);
    for (t, _) in truth.iter().zip(&taken).filter(|(_, taken)| !**taken) {
        if stated_not_visible(&opaque, t) {
            if t.failed() {
                s.not_visible += 1;
                s.details
                    .push(format!("n/vis   {} (its connection)", t.short()));
            } else {
                s.ok_not_visible += 1;
            }
            continue;
        }
        if seen == Seen::Front && t.client.is_none() {
            // a back-end attempt no client request stands for (a proxy's own retry): not a
            // request of the front end at all
            s.details
                .push(format!("no-cli  {}  (no client request)", t.short()));
            continue;
        }
        if t.failed() && not_visible(seen, t, None) {
            s.hidden += 1;
            s.details.push(format!(
                "hidden  {}  (not visible from this vantage)",
                t.short()
            ));
        } else if t.failed() {
            s.missed += 1;
            s.details.push(format!("missed  {}", t.short()));
            s.missed_requests.push(t.clone());
        } else {
            s.ok_missed += 1;
        }
    }
    s
}

/// True when the cut's `undetermined` request `c` names candidates and the original's
/// category `t` is not among them: the candidate list rules out what happened.
fn candidates_miss(t: &Req, c: &Req) -> bool {
    t.category != "undetermined" && !c.candidates.is_empty() && !c.candidates.contains(&t.category)
}

/// One row of the table: a sample, a vantage and its score.
#[derive(Clone, Debug)]
pub struct Row {
    /// The sample file.
    pub sample: String,
    /// `both` (the original against itself), `back` or `front` (its cuts), `back+` or `front+`
    /// (a cut told the ALB nodes), or the label of a real recording ([`score_recording`]).
    pub vantage: String,
    /// What the cut's analysis calls its vantage (JSON `vantage`).
    pub detected: String,
    /// The counts.
    pub score: Score,
    /// Where the packets of the sample went (the same on its three rows).
    pub cut: crate::vantage::CutStats,
    /// Health checks the analysis counted (JSON `health_checks.checks`).
    pub health_checks: u64,
    /// The flags of the likely nodes the analysis names when it recognised none (JSON
    /// `alb_candidates[].flags`), most likely first.
    pub candidates: Vec<String>,
}

/// JSON `alb_candidates[].flags` of an analysis.
pub fn candidates_of(analysis: &Value) -> Vec<String> {
    analysis
        .get("alb_candidates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("flags").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// JSON `health_checks.checks` of an analysis (0 when missing).
pub fn health_checks_of(analysis: &Value) -> u64 {
    analysis
        .pointer("/health_checks/checks")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// Column titles of [`format_table`] after sample, cut and detected vantage.
const COLUMNS: [&str; 14] = [
    "failed",
    "proved",
    "inferred",
    "undet",
    "(cand x)",
    "not vis",
    "wrong",
    "(sure!)",
    "missed",
    "hidden",
    "extra",
    "| ok",
    "ok n/vis",
    "ok missed",
];

/// The numbers of a score in [`COLUMNS`] order.
fn columns(s: &Score) -> [u64; 14] {
    [
        s.failed,
        s.proved,
        s.inferred,
        s.undetermined,
        s.candidates_miss,
        s.not_visible,
        s.wrong,
        s.wrong_confident,
        s.missed,
        s.hidden,
        s.extra,
        s.ok,
        s.ok_not_visible,
        s.ok_missed,
    ]
}

/// One line of the table.
fn table_line(out: &mut String, name: &str, vantage: &str, detected: &str, cells: &[String]) {
    let _ = write!(out, "{name:<46} {vantage:<5} {detected:<15}");
    for (cell, title) in cells.iter().zip(COLUMNS) {
        let _ = write!(out, " {cell:>w$}", w = title.len().max(5));
    }
    out.push('\n');
}

/// The table, one line per row, then per-vantage totals, then the detail lines.
pub fn format_table(rows: &[Row]) -> String {
    let mut out = String::new();
    let titles: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    let numbers = |s: &Score| -> Vec<String> { columns(s).iter().map(u64::to_string).collect() };
    table_line(&mut out, "sample", "cut", "detected", &titles);
    for r in rows {
        table_line(
            &mut out,
            &r.sample,
            &r.vantage,
            &r.detected,
            &numbers(&r.score),
        );
    }
    out.push('\n');
    table_line(&mut out, "", "cut", "", &titles);
    let mut vantages: Vec<&str> = vec!["both", "back", "front", "back+", "front+"];
    for r in rows {
        if !vantages.contains(&r.vantage.as_str()) {
            vantages.push(&r.vantage);
        }
    }
    for v in vantages {
        let n = rows.iter().filter(|r| r.vantage == v).count();
        let name = format!("TOTAL over {n} samples");
        table_line(&mut out, &name, v, "", &numbers(&total(rows, v)));
    }
    out.push('\n');
    for r in rows {
        for d in &r.score.details {
            let _ = writeln!(out, "{:<46} {:<5} {d}", r.sample, r.vantage);
        }
    }
    out
}

/// Totals of the rows of one vantage (`both`, `back` or `front`).
pub fn total(rows: &[Row], vantage: &str) -> Score {
    let mut t = Score::default();
    for r in rows.iter().filter(|r| r.vantage == vantage) {
        t.add(&r.score);
    }
    t
}

/// JSON `vantage` of an analysis (`?` when missing).
pub fn vantage_of(analysis: &Value) -> String {
    analysis
        .get("vantage")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

/// The rows of one capture: the original against itself (`both`), its back-end-only (`back`)
/// and front-end-only (`front`) cut; and for a cut whose analysis does not recognise its
/// vantage, the same cut analysed when told the ALB nodes (`back+`, `front+`). `None` when the
/// capture's analysis does not say `both_legs`.
pub fn score_sample(
    name: &str,
    capture: &[u8],
    idle_timeout_ms: Option<i64>,
) -> Result<Option<Vec<Row>>, String> {
    let original = analyze_json(name, capture, idle_timeout_ms);
    if let Some(e) = original.get("error") {
        return Err(format!("{name}: {e}"));
    }
    if vantage_of(&original) != "both_legs" {
        return Ok(None);
    }
    let alb = crate::vantage::AlbEndpoints::from_analysis_json(&original);
    let cut = crate::vantage::cut_capture(capture, &alb).map_err(|e| format!("{name}: {e}"))?;
    let mut rows = vec![Row {
        sample: name.to_string(),
        vantage: "both".to_string(),
        detected: vantage_of(&original),
        score: score(&original, &original),
        cut: cut.stats.clone(),
        health_checks: health_checks_of(&original),
        candidates: candidates_of(&original),
    }];
    for (vantage, bytes, want) in [
        ("back", &cut.back_end, "back_end_only"),
        ("front", &cut.front_end, "front_end_only"),
    ] {
        let analysis = analyze_json(name, bytes, idle_timeout_ms);
        let detected = vantage_of(&analysis);
        rows.push(Row {
            sample: name.to_string(),
            vantage: vantage.to_string(),
            detected: detected.clone(),
            score: score_seen(&original, &analysis, Seen::of_label(vantage)),
            cut: cut.stats.clone(),
            health_checks: health_checks_of(&analysis),
            candidates: candidates_of(&analysis),
        });
        if detected != want {
            // not recognised alone: what it says when told the ALB (--alb-ip, --listener-port)
            let told = analyze_json_told(name, bytes, idle_timeout_ms, Some(&alb));
            rows.push(Row {
                sample: name.to_string(),
                vantage: format!("{vantage}+"),
                detected: vantage_of(&told),
                score: score_seen(&original, &told, Seen::of_label(vantage)),
                cut: cut.stats.clone(),
                health_checks: health_checks_of(&told),
                candidates: candidates_of(&told),
            });
        }
    }
    Ok(Some(rows))
}

/// The row of a capture recorded from one vantage (e.g. `samples/real/X.target.pcap`, taken on
/// a target's own interface), scored against the both-legs capture `original` of the same
/// events; `vantage` labels the row. Puts a real single-vantage recording next to the cuts.
pub fn score_recording(
    name: &str,
    original: &[u8],
    recording: &[u8],
    idle_timeout_ms: Option<i64>,
    vantage: &str,
) -> Result<Row, String> {
    let mut truth = analyze_json(name, original, idle_timeout_ms);
    let seen = analyze_json(name, recording, idle_timeout_ms);
    for v in [&truth, &seen] {
        if let Some(e) = v.get("error") {
            return Err(format!("{name}: {e}"));
        }
    }
    off_the_recorded_targets(&mut truth, &seen);
    Ok(Row {
        sample: name.to_string(),
        vantage: vantage.to_string(),
        detected: vantage_of(&seen),
        score: score_seen(&truth, &seen, Seen::of_label(vantage)),
        cut: crate::vantage::CutStats::default(),
        health_checks: health_checks_of(&seen),
        candidates: candidates_of(&seen),
    })
}

/// The address of an `ip:port` or `[ip]:port` text.
fn address_of(endpoint: &str) -> &str {
    endpoint
        .rsplit_once(':')
        .map_or(endpoint, |(ip, _)| ip)
        .trim_start_matches('[')
        .trim_end_matches(']')
}

/// A recording taken on some targets' interfaces holds nothing of a request another target
/// served: such requests of `truth` (their target's address is none of the targets `seen`
/// shows) lose their target, so that they count like any request without a back-end attempt
/// on the recorded leg (hidden, not missed). Nothing changes when `seen` shows no target.
fn off_the_recorded_targets(truth: &mut Value, seen: &Value) {
    let recorded: Vec<String> = seen
        .get("targets")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .filter_map(|t| t.get("target").and_then(Value::as_str))
                .map(|t| address_of(t).to_string())
                .collect()
        })
        .unwrap_or_default();
    if recorded.is_empty() {
        return;
    }
    let Some(requests) = truth.get_mut("requests").and_then(Value::as_array_mut) else {
        return;
    };
    for r in requests {
        let off = r
            .get("target")
            .and_then(Value::as_str)
            .is_some_and(|t| !recorded.iter().any(|a| a == address_of(t)));
        if off {
            if let Some(t) = r.get_mut("target") {
                *t = Value::Null;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(requests: Vec<Value>) -> Value {
        json!({ "vantage": "both_legs", "requests": requests })
    }

    /// The original's requests: a 503 the ALB answered without a target, a client that left
    /// while the ALB took the target's 200, a failure behind an encrypted front end.
    fn original() -> Value {
        doc(vec![
            json!({"id": "f0.0", "time": "2025-12-11T16:42:57.000000Z",
                   "client": "1.2.3.4:40000", "category": "no_target_attempt", "status": 503}),
            json!({"id": "f1.0", "time": "2025-12-11T16:42:58.000000Z",
                   "client": "1.2.3.4:40001", "target": "10.0.2.15:80",
                   "trace_id": "Root=1-a", "category": "client_closed",
                   "access_log": {"target_status_code": 200}}),
            json!({"id": "f2.0", "time": "2025-12-11T16:42:59.000000Z",
                   "client": "1.2.3.4:40002", "target": "10.0.2.15:80",
                   "category": "target_generated_error", "status": 500,
                   "front_encrypted": true}),
        ])
    }

    fn back_cut(status_inferred: bool) -> Value {
        doc(vec![json!({
            "id": "b0.0", "time": "2025-12-11T16:42:58.000100Z", "target": "10.0.2.15:80",
            "trace_id": "Root=1-a", "category": "ok", "status": 200,
            "status_inferred": status_inferred
        })])
    }

    #[test]
    fn requests_another_target_served_are_off_a_target_recording() {
        let mut truth = original();
        let seen = json!({"targets": [{"target": "10.0.2.16:80"}], "requests": []});
        off_the_recorded_targets(&mut truth, &seen);
        let s = score_seen(&truth, &doc(vec![]), Seen::Back);
        // the 503 tried no target; the other two were served by 10.0.2.15, whose interface
        // was not recorded (without it, the encrypted-front failure was missed)
        assert_eq!((s.hidden, s.missed), (3, 0), "{:?}", s.details);
        assert_eq!(address_of("[fd00::1]:443"), "fd00::1");
    }

    #[test]
    fn failures_on_the_missing_leg_are_hidden_not_missed() {
        let s = score_seen(&original(), &back_cut(true), Seen::Back);
        // the 503 and the client that left are not visible; the encrypted-front failure is
        assert_eq!((s.hidden, s.missed, s.wrong), (2, 1, 0), "{:?}", s.details);
        let s = score_seen(&original(), &doc(vec![]), Seen::Front);
        assert_eq!((s.hidden, s.missed), (1, 2), "{:?}", s.details);
        let s = score_seen(&original(), &doc(vec![]), Seen::Both);
        assert_eq!((s.hidden, s.missed), (0, 3));
    }

    #[test]
    fn a_client_that_left_read_as_a_proved_ok_is_wrong() {
        let s = score_seen(&original(), &back_cut(false), Seen::Back);
        assert_eq!(
            (s.hidden, s.wrong, s.wrong_confident),
            (1, 1, 1),
            "{:?}",
            s.details
        );
    }

    #[test]
    fn a_front_end_exchange_without_back_end_attempt_is_hidden_from_the_back_end() {
        // an encrypted exchange no back-end request matched: undetermined, no target
        let truth = doc(vec![json!({
            "id": "f0.0", "time": "2025-12-11T16:42:57.000000Z", "client": "1.2.3.4:40000",
            "category": "undetermined", "front_encrypted": true
        })]);
        let s = score_seen(&truth, &doc(vec![]), Seen::Back);
        assert_eq!((s.hidden, s.missed), (1, 0), "{:?}", s.details);
        // with a target in the original, the back end could have seen it: missed
        let truth = doc(vec![json!({
            "id": "f0.0", "time": "2025-12-11T16:42:57.000000Z", "client": "1.2.3.4:40000",
            "target": "10.0.2.15:443", "category": "undetermined", "front_encrypted": true
        })]);
        let s = score_seen(&truth, &doc(vec![]), Seen::Back);
        assert_eq!((s.hidden, s.missed), (0, 1), "{:?}", s.details);
    }

    #[test]
    fn labels_name_the_legs() {
        assert_eq!(Seen::of_label("back+"), Seen::Back);
        assert_eq!(Seen::of_label("rec-b"), Seen::Back);
        assert_eq!(Seen::of_label("front"), Seen::Front);
        assert_eq!(Seen::of_label("both"), Seen::Both);
    }
}
