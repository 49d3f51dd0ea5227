//! What a finding says, as values: the facts behind it ([`Evidence`]), its cause ([`Cause`])
//! and its notes ([`Note`]). The report layer writes them as sentences.

use super::model::{LegKind, Party, Text};
use crate::alb::PairingNote;
use crate::capture::{Duration, PacketPos, Timestamp};
use crate::flow::{ConnKey, Endpoint};
use crate::protocol::{H2ErrorCode, ResponseErrorReason};
use std::net::IpAddr;

/// A packet and its time.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct At {
    /// When.
    pub time: Timestamp,
    /// Which packet.
    pub packet: PacketPos,
}

/// How a TCP connection was closed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Close {
    /// FIN.
    Fin,
    /// RST.
    Rst,
}

/// How a client stopped an answer it was receiving.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ClientStop {
    /// HTTP/2: it reset the request's stream (`RST_STREAM`, e.g. `CANCEL`), keeping the
    /// connection.
    StreamReset(H2ErrorCode),
    /// It closed the connection (FIN or RST).
    Close(Close),
}

/// An ICMP error as the capture shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Icmp {
    /// Its description, e.g. `host unreachable`.
    pub description: String,
    /// ICMP type.
    pub icmp_type: u8,
    /// ICMP code.
    pub code: u8,
}

/// A request sent on a kept-alive connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Reuse {
    /// The request's 1-based number on the connection.
    pub number: u32,
    /// How long the connection was idle before it.
    pub idle_before: Option<Duration>,
}

/// What a front-end-only inference concludes from the ALB's status and timing.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Inference {
    /// A 504 this long after the request, inside the window where the connect timeout, the TLS
    /// handshake timeout (and an idle timeout of that length) all give one.
    GatewayTimeoutAmbiguous {
        /// Request to answer.
        elapsed: Duration,
        /// The ALB's connect timeout.
        connect: Duration,
    },
    /// A 502 this long after the request: the front end cannot tell which back-end failure;
    /// the timing rules out some ([`BadGatewayPhase`]).
    BadGatewayAmbiguous {
        /// Request to answer.
        elapsed: Duration,
        /// Where that falls among the ALB's back-end steps and timers.
        phase: BadGatewayPhase,
        /// The ALB's connect timeout (also the TLS handshake timeout).
        connect: Duration,
    },
    /// The ALB ended the client's HTTP/2 stream with `RST_STREAM` and no status this long
    /// after the request: its way of failing a request it could not get the target's answer
    /// for (where an ALB answers 502 or 504); the timing rules out some back-end failures.
    StreamResetAmbiguous {
        /// Request to reset.
        elapsed: Duration,
        /// Where that falls among the ALB's back-end steps and timers.
        phase: BadGatewayPhase,
        /// The ALB's connect timeout (also the TLS handshake timeout).
        connect: Duration,
        /// The reset also falls where an idle timeout of this length ends (the ALB's, when
        /// known; else the whole seconds it came after).
        idle: Option<Duration>,
    },
    /// A 503: no healthy target.
    NoHealthyTarget,
    /// An encrypted answer this long after the request, where an ALB timer ends (the idle
    /// timeout, or the connect and TLS handshake timeouts): possibly the ALB's 504.
    EncryptedAnswerAtTimer {
        /// Request to answer.
        elapsed: Duration,
        /// The timer it matches.
        timer: AlbTimer,
        /// That timer's length.
        length: Duration,
    },
    /// A short encrypted answer, then the ALB closed the client's connection: possibly the
    /// ALB's own error page.
    ShortAnswerThenClose {
        /// Bytes of the answer.
        bytes: u64,
    },
}

/// Where a front-end-only 502 falls among the ALB's back-end steps, by its time after the
/// request: what the target could have done by then. The connect lasts less than the connect
/// timeout (its SYN retransmitted until then), the TLS handshake less than the same again, and
/// a keep-alive race fails at once.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BadGatewayPhase {
    /// Within a second: any back-end failure that gives a 502 (a refused connect, ICMP, the
    /// target closing, a keep-alive race, a failed TLS handshake, a bad answer, the
    /// deregistration delay ending).
    Immediate,
    /// Later, while a connect can still be going on (its SYN retransmitted): not a keep-alive
    /// race.
    DuringConnect,
    /// At the connect timeout: a TLS handshake that timed out after an immediate connect
    /// (documented as a 502), or the connect timeout itself answered 502 (an ALB answers it
    /// 504; a proxy in its place may not).
    AtConnectTimeout,
    /// After the connect timeout, before twice it: a TLS handshake timeout after a slow
    /// connect, or the target failing after the connect and handshake; no connect failure.
    DuringHandshake,
    /// Twice the connect timeout or later: the connect and any TLS handshake are over; the
    /// target failed the request (closed, a bad answer) or the deregistration delay ended.
    AfterHandshake,
}

