//! JSON and NDJSON output.
//!
//! The document is written through output types borrowed from the [`Analysis`]
//! ([`document`], [`metrics`], [`logjoin`], [`stats`], [`logged`]): the schema below is
//! theirs, so renaming a field of the model cannot change the JSON. The model holds typed values
//! (times, durations, endpoints, enums); these types turn them into the schema's strings and
//! seconds.
//!
//! # JSON document (`--format json`), `schema_version` 2
//!
//! Absent values are `null`, in every command's JSON and NDJSON (`analyze`, `check`'s
//! expected files, `explain-log`, `flows`): a value that is not known, not captured or did not
//! happen is never `"-"` or `""`. Object keys must be strings, so the tables keyed by a value
//! spell "none" as a documented key: `"-"` in `statuses` (no status sent) and in `by_target`
//! (no target chosen), `"none"` in `metrics.by_connection`, `"(other targets)"` for targets
//! past the table's limit.
//!
//! Changes from `schema_version` 1 (the only incompatible ones; everything else is as it was):
//! - `requests[].access_log.target_status_code`: a number (`502`), or `null` when the target
//!   sent no status; it was a string (`"502"`, or `"-"` for none), unlike `elb_status_code`.
//! - `requests[].logged.target_status_code`: the same (was `"502"` / `"-"` as logged).
//! - `schema_version` is 2.
//!
//! Added in 2 (compatible): `requests[].community_id` and `requests[].back_community_id`, and
//! `community_id` on every `flows` connection: the Community ID v1 flow hash (seed 0; `1:` +
//! base64 of a SHA-1 over the ordered TCP 4-tuple) that Zeek, Suricata, Arkime, Elastic and
//! Wireshark write, to find the same connection in their logs. Also added (compatible), on
//! failed requests: `wireshark_filter` (the Wireshark display filter that selects exactly the
//! packets `extract` writes for the request: per connection the VXLAN/GENEVE VNI, inner
//! addresses, ports and frame-number range; null when the packets lie in several inputs or the
//! request is not a failure), `wireshark_filters` [{`file`, `filter`}] (one per input holding
//! its packets; `[]` when none) and `extract_command` (the `albscope extract --format pcapng`
//! command line that writes them; null when not a failure).
//!
//! `explain-log` and `flows` have no version field; their one change of the same kind:
//! `explain-log`'s `summary.by_target[].target` is `null` for entries with no target (was
//! `"-"`), and its `entries[].fix` is `null` for `ok` entries (was `""`).
//!
//! Added in 2 (compatible, issue 15): `verdict`; `metrics.cloudwatch.HTTPCode_ELB_503_Count`;
//! `metrics.periods`, `metrics.requests_past_periods` and `metrics.uncounted`. Later
//! (compatible, issue 12): `verdict.groups[].grpc`, `access_log_join.log_clock`,
//! `requests[].client_stream_reset`.
//!
//! Top level object:
//! - `schema_version` (2), `inputs` [file names], `vantage` ("both_legs" | "back_end_only" |
//!   "front_end_only" | "unknown"), `includes_ok` (true with `--all`), `other_connections`.
//! - `verdict`: what the reports say first. {`text` (the verdict's sentences, as the text
//!   report writes them), `requests`, `failed`, `in_flight_at_end`, `outcome_not_visible`
//!   (only when some: as in `summary`), `groups` [the largest
//!   failure groups by category, largest first, at most 3: {`category` (`undetermined` stays
//!   undetermined), `count`, `targets` [{`target` ("ip:port", "(other targets)", null for
//!   no target attempt or back end not captured), `count`}] (largest first, at most 2),
//!   `other_targets`, `candidates` [for `undetermined`: what it may be, most often named
//!   first], `keepalive` [keep-alive facts of the named targets for `keepalive_race` and
//!   `target_closed_before_response`, as in `risks`], `grpc` (only for a group with gRPC
//!   errors, as the verdict's text names them: {`errors` [{`code` (gRPC status code), `name`
//!   ("INTERNAL", ... | null)}] (the target's non-OK `grpc-status` under a non-5xx HTTP status,
//!   most often first), `only` (every failure of the group is one, none an HTTP 5xx)})}],
//!   `other_groups`, `other_failures` (the
//!   groups not named and their failures), `risks` [targets whose keep-alive timeout (observed,
//!   else announced) is below the ALB idle timeout and that had no keep-alive race counted or
//!   named, at most 2: {`target`, `server` ("Node.js", "Apache httpd", ... | null when not
//!   recognised), `observed_s` (its idle closes' median | null), `announced_s` (its
//!   `Keep-Alive: timeout=N` | null), `idle_timeout_s`, `races` (observed, else announced, <
//!   idle timeout), `setting` (the server's setting, e.g. "keepAliveTimeout" | null),
//!   `wanted_s` (idle timeout + 5 s)}], `other_risks`}.
//! - `alb_nodes`: [{`ip`, `evidence` [strings], `listener_ports` [u16], `front_connections`,
//!   `back_connections`, `health_checks`, `sessions` [strings], `front_addresses` (only when
//!   some: other addresses its clients reach it at, linked from the traffic) [{`ip`,
//!   `linked_requests`, `tls_timing` (only when true: linked by the timing of TLS client bursts,
//!   the front end being HTTPS without keys)}]}].
//! - `alb_candidates` (only when no node was recognised and the capture has TLS connections
//!   that could be one, TLS only, no keys, or plain-HTTP requests that nothing answered): the
//!   likely nodes, most likely first, at most 3, never treated as nodes: [{`ip`, `reading`
//!   (`listener`: it accepts TLS on `ports`, the node's front end; `http_listener`: it
//!   received plain-HTTP requests on `ports` and answered none, the node's front end;
//!   `opener`: it opens TLS to private servers on `ports`, the node's back end), `ports`
//!   [u16], `peers` (client addresses or servers), `connections`, `exchanges` (encrypted:
//!   outcome not visible; an `http_listener`'s: its requests), `plays_both` (also opens /
//!   accepts connections),
//!   `ties_with_next` (the next is as likely), `flags` (e.g. "--alb-ip 10.0.1.25
//!   --listener-port 443"), `text`, `list` (its first 16 connections) [{`client`, `server`,
//!   `first`, `last`, `exchanges`}]}].
//! - `clock_offsets` (only with several input files whose clocks disagree): [{`file`,
//!   `ahead_s` (its clock ahead of `reference`; negative: behind), `reference` (file, null when
//!   given with `--time-offset`), `linked_requests` (0 when given), `applied` (timestamps
//!   corrected before the analysis), `residual_s` (what linked requests still show after it)}].
//! - `input_coverage` (only with several input files): [{`file`, `start`, `end` (its first
//!   and last packet, clock-corrected; null without packets), `front` (it showed client
//!   connections), `back` (it showed an ALB node's back end)}]: a vantage one input alone
//!   shows is in the capture only between its `start` and `end`.
//! - `targets`: [{`target` "ip:port", `server`, `powered_by`, `keepalive_timeout_s` (read from
//!   its idle closes), `announced_keepalive_s` (its `Keep-Alive: timeout=N`)}] (null when
//!   unknown).
//! - `timers`: {`idle_timeout_s`, `idle_timeout_source` ("default" | "config" | "inferred"),
//!   `connect_timeout_s`}.
//! - `capture`: {`first`, `last` (RFC 3339 UTC), `duration_s`}.
//! - `summary`: {`requests`, `ok`, `failed`, `in_flight_at_end` (requests still waiting for
//!   their answer when the capture ended: neither ok nor failed), `answered_before_capture` (only when some:
//!   responses whose request was sent before the capture started: not requests),
//!   `outcome_not_visible` (only
//!   when some: requests whose answer is encrypted with the back end not captured, and nothing
//!   the front end shows suggests a failure, or whose target's answer is encrypted (TLS) with
//!   no readable answer to the client: neither ok nor failed, in no category),
//!   `answered_status_not_visible` (only when some: of them, the target's TLS answers),
//!   `encrypted_front` (only when some exchange's outcome is not visible: {`connections`,
//!   `http2_connections`, `exchanges`, `http2_exchanges` (exchanges of connections that
//!   offered HTTP/2, or showed it, are not requests and are counted here only), `list` [the first 1000 connections: {`client`, `alb`,
//!   `http2`, `exchanges`, `first`, `last`}]}), `client_tls_failures` (only when some: client
//!   TLS handshakes with the ALB that failed, no request made: {`count`, `first` [the first
//!   10 by time: {`time`, `client`, `alb`, `alert` (description | null), `alert_from` ("lb" |
//!   "client" | null), `offered` [versions], `selected` (version | null)}]}), `by_category` {category: {`count`,
//!   `generated_by_lb`, `generated_by_target`, `statuses` {"502": n, "-": n} (`"-"`: no
//!   status sent)}}, `by_target` {"ip:port" or "-" (no target chosen): {`requests`, `failed`,
//!   `by_category` {category: n}}}}.
//! - `health_checks`: {`checks`, `failed`, `answered_status_not_visible` (only when some:
//!   checks over TLS the target answered, their status encrypted: neither passed nor failed),
//!   `by_target` {"ip:port": {`checks`, `failed`, `answered_status_not_visible` (only when
//!   some), `statuses` (readable statuses; `"-"`: no answer)}}, `failures` [{`time`, `node`,
//!   `target`, `path`, `problem`, `packet`}]}. Health checks are never counted as client
//!   requests.
//! - `requests`: the failed requests (and ok ones with `--all`) in time order, each:
//!   - `id` (stable: `f<front connection>.<exchange index>` or `b<back connection>.<index>`),
//!     `time` (request start, RFC 3339), `client` "ip:port" | null (front end not captured),
//!     `client_ip` (also from X-Forwarded-For when only the back end was captured), `alb`
//!     "ip:port" (back end only: node address and the X-Forwarded-Port listener port) | null,
//!     `target` "ip:port" | null, `community_id` (Community ID v1 of the client's connection,
//!     null when the front end was not captured), `back_community_id` (of the ALB's connection
//!     to the target, null when no back-end attempt was captured), `method`, `path`, `host`
//!     (null when not readable),
//!     `request` (for display: "GET /x  (Host: h)" or why it cannot be shown);
//!   - `status` (u16 | null), `status_inferred` (true when the front end was not captured and
//!     the status is what the ALB would have sent), `front_encrypted` (the client's request
//!     was opaque TLS), `outcome_not_visible` (only when true: see `summary`), `decrypted` (only when some leg was read from decrypted TLS with
//!     `--tls-keylog`: its legs, `["front"]`, `["back"]` or `["front", "back"]`),
//!     `generated_by` ("lb" | "target" | null),
//!     `category` (DOMAIN.md names verbatim, plus "undetermined"), `candidates` (with
//!     "undetermined" from a capture that cannot tell: the categories it may be, most likely
//!     first; `[]` otherwise), `headline`;
//!   - `trace_id` (X-Amzn-Trace-Id | null), `target_server` (Server header | null);
//!   - `client_stream_reset` (only for an HTTP/2 client whose stream the ALB reset instead of
//!     answering with a status): {`code`, `name` ("REFUSED_STREAM", ... | null),
//!     `target_received` (true: the back end shows the target got the request; false: the back
//!     end was captured and shows no such request; null: not captured then)};
//!   - `access_log`: {`request_creation_time`, `request_processing_time`,
//!     `target_processing_time`, `response_processing_time` (seconds; -1 when the step never
//!     happened; null when the leg that would show it was not captured), `elb_status_code`
//!     (460 when the client closed first), `target_status_code` (null when none), `trace_id`};
//!   - `timeline`: [{`time`, `rel_ms` (from the request's first byte), `side` ("front" |
//!     "back"), `direction` ("client->alb" | "alb->client" | "alb->target" | "target->alb"),
//!     `event`, `packet` ("#12" or "file.pcap#12" | null)}];
//!   - `evidence` [strings naming packets, timers, bytes], `fix` (string | null), `notes`
//!     [ambiguities, missing legs], `pairing` ("headers" | "time_order" | "http2_connection"
//!     (a stream of an HTTP/2 front-end connection: `client` is that connection's) |
//!     "unpaired");
//!   - `logged` (only with `--access-log`, absent when no log entry joined): the joined log
//!     line {`source` "file:line", `joined_by` ("trace_id" | "client_time" | "target_time"),
//!     `time`,
//!     `request_creation_time` (RFC 3339 | null), `client`, `target` (null for `-`),
//!     `request_processing_time`, `target_processing_time`, `response_processing_time`
//!     (seconds, -1 as logged), `elb_status_code`, `target_status_code` (null for `-`),
//!     `request`, `trace_id`, `error_reason`, `disagreements` [one sentence per field where the
//!     log and the capture's `access_log` view differ; empty when they agree]}.
//! - `requests_not_kept`: requests (failed ones, or all with `--all`) past `--max-requests`:
//!   counted in `summary` and `metrics`, not listed in `requests`.
//! - `alb_limits`: the ALB layer against its limits: {`pairing_budget_bytes`
//!   (`--pairing-memory`), `pairing_peak_bytes` (estimated; 0 in expected reports),
//!   `legs_paired_early` (paired before their window closed because the budget was reached),
//!   `late_legs_dropped`, `front_legs_decided_early` (only when not 0: failed front-end
//!   requests called "back end not captured" before their node's back end showed, past 4 096
//!   waiting, whose back end was captured at their time after all), `nodes_over_limit`, `targets_over_limit` (connections of nodes and
//!   targets past 10 000 known, not counted one by one), `sessions_over_limit`,
//!   `resets_not_followed` (only when not 0: target resets at a request diagnosed without the
//!   connects after them, past 256 on one target or 10 000 in all)}. Per-target
//!   tables (`summary.by_target`, `metrics.by_target`, `health_checks.by_target`) give the
//!   first 1 000 targets a row each and the rest share `"(other targets)"`.
//! - `stats`: the pipeline's run statistics (inputs, packets, per-layer counters, `problems`).
//! - `metrics` (over every request, ok ones included, for the window in `capture`):
//!   - `method`: how latency percentiles are computed (streaming log-bucket histogram, within
//!     1 % of exact; max exact);
//!   - `cloudwatch`: {`RequestCount`, `HTTPCode_ELB_502_Count`, `HTTPCode_ELB_503_Count`,
//!     `HTTPCode_ELB_504_Count`, `HTTPCode_ELB_5XX_Count`, `HTTPCode_Target_2XX_Count` ..
//!     `_5XX_Count`,
//!     `TargetConnectionErrorCount`, `TargetTLSNegotiationErrorCount`, `TargetResponseTime`
//!     {`count`, `p50_s`, `p90_s`, `p99_s`, `max_s`, `mean_s`} (null when nothing measured),
//!     `elb_codes_inferred` (ELB codes inferred from the back end)};
//!   - `by_target`: {"ip:port" or "-": {`requests`, `failed`, `by_category`, `latency`, `fresh`
//!     and `reused` (the same four fields for requests on a connection opened for them / on a
//!     kept-alive one), `opened_before_capture` (the same, only when some requests were the
//!     first seen on a connection whose SYN is not in the capture: fresh or reused unknown)}};
//!   - `by_connection`: {"fresh" | "reused" | "opened_before_capture" | "none": {`requests`,
//!     `failed`, `by_category`, `latency`}};
//!   - `periods`: [the same counts per 60 s period aligned to the wall-clock minute, as
//!     CloudWatch publishes them, only periods with a request, in time order: {`start` (RFC
//!     3339, second 00), `period_s` (60), `RequestCount`, `HTTPCode_ELB_502_Count`,
//!     `HTTPCode_ELB_503_Count`, `HTTPCode_ELB_504_Count`, `HTTPCode_ELB_5XX_Count`,
//!     `HTTPCode_Target_2XX_Count` .. `_5XX_Count`, `TargetConnectionErrorCount`,
//!     `TargetTLSNegotiationErrorCount`, `TargetResponseTime_avg_s` (null when none),
//!     `elb_codes_inferred`}]; a request counts in the minute it arrived; at most 10 080
//!     periods (a week);
//!   - `requests_past_periods`: requests in periods past that limit (in the sums only);
//!   - `uncounted`: [{`metric` (a CloudWatch name, `*` for a family | null), `reason`
//!     ("back_end_not_captured" | "front_end_not_captured" | "no_alb_recognised")}]: what
//!     this vantage cannot count fully (empty with both legs).
//! - `access_log_join` (only with `--access-log`): {`files`, `entries`, `malformed_lines`,
//!   `requests` (captured client requests offered), `joined`, `joined_by_trace_id`,
//!   `joined_by_client_time`, `joined_by_target_time`, `with_disagreements`, `disagreeing_requests` [request ids, ok
//!   ones included], `requests_without_entry`,
//!   `entries_without_request` (inside the capture's time span), `entries_outside_capture`,
//!   `entries_not_indexed` (read past `--max-log-entries`), `log_clock` (only when the log's
//!   clock disagreed with the capture's and its times were corrected before the join:
//!   {`ahead_s` (log minus capture; negative: behind), `requests` (trace-id joins measured)}),
//!   `unlogged_requests` [{`id`, `time`, `client`, `request`, `status`, `category`}] and
//!   `uncaptured_entries` [{`source`, `time`, `client`, `request`, `elb_status_code`,
//!   `trace_id`}] (each at most 20)}.
//!
//! # NDJSON (`--format ndjson`)
//! One request object per line (the same objects as `requests` above, with `"record":
//! "request"`), then one final line with everything else and `"record": "summary"`.

