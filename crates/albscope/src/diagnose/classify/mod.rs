//! The taxonomy rules: one [`RequestPath`] in, one [`Finding`] out.
//!
//! - [`back`]: the back-end verdict (a request sent, and what came back);
//! - [`attempt`]: the back-end verdict of a connection that carried no request (connect and
//!   TLS failures);
//! - [`front`]: the client giving up, and the verdict when only the front end is captured;
//! - [`finding`]: reconciling the front and back verdicts and building the finding;
//! - [`access_log`]: the access-log view.

mod access_log;
mod attempt;
mod back;
mod finding;
mod front;
mod tls_close;

#[cfg(test)]
pub(super) use finding::both_verdicts;
pub use finding::diagnose;
pub(super) use finding::{diagnose_verdict, diagnose_words, plain_ok_tally, timeline};

use super::evidence::{At, Cause, Close, Evidence, TellApart};
use super::model::Party;
use crate::alb::{Knowledge, Leg};
use crate::capture::{Duration, PacketPos, Timestamp};
use crate::flow::{Dir, TcpEvent, TcpEventKind};
use crate::taxonomy::{Category, FixFacts};

/// How close the target's close must be to the request to call it a keep-alive race.
const RACE_WINDOW: Duration = Duration(100_000_000);
/// How far before the request a target FIN may come and still count as racing it.
const RACE_LOOKBACK: Duration = Duration(1_000_000_000);
/// What a keep-alive race's close may lag the request's arrival by beyond the round trip: the
/// target's timer and scheduling delay (a busy event loop), and the capture's timestamp jitter.
/// Without the connection's round trip, a close at most this long after the request as
/// captured left the target before, or about when, the request arrived, wherever the capture
/// was taken.
const RACE_SLACK: Duration = Duration(10_000_000);

/// What the back-end leg shows.
pub(super) struct BackVerdict {
    pub category: Category,
    pub evidence: Vec<Evidence>,
    /// The target's relayed status, when it answered in time.
    pub target_status: Option<u16>,
    /// What the client should have got.
    pub expected_status: Option<u16>,
    /// Headline clause.
    pub what: Cause,
    /// Facts for the fix line.
    pub detail: FixFacts,
    /// When `category` is undetermined: the categories it may be, most likely first.
    pub candidates: Vec<Category>,
    /// When `category` is undetermined: what to capture to tell the candidates apart.
    pub tell_apart: Option<TellApart>,
}

/// What the rules read besides the legs.
struct Ctx<'a> {
    known: &'a Knowledge,
    idle: Duration,
    /// Write the words a report quotes (request line, reason phrase, Server and X-Powered-By
    /// text); without them the verdict is the same, fit for counting only.
    words: bool,
}

/// A packet and its time.
fn at(ts: Timestamp, packet: PacketPos) -> At {
    At { time: ts, packet }
}

/// The first bytes of a back-end leg's connection sent in `dir` (either when `None`) at or
/// after `from` that the capture lacks (a gap, or bytes a memory limit skipped), as evidence.
fn back_bytes_not_captured(leg: &Leg, dir: Option<Dir>, from: Timestamp) -> Option<Evidence> {
    let e = events(leg).iter().find(|e| {
        dir.map_or(true, |d| e.dir == d)
            && e.ts >= from
            && matches!(
                e.kind,
                TcpEventKind::Gap { .. } | TcpEventKind::MemorySkipped { .. }
            )
    })?;
    let bytes = match e.kind {
        TcpEventKind::Gap { len, .. } | TcpEventKind::MemorySkipped { len, .. } => len,
        _ => 0,
    };
    Some(Evidence::BytesNotCaptured {
        from: match e.dir {
            Dir::ToServer => Party::Alb,
            Dir::ToClient => Party::Target,
        },
        bytes,
        at: at(e.ts, e.pos),
    })
}

fn events(leg: &Leg) -> &[TcpEvent] {
    leg.record
        .as_ref()
        .map(|r| r.tcp.events.as_slice())
        .unwrap_or(&[])
}

fn is_close(e: &TcpEvent) -> bool {
    e.kind.is_close()
}

/// The close an event is (call on a FIN or RST).
fn close_of(e: &TcpEvent) -> Close {
    if matches!(e.kind, TcpEventKind::Rst) {
        Close::Rst
    } else {
        Close::Fin
    }
}

/// The request time and first response-byte time of a back-end leg.
fn back_times(b: &Leg) -> (Option<Timestamp>, Option<(Timestamp, PacketPos)>) {
    if let Some(ex) = &b.exchange {
        let req = ex.request.as_ref().map(|r| r.first_byte);
        let resp = ex
            .response
            .as_ref()
            .map(|r| (r.first_byte, r.first_pos))
            .or(ex
                .response_error
                .as_ref()
                .map(|e| (e.first_byte, e.first_pos)));
        return (req, resp);
    }
    if let Some(bx) = &b.burst {
        return (
            Some(bx.request.first),
            bx.response.as_ref().map(|r| (r.first, r.first_pos)),
        );
    }
    (None, None)
}

#[cfg(test)]
mod tests;