/// An ALB timer a front-end answer's timing can match.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AlbTimer {
    /// The idle timeout (a 504 when the target stays silent).
    Idle,
    /// The back-end connect timeout, or a TLS handshake timeout after a connect (a 504).
    ConnectOrHandshake,
}

/// What to capture to tell a front-end-only finding's candidates apart.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TellApart {
    /// A 502: the back end shows the connect attempt and what the target sent (RST, ICMP,
    /// FIN, bytes, TLS alert).
    BadGateway,
    /// A 504 near the connect timeout: the back end shows an unanswered SYN (connect timeout),
    /// an unfinished TLS handshake, or a request without answer (idle timeout).
    GatewayTimeout,
    /// A 5xx without a Server header: the back end shows whether a target sent it.
    WhoAnswered,
    /// An HTTP/2 stream the ALB ended with `RST_STREAM` and no status (front end only): the
    /// back end shows which failure it stood for, or that no target was tried.
    StreamReset,
    /// The ALB closed the back-end connection before any answer (back end only): the front end
    /// shows whether the client left first (460) or the ALB answered 502 (deregistration).
    ClientOrAlbClose,
    /// The ALB closed the back-end connection at the idle timeout (back end only): a client
    /// that gave up earlier looks the same from there; the front end shows which.
    IdleOrClientClosed,
    /// An encrypted front end alone: the back end (or the client's TLS keys) shows the status.
    EncryptedFront,
    /// An ALB 502/504 whose node's back end is captured but shows no attempt for it: the
    /// mirror lost the attempt; the mirror's drops and truncation, and which ENIs it covers,
    /// say where.
    AttemptNotCaptured,
    /// The ALB closed the back-end connection in the middle of a response body (back end
    /// only, or the front end encrypted): its idle timeout cutting a stalled stream, the client
    /// gone before the answer reached it, or the client stopping the answer after its headers;
    /// the front end shows which.
    CutOrClientLeft,
    /// The target closed a connection the capture does not show idle before the request (its
    /// previous response lost, or opened before the capture): the idle gap before the request
    /// against the target's keep-alive timeout tells a keep-alive race from a close before
    /// answering.
    IdleBeforeRequest,
    /// A connect that failed before any request, seen from the back end alone and off any
    /// health-check cadence: a failed health check looks the same; the front end, or a capture
    /// long enough to show the checks' cadence, tells them apart.
    HealthCheckOrRequest,
    /// The target closed soon after an encrypted answer (back end only, no keys): the front
    /// end (the status and the body the client got) or the target's TLS keys show whether the
    /// answer was whole.
    AnswerCutOrWhole,
    /// One TLS 1.3 record after the request that may be a session ticket or an answer (back
    /// end only, no keys): the front end or the target's TLS keys tell.
    TicketOrAnswer,
    /// The target closed soon after a request whose idle gap matches its keep-alive timeout,
    /// on a connection whose handshake is not in the capture: its round trip orders the close
    /// and the request's arrival.
    RoundTrip,
    /// The target reset a kept-alive connection after an idle gap, as the request arrived,
    /// without a FIN before, and its keep-alive timeout is not known: the timeout (its setting,
    /// or its own idle closes) and whether it refused new connections right after tell an
    /// abortive idle close from a reset of the request.
    KeepaliveSetting,
    /// The target closed a kept-alive connection as a request arrived after an idle gap within
    /// the spread its own idle closes could have (no shorter than the shortest, off the
    /// usual one): its keep-alive setting and how its server checks idle connections (a
    /// periodic sweep), or its own log of the request, tell a race from a close before
    /// answering.
    TimerSweep,
}

/// Why the capture does not show how long a connection was idle before a request.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum IdleUnseen {
    /// Bytes of the target's previous response on the connection are missing from the capture
    /// (mirror loss, truncation): when it ended is not known.
    PreviousResponseLost,
    /// The connection was open before the capture started (no SYN seen): what it carried
    /// before, and when, is not in the capture.
    OpenedBeforeCapture,
}

/// Where a target's close fell against the arrival of a request on a kept-alive connection,
/// from the times the capture shows and the connection's round trip (its handshake).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CloseOrder {
    /// The close left the target before the request reached it, or within about one round
    /// trip of its arrival: the two crossed (a keep-alive race when the idle gap matches).
    Crossed,
    /// The close left the target well after the request reached it: the target held the
    /// request and then closed (no race).
    AfterArrival,
    /// The close came soon after the request, but without the connection's round trip the
    /// capture cannot tell whether it left the target before the request arrived.
    Unordered,
}

/// A connection other than the request's own that its evidence rests on (e.g. a refused
/// connect after a reset): where `extract` finds it again.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct CitedConn {
    /// Mirror session, opener and responder.
    pub key: ConnKey,
    /// Its first packet and when it was seen.
    pub first: (Timestamp, PacketPos),
    /// Its last packet and when it was seen.
    pub last: (Timestamp, PacketPos),
}