/// Version of the JSON document; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 2;

mod direct;
mod document;
mod logged;
mod logjoin;
mod metrics;
mod request;
mod stats;
mod verdict;

pub use logged::LoggedOut;

use crate::diagnose::Analysis;
use document::DocumentOut;
use serde_json::Value;
use std::io::{self, Write};

/// Writes the analysis as one pretty-printed JSON document: the members before `requests`
/// and after it through `serde_json`, the kept requests straight from the findings
/// ([`request::write_requests`]).
pub fn write_json(analysis: &Analysis, out: &mut dyn Write) -> io::Result<()> {
    write_json_on(analysis, out, 1)
}

/// [`write_json`] on up to `threads` threads (2 or more: the kept requests are written on two,
/// in runs, see [`request::write_requests_on`]); the same bytes for every value.
pub fn write_json_on(analysis: &Analysis, out: &mut dyn Write, threads: usize) -> io::Result<()> {
    let doc = DocumentOut::new(analysis);
    // `{ head members }` without its closing line ...
    let mut head = HoldBack::new(&mut *out);
    serde_json::to_writer_pretty(&mut head, &doc.head).map_err(io::Error::other)?;
    if head.held() != b"\n}" {
        return Err(io::Error::other("JSON head does not end its object"));
    }
    // ... `requests` ...
    out.write_all(b",\n  \"requests\": ")?;
    request::write_requests_on(analysis, &mut *out, threads)?;
    // ... and `{ tail members }` without its opening brace.
    out.write_all(b",")?;
    let mut tail = SkipFirst::new(&mut *out);
    serde_json::to_writer_pretty(&mut tail, &doc.tail).map_err(io::Error::other)?;
    writeln!(out)
}

