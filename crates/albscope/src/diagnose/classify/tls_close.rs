//! An encrypted answer the target ended by closing its connection soon after: seen without
//! keys, whether the answer was whole cannot be read, but the close can say it may not have
//! been.
//!
//! An HTTP/1 server ends a connection after a whole answer in one of two ways: with the
//! answer (`Connection: close`: its close follows the answer's last record at once), or when
//! its keep-alive timer fires, at least [`SHORTEST_IDLE_CLOSE`] later. A close between the
//! two, with no request after the answer, is neither: the server stopped in the middle of a
//! stream (a handler that died, a reverse proxy whose upstream failed). An abortive close (an
//! RST, where a server ending a TLS session on purpose sends its close_notify first, RFC 8446
//! 6.1) is none of them either, even right after the answer's last record.

use super::{at, At, Close};
use crate::alb::{front_http2, Leg, SHORTEST_IDLE_CLOSE};
use crate::capture::Duration;
use crate::flow::{Dir, TcpEventKind};
use crate::protocol::{TicketAnswer, TlsBurst, ALERT_SIZED_RECORD};

/// A close this soon after an answer's last record came with the answer (the same flight of
/// writes: `Connection: close`).
const SAME_FLIGHT: Duration = Duration(10_000_000);

/// The target's close that may have cut the encrypted answer of back-end leg `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CloseAfterAnswer {
    /// FIN or RST.
    pub close: Close,
    /// Where.
    pub at: At,
    /// From the end of the answer's data (a trailing TLS 1.3 alert aside) to the close.
    pub after: Duration,
}

/// The target's close right after the encrypted answer of back-end leg `b` (HTTP/1 over TLS,
/// its bytes not read): the first close on the connection after the answer is the target's,
/// no request followed the answer, and the close came neither with the answer (an RST
/// always counts: no close_notify) nor at a keep-alive timer. `None` when any of that is
/// not shown (HTTP/2 offered, the bursts not all kept, the ALB closing first).
pub(super) fn close_after_answer(b: &Leg) -> Option<CloseAfterAnswer> {
    let answer = b.burst.as_ref()?.response.as_ref()?;
    let rec = b.record.as_deref()?;
    let tls = rec.tls.as_ref()?;
    if front_http2(rec) || tls.bursts_dropped > 0 {
        return None;
    }
    // a request after this answer: the ALB took it as whole (the ALB's own close_notify,
    // answering the target's under TLS 1.3, is no request)
    let asked_again = tls.bursts.iter().any(|x| {
        x.dir == Dir::ToServer && x.first > answer.first && x.bytes > ALERT_SIZED_RECORD as u64
    });
    if asked_again {
        return None;
    }
    let close = rec.tcp.events.iter().find(|e| {
        matches!(e.kind, TcpEventKind::Fin | TcpEventKind::Rst) && e.ts >= answer.first
    })?;
    if close.dir != Dir::ToClient {
        return None;
    }
    let after = close.ts.since(answer.data_last());
    let rst = matches!(close.kind, TcpEventKind::Rst);
    let between = after.0 < SHORTEST_IDLE_CLOSE.0 && (rst || after.0 >= SAME_FLIGHT.0);
    between.then_some(CloseAfterAnswer {
        close: if rst { Close::Rst } else { Close::Fin },
        at: at(close.ts, close.pos),
        after,
    })
}

/// The server burst answering back-end leg `b`'s request when it is one TLS 1.3 record that
/// may be the server's session ticket or a whole answer ([`TicketAnswer::TicketOrAnswer`]),
/// no request followed it on the connection (the ALB sends no request before it has the
/// answer to the last one: one after it shows an answer) and the target closed the
/// connection after it, before the ALB did: a target that never answered, or one that
/// answered and closed. (With no close, or the ALB's first, the record stays the answer it
/// most likely is: a request left without one is not shown.)
pub(super) fn ticket_or_answer(b: &Leg) -> Option<&TlsBurst> {
    let answer = b.burst.as_ref()?.response.as_ref()?;
    let rec = b.record.as_deref()?;
    let tls = rec.tls.as_ref()?;
    if tls.tickets.answer(answer) != TicketAnswer::TicketOrAnswer {
        return None;
    }
    let asked_again = tls.bursts.iter().any(|x| {
        x.dir == Dir::ToServer && x.first > answer.first && x.bytes > ALERT_SIZED_RECORD as u64
    });
    let close = rec.tcp.events.iter().find(|e| {
        matches!(e.kind, TcpEventKind::Fin | TcpEventKind::Rst) && e.ts >= answer.first
    })?;
    (!asked_again && close.dir == Dir::ToClient).then_some(answer)
}