/// One fact behind a finding, naming packets, timers and bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum Evidence {
    /// The ALB's request to the target is not readable (bytes missing).
    RequestNotReadable {
        /// The target.
        target: Endpoint,
    },
    /// The ALB sent the request to the target.
    RequestSent {
        /// Method and request target; none for TLS application data.
        request: Option<(Text, Text)>,
        /// The target.
        target: Endpoint,
        /// Where.
        at: At,
        /// On a reused connection.
        reuse: Option<Reuse>,
    },
    /// The target closed before any response byte, `since_request` after (negative: before)
    /// the request.
    TargetClosedNearRequest {
        /// How.
        close: Close,
        /// Where.
        at: At,
        /// Close time minus request time.
        since_request: Duration,
    },
    /// HTTP/2: the target reset the request's stream (`RST_STREAM`) before any response.
    StreamReset {
        /// Its error code.
        code: H2ErrorCode,
        /// Where.
        at: At,
        /// Reset time minus request time.
        since_request: Duration,
    },
    /// HTTP/2 front end: the ALB ended the request's stream with `RST_STREAM` instead of any
    /// status.
    AlbResetStream {
        /// Its error code.
        code: H2ErrorCode,
        /// Where.
        at: At,
        /// Reset time minus the request's arrival.
        since_request: Duration,
    },
    /// HTTP/2: the target's `GOAWAY` names a last stream id below the request's stream: the
    /// stream was refused unprocessed.
    GoawayRefusedStream {
        /// The request's stream id.
        stream: u32,
        /// The GOAWAY's last stream id.
        last_stream_id: u32,
        /// Its error code.
        code: H2ErrorCode,
        /// Where.
        at: At,
        /// GOAWAY time minus request time (negative: the ALB opened the stream after it).
        since_request: Duration,
    },
    /// gRPC: the target answered the call with a server-error status (in its trailers).
    TargetGrpcError {
        /// The gRPC status code.
        status: u32,
        /// `grpc-message`.
        message: Option<String>,
    },
    /// The target's keep-alive timeout (seen on its other connections) matches the idle gap.
    KeepaliveMatches {
        /// The keep-alive timeout.
        keepalive: Duration,
    },
    /// The target's `Keep-Alive: timeout=N` response header (seen on its earlier responses):
    /// the keep-alive timeout it announces, and whether the idle gap before the request matches
    /// it.
    KeepaliveAnnounced {
        /// The announced timeout.
        timeout: Duration,
        /// The idle gap before the request matches it.
        idle_matches: bool,
    },
    /// The order of the target's close and the request's arrival, from their times and the
    /// connection's round trip.
    CloseOrder {
        /// What the times say.
        order: CloseOrder,
        /// Close time minus request time, as captured (negative: the close came first).
        since_request: Duration,
        /// The connection's round trip (from its handshake), when captured; else the one
        /// its node and target show on other connections' handshakes.
        round_trip: Option<Duration>,
        /// How many other connections' handshakes (of the same node and target) the round
        /// trip comes from; `None` when it is the connection's own.
        from_other_connections: Option<usize>,
    },
    /// How long the connection was idle before the request is not in the capture.
    IdleNotVisible {
        /// Why.
        why: IdleUnseen,
    },
    /// The target's Server header.
    TargetServer {
        /// Its value.
        server: String,
    },
    /// The target sent nothing; the ALB closed `elapsed` after sending the request.
    AlbClosedSilentTarget {
        /// How.
        close: Close,
        /// Where.
        at: At,
        /// Request to close.
        elapsed: Duration,
    },
    /// The target's reply came after the ALB had given up.
    LateReply {
        /// Its status and reason, when readable.
        status: Option<(u16, String)>,
        /// Request to reply.
        after: Duration,
        /// The reply's first packet.
        packet: PacketPos,
        /// The ALB's RST answering it.
        alb_rst: Option<PacketPos>,
    },
    /// The time the ALB took matches its idle timeout.
    MatchesIdleTimeout {
        /// Request to the ALB's close.
        elapsed: Duration,
        /// The idle timeout.
        idle: Duration,
    },
    /// The ALB closed before its idle timeout: it aborted (deregistration delay).
    ShorterThanIdleTimeout {
        /// Request to the ALB's close.
        elapsed: Duration,
        /// The idle timeout.
        idle: Duration,
    },
    /// The target's reply is not valid HTTP.
    NotHttp {
        /// Where it starts.
        at: At,
        /// Its first bytes, raw.
        excerpt: Vec<u8>,
        /// Why it is not valid.
        reason: ResponseErrorReason,
    },
    /// The target's header block grew past the limit.
    HeaderBlockTooLarge {
        /// Where it starts.
        at: At,
        /// Bytes received.
        bytes: u64,
    },
    /// The target answered a status; the rest of the response is missing from the capture.
    PartialAnswer {
        /// The status.
        status: u16,
        /// Where.
        at: At,
        /// Its Server header.
        server: Option<String>,
    },
    /// Part of the response is missing from the capture.
    ResponseUnreadable {
        /// Its first packet.
        packet: PacketPos,
    },
    /// The target answered with TLS application data.
    TlsAnswer {
        /// Bytes.
        bytes: u64,
        /// Where.
        at: At,
    },
    /// No response and no close up to the end of the connection in the capture (`None`: the
    /// connection did not close in it).
    NoResponse {
        /// The end of the connection in the capture.
        until: Option<Timestamp>,
    },
    /// A response: who answered, with what.
    Answered {
        /// Who answered (the target, or the ALB on the front end).
        by: Party,
        /// Status.
        status: u16,
        /// Reason phrase.
        reason: String,
        /// Where.
        at: At,
        /// Server header.
        server: Option<String>,
    },
    /// The body stopped short of its Content-Length, or (no length declared) a chunked body
    /// ended without its last chunk.
    ShortBody {
        /// Content-Length; `None` for a chunked body.
        declared: Option<u64>,
        /// Body bytes that followed.
        body: u64,
    },
    /// The capture ended while the body was still arriving: a Content-Length not reached, or
    /// (no length declared) a chunked body without its last chunk yet, on a connection nobody
    /// had closed.
    BodyStillArriving {
        /// Content-Length; `None` for a chunked body.
        declared: Option<u64>,
        /// Body bytes captured so far.
        body: u64,
    },
    /// The connection was closed after the response headers.
    ClosedAfterHeaders {
        /// Who closed.
        by: Party,
        /// How.
        close: Close,
        /// Where.
        at: At,
        /// Headers to close.
        after: Duration,
    },
    /// The ALB opened a connection to the target.
    Connect {
        /// The target.
        target: Endpoint,
        /// The SYN.
        at: At,
    },
    /// The SYN was answered by ICMP.
    IcmpAnswer {
        /// The ICMP error.
        icmp: Icmp,
        /// Where.
        at: At,
    },
    /// The target answered the SYN with RST.
    Refused {
        /// Where.
        at: At,
        /// SYN to RST.
        after_syn: Option<Duration>,
        /// The target port.
        port: u16,
    },
    /// SYN retransmissions without any answer.
    SynRetransmissions {
        /// How many.
        count: usize,
        /// The last one.
        last: At,
        /// First SYN to the last.
        span: Duration,
    },
    /// The ALB gives up after its connect timeout.
    ConnectTimeout {
        /// The connect timeout.
        timeout: Duration,
        /// How long the attempt is seen.
        seen: Duration,
    },
    /// Bytes of the connection are missing from the capture (mirror or capture loss, or
    /// skipped at a memory limit): what they held is not known.
    BytesNotCaptured {
        /// Who sent them.
        from: Party,
        /// How many (the first gap's).
        bytes: u64,
        /// Where the capture showed them missing.
        at: At,
    },
    /// The target's SYN-ACK never reached the ALB (it retransmitted its SYN).
    SynAckLost {
        /// The SYN-ACK.
        at: At,
        /// SYN retransmissions after it.
        retransmissions: usize,
    },
    /// The ALB's TLS ClientHello and what it offered.
    ClientHelloOffer {
        /// Where.
        at: At,
        /// Versions offered (supported_versions, else the legacy version).
        versions: Vec<String>,
        /// The first cipher suites offered (at most 6).
        ciphers: Vec<String>,
        /// How many more were offered.
        more_ciphers: usize,
    },
    /// The target answered with a TLS alert.
    TlsAlert {
        /// Level.
        level: String,
        /// Description.
        description: String,
        /// Where.
        at: At,
    },
    /// The target closed during the TLS handshake.
    HandshakeRefused {
        /// How.
        close: Close,
        /// Where.
        at: At,
        /// ClientHello to close.
        after: Duration,
    },
    /// The handshake did not complete and the ALB closed.
    HandshakeAbandoned {
        /// How.
        close: Close,
        /// Where.
        at: At,
        /// ClientHello to close.
        after: Duration,
        /// The ALB's TLS handshake timeout.
        timeout: Duration,
    },
    /// The ALB sent bytes that are not readable as a request.
    OpaqueRequestSent {
        /// Bytes.
        bytes: u64,
        /// The target.
        target: Endpoint,
    },
    /// The target closed before any response byte.
    TargetClosedFirst {
        /// How.
        close: Close,
        /// Where.
        at: At,
    },
    /// The target sent bytes on a connection whose request was not readable, none of them
    /// read as an answer, then closed it.
    TargetSentUnreadable {
        /// Payload bytes the target sent.
        bytes: u64,
        /// How it closed.
        close: Close,
        /// Where.
        at: At,
    },
    /// The connection carried no request; someone closed it.
    NoRequestClosed {
        /// Who closed.
        by: Party,
        /// How.
        close: Close,
        /// Where.
        at: At,
    },
    /// The connection carried no request.
    NoRequest,
    /// The connection was open before the capture started (no SYN seen): what went over it
    /// before is not in the capture.
    OpenedBeforeCapture,
    /// A failed connect seen from the back end alone is no health check: the capture covers
    /// `window` on both sides of it and shows no other connection from its node to its
    /// target that could be one, where the ALB checks each target from each node at most
    /// 300 s apart.
    NoHealthCheckNearby {
        /// How far on each side.
        window: Duration,
    },
    /// The client closed before any answer from the ALB.
    ClientGaveUp {
        /// How.
        close: Close,
        /// Where.
        at: At,
        /// Request to close.
        after: Duration,
        /// An answer that came later (how much later) and the client's RST refusing it.
        late_answer: Option<(Duration, PacketPos)>,
    },
    /// The client stopped the answer after its headers, while its body was still arriving and
    /// before the ALB ended it: the client's doing, not a failure of the ALB or the target.
    ClientStoppedAnswer {
        /// How.
        stop: ClientStop,
        /// Where.
        at: At,
        /// Response headers to the stop.
        after: Duration,
        /// Body bytes the client had received.
        body: u64,
    },
    /// The Server header is not the ALB's: a target's error.
    ServerNotAlb,
    /// The answer carries a header the ALB never writes on its own answers (they carry only
    /// Server, Date, Content-Type, Content-Length, Connection and the response headers an ALB
    /// can be set to add): a target's answer, relayed.
    RelayedHeader {
        /// The header's name as it came.
        name: String,
    },
    /// No back-end attempt from the node around the request is in the capture.
    NoBackEndAttempt {
        /// The ALB node.
        node: IpAddr,
        /// Around when.
        time: Timestamp,
    },
    /// The back end is not in this capture.
    BackEndNotCaptured,
    /// The ALB answered with encrypted bytes no back-end request matched.
    EncryptedAnswer {
        /// Bytes.
        bytes: u64,
    },
    /// No response to this request is in the capture.
    NoResponseCaptured,
    /// The ALB answered with encrypted bytes, and neither the status nor the back end is in
    /// the capture: the outcome is not visible.
    EncryptedOutcomeHidden {
        /// Bytes of the answer.
        bytes: u64,
        /// Request to answer.
        elapsed: Duration,
    },
    /// The only server data after the request (TLS 1.3, no keys) is one record that may be
    /// the server's session ticket (sent after the client's Finished, which went out with the
    /// request) or a whole small answer.
    TicketOrAnswer {
        /// Bytes of the record.
        bytes: u64,
        /// Where.
        at: At,
    },
    /// The target closed its connection this long after the end of its encrypted answer,
    /// with no request after it: neither with the answer nor at a keep-alive timer.
    TargetClosedAfterTlsAnswer {
        /// FIN or RST.
        close: Close,
        /// Where.
        at: At,
        /// The answer's last data record to the close.
        after: Duration,
    },
    /// The ALB closed the client's connection this long after its (encrypted) answer.
    AlbClosedAfterAnswer {
        /// FIN or RST.
        close: Close,
        /// Where.
        at: At,
        /// Answer to close.
        after: Duration,
    },
    /// The ALB answered this long after receiving the request.
    AnsweredAfter {
        /// Request to answer.
        elapsed: Duration,
    },
    /// Front end alone: the node's last answer the capture shows before this request ended
    /// this long before it (its back-end connections may have been idle that long, long
    /// enough for a target's keep-alive timeout to close one).
    NodeQuietBefore {
        /// From that answer's end to this request.
        gap: Duration,
    },
    /// What the front end alone suggests (an inference, said so).
    Inferred(Inference),
    /// A 504 this long after the request, outside the window of the connect and TLS handshake
    /// timeouts: only the idle timeout gives a 504 then.
    IdleTimeoutByTiming {
        /// Request to answer.
        elapsed: Duration,
        /// The ALB's connect timeout.
        connect: Duration,
        /// The ALB's idle timeout (told or seen) when the answer came later than it: the
        /// timer started late, after a slow connect, TLS handshake or request upload.
        idle: Option<Duration>,
    },
    /// The ALB replaced a normal target response with its own error.
    AlbReplacedResponse,
    /// A header block was skipped because the buffer memory limit was reached: it may be in
    /// the capture, but it was not read.
    HeadersSkipped {
        /// The response's header block (else the request's).
        response: bool,
        /// On which leg.
        leg: LegKind,
    },
    /// The client got the target's headers and part of the body, then the connection closed.
    ClientGotPartialBody {
        /// The status of those headers.
        status: u16,
    },
    /// After the target's reset, the next connect to it (by any opener) was refused, and it
    /// went on refusing with none accepted: it had stopped accepting connections.
    RefusedAfterReset {
        /// The next connect's opener.
        opener: std::net::IpAddr,
        /// The target's RST to its SYN.
        at: At,
        /// Reset to that SYN.
        since_reset: Duration,
        /// A later refusal (at least a second after the reset).
        still: At,
        /// Reset to the later refusal's SYN.
        still_since: Duration,
        /// The two refused connects' connections (the next one, the later one), boxed: few
        /// findings have them.
        conns: Box<[CitedConn; 2]>,
    },
    /// The next connect to the target after its reset (by any opener), which does not show
    /// it stopped accepting.
    NextConnectAfterReset {
        /// Its opener.
        opener: std::net::IpAddr,
        /// Its SYN's answer (else the SYN).
        at: At,
        /// Reset to that SYN.
        since_reset: Duration,
        /// Accepted (SYN-ACK).
        accepted: bool,
        /// Refused (RST to its SYN).
        refused: bool,
        /// The first connect accepted after the reset (when the first one was not).
        accepted_at: Option<At>,
    },
}