/// Writes one request per line, then a summary line (each line's keys sorted, as a
/// [`Value`] writes them).
pub fn write_ndjson(analysis: &Analysis, out: &mut dyn Write) -> io::Result<()> {
    let mut p = direct::Pretty::at(0);
    for r in &analysis.requests {
        p.buf.clear();
        request::write_request(&mut p, r, analysis)?;
        let mut v: Value = serde_json::from_slice(&p.buf).map_err(io::Error::other)?;
        tag(&mut v, "request");
        serde_json::to_writer(&mut *out, &v).map_err(io::Error::other)?;
        writeln!(out)?;
    }
    let mut v = serde_json::to_value(DocumentOut::new(analysis)).map_err(io::Error::other)?;
    tag(&mut v, "summary");
    serde_json::to_writer(&mut *out, &v).map_err(io::Error::other)?;
    writeln!(out)
}

fn tag(v: &mut Value, kind: &str) {
    if let Value::Object(m) = v {
        m.insert("record".into(), Value::String(kind.into()));
    }
}

/// A writer passing everything on but its last two bytes (kept in [`HoldBack::held`]).
struct HoldBack<'w> {
    out: &'w mut dyn Write,
    held: Vec<u8>,
}

impl<'w> HoldBack<'w> {
    fn new(out: &'w mut dyn Write) -> Self {
        HoldBack {
            out,
            held: Vec::with_capacity(4),
        }
    }

    /// The bytes not passed on.
    fn held(&self) -> &[u8] {
        &self.held
    }
}

impl Write for HoldBack<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.held.extend_from_slice(buf);
        let pass = self.held.len().saturating_sub(2);
        if pass > 0 {
            self.out.write_all(&self.held[..pass])?;
            self.held.drain(..pass);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A writer passing everything on but the first byte.
struct SkipFirst<'w> {
    out: &'w mut dyn Write,
    skipped: bool,
}

impl<'w> SkipFirst<'w> {
    fn new(out: &'w mut dyn Write) -> Self {
        SkipFirst {
            out,
            skipped: false,
        }
    }
}

impl Write for SkipFirst<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let rest = match (self.skipped, buf.split_first()) {
            (false, Some((_, rest))) => {
                self.skipped = true;
                rest
            }
            _ => buf,
        };
        self.out.write_all(rest)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
