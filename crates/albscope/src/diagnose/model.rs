//! The typed parts of a [`super::Finding`]: ids, addresses, the request as captured, the
//! timeline and the access-log view. Values only; the report layer writes the sentences.

use crate::capture::{Duration, PacketPos, Timestamp};
use crate::flow::Endpoint;
use serde::Serialize;
use std::cmp::Ordering;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// Text a kept finding quotes from the capture (method, request target, Host, reason phrase,
/// Server): shared between the finding, its request and its timeline, and between findings
/// (see [`super::intern`]), so a kept finding holds one copy of each, not four.
pub type Text = Arc<str>;

/// Which leg of a request path: the client's connection to the ALB, or the ALB's to a target.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LegKind {
    /// Client <-> ALB.
    Front,
    /// ALB <-> target.
    Back,
}

/// A stable request id: the connection of the leg that names it (the front end when captured)
/// and the exchange index on it. Displays as `f3.0` or `b7.1`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId {
    /// The leg whose connection names the request (none for a path without legs: `x`).
    pub leg: Option<LegKind>,
    /// That connection's id.
    pub conn: u64,
    /// The exchange index on the connection.
    pub index: u32,
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = match self.leg {
            Some(LegKind::Front) => 'f',
            Some(LegKind::Back) => 'b',
            None => return f.write_str("x"),
        };
        write!(f, "{p}{}.{}", self.conn, self.index)
    }
}

impl std::str::FromStr for RequestId {
    type Err = ();

    /// Parses a displayed id: `f3.0`, `b7.1` (`x` is not a request anyone can name).
    fn from_str(s: &str) -> Result<Self, ()> {
        let leg = match s.get(..1) {
            Some("f") => LegKind::Front,
            Some("b") => LegKind::Back,
            _ => return Err(()),
        };
        let (conn, index) = s.get(1..).and_then(|r| r.split_once('.')).ok_or(())?;
        Ok(RequestId {
            leg: Some(leg),
            conn: conn.parse().map_err(|_| ())?,
            index: index.parse().map_err(|_| ())?,
        })
    }
}

impl Ord for RequestId {
    /// Back-end ids (`b`) before front-end ones (`f`), then by connection and index.
    fn cmp(&self, other: &Self) -> Ordering {
        let leg = |l: Option<LegKind>| match l {
            Some(LegKind::Back) => 0,
            Some(LegKind::Front) => 1,
            None => 2,
        };
        (leg(self.leg), self.conn, self.index).cmp(&(leg(other.leg), other.conn, other.index))
    }
}

impl PartialOrd for RequestId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The ALB address a request went to: the listener endpoint, or only the node's address when
/// the back end was captured without an X-Forwarded-Port.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum AlbAddr {
    /// Node address and listener port.
    Endpoint(Endpoint),
    /// Node address only.
    Node(IpAddr),
}

impl fmt::Display for AlbAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlbAddr::Endpoint(e) => e.fmt(f),
            AlbAddr::Node(ip) => ip.fmt(f),
        }
    }
}

/// The request as the capture shows it (for display), or why it cannot be shown.
#[derive(Clone, Debug, PartialEq)]
pub enum RequestSeen {
    /// A readable HTTP request.
    Http {
        /// Method.
        method: Text,
        /// Request target.
        target: Text,
        /// Host header.
        host: Option<Text>,
    },
    /// An encrypted (TLS) request of this many bytes.
    Encrypted {
        /// Bytes of TLS application data.
        bytes: u64,
    },
    /// None was sent: the back-end connection failed first.
    NoneSent,
    /// Not readable in the capture.
    NotReadable,
}

/// Direction of a timeline event on the request's path.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to ALB.
    ClientToAlb,
    /// ALB to client.
    AlbToClient,
    /// ALB to target.
    AlbToTarget,
    /// Target to ALB.
    TargetToAlb,
}

/// Who sent something on a leg.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Party {
    /// The client.
    Client,
    /// The load balancer.
    Alb,
    /// The target.
    Target,
}