impl Evidence {
    /// The connections, other than the request's own, this fact rests on.
    pub fn cited_conns(&self) -> &[CitedConn] {
        match self {
            Evidence::RefusedAfterReset { conns, .. } => &conns[..],
            _ => &[],
        }
    }

    /// The packets this fact cites (none for facts about timing or configuration alone).
    pub fn packets(&self) -> Vec<PacketPos> {
        match self {
            Evidence::RequestSent { at, .. }
            | Evidence::TargetClosedNearRequest { at, .. }
            | Evidence::AlbClosedSilentTarget { at, .. }
            | Evidence::NotHttp { at, .. }
            | Evidence::HeaderBlockTooLarge { at, .. }
            | Evidence::PartialAnswer { at, .. }
            | Evidence::TlsAnswer { at, .. }
            | Evidence::Answered { at, .. }
            | Evidence::ClosedAfterHeaders { at, .. }
            | Evidence::Connect { at, .. }
            | Evidence::IcmpAnswer { at, .. }
            | Evidence::Refused { at, .. }
            | Evidence::SynAckLost { at, .. }
            | Evidence::BytesNotCaptured { at, .. }
            | Evidence::ClientHelloOffer { at, .. }
            | Evidence::TlsAlert { at, .. }
            | Evidence::HandshakeRefused { at, .. }
            | Evidence::HandshakeAbandoned { at, .. }
            | Evidence::TargetClosedFirst { at, .. }
            | Evidence::TargetSentUnreadable { at, .. }
            | Evidence::StreamReset { at, .. }
            | Evidence::AlbResetStream { at, .. }
            | Evidence::GoawayRefusedStream { at, .. }
            | Evidence::NoRequestClosed { at, .. }
            | Evidence::AlbClosedAfterAnswer { at, .. }
            | Evidence::ClientStoppedAnswer { at, .. }
            | Evidence::TicketOrAnswer { at, .. }
            | Evidence::TargetClosedAfterTlsAnswer { at, .. } => vec![at.packet],
            Evidence::SynRetransmissions { last, .. } => vec![last.packet],
            Evidence::LateReply {
                packet, alb_rst, ..
            } => std::iter::once(*packet).chain(*alb_rst).collect(),
            Evidence::ResponseUnreadable { packet } => vec![*packet],
            Evidence::ClientGaveUp {
                at, late_answer, ..
            } => std::iter::once(at.packet)
                .chain(late_answer.map(|(_, p)| p))
                .collect(),
            Evidence::RequestNotReadable { .. }
            | Evidence::KeepaliveMatches { .. }
            | Evidence::KeepaliveAnnounced { .. }
            | Evidence::CloseOrder { .. }
            | Evidence::IdleNotVisible { .. }
            | Evidence::TargetServer { .. }
            | Evidence::MatchesIdleTimeout { .. }
            | Evidence::ShorterThanIdleTimeout { .. }
            | Evidence::NoResponse { .. }
            | Evidence::ShortBody { .. }
            | Evidence::BodyStillArriving { .. }
            | Evidence::ConnectTimeout { .. }
            | Evidence::OpaqueRequestSent { .. }
            | Evidence::NoRequest
            | Evidence::OpenedBeforeCapture
            | Evidence::NoHealthCheckNearby { .. }
            | Evidence::ServerNotAlb
            | Evidence::RelayedHeader { .. }
            | Evidence::NoBackEndAttempt { .. }
            | Evidence::BackEndNotCaptured
            | Evidence::EncryptedAnswer { .. }
            | Evidence::NoResponseCaptured
            | Evidence::EncryptedOutcomeHidden { .. }
            | Evidence::AnsweredAfter { .. }
            | Evidence::NodeQuietBefore { .. }
            | Evidence::Inferred(_)
            | Evidence::IdleTimeoutByTiming { .. }
            | Evidence::AlbReplacedResponse
            | Evidence::HeadersSkipped { .. }
            | Evidence::TargetGrpcError { .. }
            | Evidence::ClientGotPartialBody { .. } => Vec::new(),
            Evidence::RefusedAfterReset { at, still, .. } => vec![at.packet, still.packet],
            Evidence::NextConnectAfterReset {
                at, accepted_at, ..
            } => std::iter::once(at.packet)
                .chain(accepted_at.map(|a| a.packet))
                .collect(),
        }
    }
}

