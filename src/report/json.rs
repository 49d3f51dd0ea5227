//! JSON and NDJSON output.
//!
//! # JSON document (`--format json`), `schema_version` 1
//!
//! Top level object:
//! - `schema_version` (1), `inputs` [file names], `vantage` ("both_legs" | "back_end_only" |
//!   "front_end_only" | "unknown"), `includes_ok` (true with `--all`), `other_connections`.
//! - `alb_nodes`: [{`ip`, `evidence` [strings], `listener_ports` [u16], `front_connections`,
//!   `back_connections`, `health_checks`, `sessions` [strings]}].
//! - `targets`: [{`target` "ip:port", `server`, `powered_by`, `keepalive_timeout_s`}] (null
//!   when unknown).
//! - `timers`: {`idle_timeout_s`, `idle_timeout_source` ("default" | "config" | "inferred"),
//!   `connect_timeout_s`}.
//! - `capture`: {`first`, `last` (RFC 3339 UTC), `duration_s`}.
//! - `summary`: {`requests`, `ok`, `failed`, `by_category` {category: {`count`,
//!   `generated_by_lb`, `generated_by_target`, `statuses` {"502": n, "-": n}}}, `by_target`
//!   {"ip:port" or "-": {`requests`, `failed`, `by_category` {category: n}}}}.
//! - `health_checks`: {`checks`, `failed`, `by_target` {"ip:port": {`checks`, `failed`,
//!   `statuses`}}, `failures` [{`time`, `node`, `target`, `path`, `problem`, `packet`}]}.
//!   Health checks are never counted as client requests.
//! - `requests`: the failed requests (and ok ones with `--all`) in time order, each:
//!   - `id` (stable: "f<front connection>.<exchange index>" or "b<back connection>.<index>"),
//!     `time` (request start, RFC 3339), `client` "ip:port" | null, `alb` "ip:port" | null,
//!     `target` "ip:port" | null, `method`, `path`, `host` (null when not readable),
//!     `request` (for display: "GET /x  (Host: h)" or why it cannot be shown);
//!   - `status` (u16 | null), `status_inferred` (true when the front end was not captured and
//!     the status is what the ALB would have sent), `front_encrypted` (the client's request
//!     was opaque TLS), `generated_by` ("lb" | "target" | null),
//!     `category` (DOMAIN.md names verbatim, plus "undetermined"), `headline`;
//!   - `trace_id` (X-Amzn-Trace-Id | null), `target_server` (Server header | null);
//!   - `access_log`: {`request_creation_time`, `request_processing_time`,
//!     `target_processing_time`, `response_processing_time` (seconds; -1 when the step never
//!     happened; null when the leg that would show it was not captured), `elb_status_code`
//!     (460 when the client closed first), `target_status_code` ("-" when none), `trace_id`};
//!   - `timeline`: [{`time`, `rel_ms` (from the request's first byte), `side` ("front" |
//!     "back"), `direction` ("client->alb" | "alb->client" | "alb->target" | "target->alb"),
//!     `event`, `packet` ("#12" or "file.pcap#12" | null)}];
//!   - `evidence` [strings naming packets, timers, bytes], `fix` (string | null), `notes`
//!     [ambiguities, missing legs], `pairing` ("headers" | "time_order" | "unpaired").
//! - `stats`: the pipeline's run statistics (inputs, packets, per-layer counters, `problems`).
//!
//! # NDJSON (`--format ndjson`)
//! One request object per line (the same objects as `requests` above, with `"record":
//! "request"`), then one final line with everything else and `"record": "summary"`.

use crate::diagnose::Analysis;
use serde_json::Value;
use std::io::{self, Write};

/// Writes the analysis as one pretty-printed JSON document.
pub fn write_json(analysis: &Analysis, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, analysis).map_err(io::Error::other)?;
    writeln!(out)
}

/// Writes one request per line, then a summary line.
pub fn write_ndjson(analysis: &Analysis, out: &mut dyn Write) -> io::Result<()> {
    for r in &analysis.requests {
        let mut v = serde_json::to_value(r).map_err(io::Error::other)?;
        tag(&mut v, "request");
        serde_json::to_writer(&mut *out, &v).map_err(io::Error::other)?;
        writeln!(out)?;
    }
    let mut v = serde_json::to_value(analysis).map_err(io::Error::other)?;
    if let Value::Object(m) = &mut v {
        m.remove("requests");
    }
    tag(&mut v, "summary");
    serde_json::to_writer(&mut *out, &v).map_err(io::Error::other)?;
    writeln!(out)
}

fn tag(v: &mut Value, kind: &str) {
    if let Value::Object(m) = v {
        m.insert("record".into(), Value::String(kind.into()));
    }
}