/// What a timeline event is, with its values.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// An HTTP request.
    Request {
        /// Method.
        method: Text,
        /// Request target.
        target: Text,
        /// Host header.
        host: Option<Text>,
        /// The request never completed.
        incomplete: bool,
    },
    /// An interim (1xx) response.
    Interim {
        /// Its status.
        status: u16,
    },
    /// An HTTP response.
    Response {
        /// Status.
        status: u16,
        /// Reason phrase.
        reason: Text,
        /// Server header.
        server: Option<Text>,
    },
    /// The response body never completed.
    BodyIncomplete {
        /// Body bytes seen.
        body_bytes: u64,
        /// Content-Length declared.
        declared: Option<u64>,
        /// The body was still arriving when the capture ended (the connection was open and
        /// not closing): a stream in flight, not one cut short.
        open_at_end: bool,
    },
    /// A response that is not valid HTTP, with its first bytes.
    MalformedResponse {
        /// The leading bytes, raw.
        excerpt: Vec<u8>,
    },
    /// A response header block over the limit.
    HeaderTooLarge {
        /// Bytes received.
        bytes: u64,
    },
    /// Response bytes missing from the capture.
    ResponseMissing,
    /// A run of TLS application data.
    TlsData {
        /// Bytes.
        bytes: u64,
    },
    /// A TLS ClientHello.
    ClientHello {
        /// Versions offered (supported_versions, else the legacy version).
        versions: Vec<String>,
        /// Number of cipher suites offered.
        ciphers: usize,
        /// Server name.
        sni: Option<String>,
    },
    /// A TLS ServerHello.
    ServerHello {
        /// Version chosen.
        version: String,
        /// Cipher chosen.
        cipher: String,
    },
    /// A TLS alert.
    TlsAlert {
        /// Level.
        level: String,
        /// Description.
        description: String,
    },
    /// A SYN; `retransmission` numbers the repeats.
    Syn {
        /// Which repeat (1-based), when one.
        retransmission: Option<u32>,
    },
    /// A SYN-ACK; `retransmission` numbers the repeats.
    SynAck {
        /// Which repeat (1-based), when one.
        retransmission: Option<u32>,
    },
    /// A FIN.
    Fin {
        /// Sender.
        from: Party,
    },
    /// A FIN missing from the capture that the peer acknowledged (at the event's packet).
    FinNotCaptured {
        /// Sender.
        from: Party,
    },
    /// A RST.
    Rst {
        /// Sender.
        from: Party,
    },
    /// An ICMP error.
    Icmp {
        /// Its description.
        description: String,
        /// ICMP type.
        icmp_type: u8,
        /// ICMP code.
        code: u8,
    },
    /// A retransmitted data segment.
    Retransmission {
        /// Sender.
        from: Party,
        /// Payload bytes.
        len: u32,
    },
    /// Bytes missing from the capture.
    Gap {
        /// Missing bytes.
        len: u64,
    },
    /// Bytes that were in the capture but skipped because the buffer memory limit was reached.
    MemorySkipped {
        /// Skipped bytes.
        len: u64,
    },
    /// A retransmission whose bytes differ from the first copy.
    Conflict {
        /// Stream offset.
        offset: u64,
    },
    /// HTTP/2: a stream reset (`RST_STREAM`) with its error code.
    StreamReset {
        /// The error code (see [`crate::protocol::H2ErrorCode`]).
        code: u32,
    },
    /// HTTP/2: a `GOAWAY` refusing this stream (its id is above `last_stream_id`).
    GoAway {
        /// The last stream id the sender processes.
        last_stream_id: u32,
        /// The error code.
        code: u32,
    },
    /// HTTP/2: the flow-control window ran out while data was pending.
    FlowStall {
        /// The connection's window (`true`) or the stream's.
        connection: bool,
        /// How long until a WINDOW_UPDATE reopened it, when one did.
        resumed_after: Option<Duration>,
    },
    /// The gRPC status of the call.
    Grpc {
        /// The gRPC status code.
        status: u32,
        /// `grpc-message`.
        message: Option<String>,
        /// Derived from this HTTP status (no `grpc-status` was sent).
        from_http: Option<u16>,
    },
    /// More events of the leg not shown.
    MoreEvents {
        /// How many.
        count: usize,
    },
}

/// One event of a request's timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineEvent {
    /// When.
    pub time: Timestamp,
    /// Front or back end.
    pub side: LegKind,
    /// Direction.
    pub direction: Direction,
    /// What happened.
    pub kind: EventKind,
    /// The packet, when the event has one of its own.
    pub packet: Option<PacketPos>,
}

/// One processing-time step of the access-log view.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Step {
    /// The step never happened (the log writes -1).
    Never,
    /// The leg that would show it is not in the capture.
    NotCaptured,
    /// It took this long.
    Took(Duration),
}

impl Step {
    /// Seconds rounded to the millisecond (as the log writes them), when the step happened.
    pub fn secs(self) -> Option<f64> {
        match self {
            Step::Took(d) => Some(super::round3(d.as_secs_f64())),
            _ => None,
        }
    }
}

/// The fields an ALB access-log line would carry for this request.
#[derive(Clone, Debug, PartialEq)]
pub struct AccessLogView {
    /// When the ALB received the request.
    pub request_creation_time: Option<Timestamp>,
    /// Receiving the request -> sending it to the target.
    pub request_processing_time: Step,
    /// Sending it -> receiving the response headers.
    pub target_processing_time: Step,
    /// Receiving the response headers -> sending the response to the client.
    pub response_processing_time: Step,
    /// Status the ALB sent (460 when the client closed first).
    pub elb_status_code: Option<u16>,
    /// Status the target sent.
    pub target_status_code: Option<u16>,
    /// The ALB answered the client, encrypted, and the back end is not in the capture: both
    /// status codes (and whether a target answered) are not visible, not absent.
    pub status_not_visible: bool,
    /// X-Amzn-Trace-Id the ALB sent to the target.
    pub trace_id: Option<Text>,
}