/// What happened to a request: the clause of its headline.
#[derive(Clone, Debug, PartialEq)]
pub enum Cause {
    /// The client closed before the ALB answered.
    ClientClosedFirst,
    /// The ALB relayed the answer and the client stopped it while its body was arriving.
    ClientStoppedAnswer,
    /// Neither leg was captured.
    NothingCaptured,
    /// A header block of the request or response was skipped for the buffer memory limit.
    HeadersSkipped,
    /// The target answered normally, but the ALB sent its own error.
    AlbErrorAfterTargetAnswer {
        /// The target's status.
        target_status: Option<u16>,
    },
    /// Idle timeout, when the ALB's 504 decided it over a deregistration abort.
    IdleTimeoutByStatus {
        /// The idle timeout.
        idle: Duration,
    },
    /// The target did not answer within the idle timeout.
    IdleTimeout {
        /// The idle timeout.
        idle: Duration,
    },
    /// The ALB aborted the request (deregistration delay ran out).
    DeregistrationAbort,
    /// A non-error answer.
    AnsweredNormally,
    /// The target's own error, relayed.
    TargetOwnError {
        /// Its Server header, when known.
        server: Option<String>,
    },
    /// The ALB answered without any back-end attempt.
    NoTargetAttempt,
    /// The ALB's error, with the back end not captured.
    AlbErrorBackEndNotCaptured,
    /// A 5xx without a Server header seen from the front end only: who generated it is not
    /// proved (see the finding's candidates).
    NoServerHeader {
        /// The status the client got.
        status: u16,
    },
    /// An encrypted answer no back-end request matched.
    EncryptedAnswerUnmatched,
    /// No answer to the client in the capture.
    NoAnswerCaptured,
    /// Encrypted front end only: the answer's status is encrypted and the back end is not in
    /// the capture, so whether it failed is not visible (counted apart, neither ok nor failed).
    OutcomeNotVisible,
    /// Encrypted back end, front end not readable: the target answered over TLS, its status
    /// is encrypted and the client's answer is not in the capture in the clear, so its status
    /// cannot be read (counted apart as answered, status not visible: neither ok nor failed).
    AnsweredStatusNotVisible,
    /// Encrypted back end, front end not readable: the target closed its connection soon
    /// after its answer, neither with it nor at a keep-alive timer; the answer may have been
    /// cut (see the finding's candidates).
    TlsAnswerThenClose,
    /// Encrypted back end, front end not readable: the only server record after the request
    /// may be a TLS 1.3 session ticket (no answer) or a small answer (see the candidates).
    TicketOrAnswer,
    /// Encrypted front end only: an answer at an ALB timer, or a short answer the ALB closed
    /// the connection after: possibly the ALB's own error (see the finding's candidates).
    EncryptedMaybeAlbError,
    /// Still waiting for its answer when the capture ended (no response, no close).
    InFlightAtEnd,
    /// The ALB's own error seen from the front end only, which cannot tell which back-end
    /// failure it was (see the finding's candidates).
    FrontEndCannotTell {
        /// The status the client got.
        status: u16,
    },
    /// HTTP/2 front end alone: the ALB ended the stream with `RST_STREAM` and no status; the
    /// front end cannot tell which back-end failure (see the finding's candidates).
    AlbResetStream {
        /// The RST_STREAM error code.
        code: H2ErrorCode,
    },
    /// Inferred: no healthy target (503).
    InferredNoHealthyTarget,
    /// Keep-alive race.
    KeepaliveRace,
    /// HTTP/2: the target reset the stream before answering.
    StreamReset {
        /// The RST_STREAM error code.
        code: H2ErrorCode,
    },
    /// HTTP/2: the target's GOAWAY refused the stream the ALB had just opened.
    GoawayRace,
    /// The target closed (or reset) a connection as the request arrived on it, and the capture
    /// does not show how long the connection was idle before: a keep-alive race or a close
    /// before answering (see the finding's candidates).
    ClosedAtRequestIdleUnseen {
        /// RST rather than FIN.
        reset: bool,
    },
    /// The target closed (or reset) a kept-alive connection soon after a request sent after
    /// an idle gap that matches its keep-alive timeout, and the capture lacks the round trip
    /// that would say whether the close left before the request arrived.
    ClosedNearRequestUnordered {
        /// RST rather than FIN.
        reset: bool,
    },
    /// The target reset a kept-alive connection as the request arrived, after an idle gap, with
    /// no FIN before and its keep-alive timeout unknown: an abortive idle close crossing the
    /// request or the target resetting the request (see the finding's candidates).
    ResetAtRequestTimerUnknown {
        /// How long the connection was idle before the request.
        idle: Duration,
    },
    /// The target closed (FIN) a kept-alive connection as the request arrived, after an idle
    /// gap, its keep-alive timeout unknown, and the close did not provably leave before the
    /// request arrived: an idle close crossing the request or the target closing at the
    /// request it had read (a handler that failed, a hijacked connection closed) (see the
    /// finding's candidates).
    ClosedAtRequestTimerUnknown {
        /// How long the connection was idle before the request.
        idle: Duration,
    },
    /// The target reset a kept-alive connection as the request arrived (no FIN before, its
    /// keep-alive timeout unknown), and refused the connects after it: it had stopped
    /// accepting (a reject, or a process gone), inferred.
    ResetThenRefused {
        /// How long the connection was idle before the request; `None` when the capture does
        /// not show it (the connection opened before the capture, or its previous response
        /// was lost).
        idle: Option<Duration>,
    },
    /// The target closed (or reset) a kept-alive connection as the request arrived, after an
    /// idle gap off its usual keep-alive close (the median of its idle closes) yet no shorter
    /// than its shortest one: its timer had run out, and a timer checked on a periodic sweep
    /// closes anywhere after it, so a keep-alive race cannot be told from a close before
    /// answering (see the finding's candidates).
    ClosedAtRequestOffTimer {
        /// RST rather than FIN.
        reset: bool,
        /// How long the connection was idle before the request.
        idle: Duration,
        /// The shortest of the target's idle closes.
        shortest: Duration,
        /// The median of the target's idle closes.
        median: Duration,
    },
    /// The target sent bytes that do not read as an answer, then closed: a malformed answer
    /// or a close in the protocol's own terms (see the finding's candidates).
    TargetSentUnreadable,
    /// The target closed (or reset) before answering.
    TargetClosedBeforeAnswer {
        /// RST rather than FIN.
        reset: bool,
    },
    /// The target's response is not valid HTTP.
    NotHttp,
    /// The target's response headers exceed 32 KB.
    HeadersTooLarge,
    /// Relayed normally.
    RelayedNormally,
    /// The response is not fully in the capture.
    ResponseNotCaptured,
    /// Bytes of the connection are missing from the capture where they decide the category
    /// (a lost TLS handshake record, a lost answer).
    BytesNotCaptured,
    /// The target answered over TLS (status not visible).
    TlsAnswer,
    /// No response within the capture.
    NoResponseInCapture,
    /// The ALB closed the back-end connection before any answer and before the idle timeout
    /// (back end only: the client leaving or the deregistration delay).
    AlbClosedBeforeAnswer,
    /// The ALB closed the back-end connection at (or after) the idle timeout before any answer
    /// (back end only: the idle timeout, or a client that left earlier while the ALB waited).
    AlbClosedAtIdleTimeout {
        /// The idle timeout in force.
        idle: Duration,
    },
    /// The body stopped short of its Content-Length (or of its last chunk).
    IncompleteBody {
        /// Body bytes.
        body: u64,
        /// Content-Length; `None` for a chunked body cut before its last chunk.
        declared: Option<u64>,
    },
    /// The target was unreachable (ICMP).
    Unreachable {
        /// The ICMP error.
        icmp: Icmp,
    },
    /// The target refused the connection.
    Refused,
    /// The ALB could not connect within its connect timeout.
    ConnectTimeout {
        /// The connect timeout.
        timeout: Duration,
    },
    /// The target's SYN-ACKs do not get back to the ALB.
    ReturnPathBlocked,
    /// The TLS handshake with the target failed (with this alert).
    TlsFailed {
        /// The alert's description.
        alert: Option<String>,
    },
    /// The TLS handshake did not complete within 10 s.
    TlsTimeout,
    /// The target closed the new connection before the request could be sent.
    ClosedNewConnection,
    /// The back-end connection carried no request.
    NoRequestOnConnection,
    /// Back end only: a connect that failed before any request (this cause inside) from a node
    /// whose front end is not in the capture, off any health-check cadence: a client request's
    /// attempt or a failed health check look the same (see the finding's candidates).
    AttemptOrHealthCheck(Box<Cause>),
    /// Both legs: this cause (inside) comes from a back-end leg that several client requests
    /// matched, and the client it was paired with got an answer the cause does not give:
    /// another pairing may be the true one (see the finding's candidates).
    PairingContradicted(Box<Cause>),
}

/// An ambiguity or a missing leg, said alongside a finding.
#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    /// From pairing the legs.
    Pairing(PairingNote),
    /// The client got another status than this category usually gives.
    UnusualStatus {
        /// What the client got.
        got: u16,
        /// What the category usually gives.
        usual: u16,
    },
    /// What to capture to tell the candidates apart.
    TellApart(TellApart),
    /// The node's back end is in the capture at other times, not at this request's: its
    /// recording started after it, ended before the ALB answered, or has a gap then (what
    /// to capture differently).
    BackEndCapture(crate::alb::CaptureWindow),
}
