//! The report's colours, in one place: one per failure category (time strip, chips, legend)
//! and one per kind of drawn event (sequence diagrams, their legend).

use crate::taxonomy::Category;

/// The colour of a category in the time strip and the legends.
pub(super) fn category(c: Category) -> &'static str {
    match c {
        Category::TargetConnectRefused => "#b91c1c",
        Category::TargetUnreachableIcmp => "#7c3aed",
        Category::TargetClosedBeforeResponse => "#ea580c",
        Category::KeepaliveRace => "#d97706",
        Category::MalformedResponse => "#be185d",
        Category::ResponseHeaderTooLarge => "#9d174d",
        Category::TargetTlsHandshakeFailed => "#0f766e",
        Category::DeregistrationAbort => "#a16207",
        Category::TargetConnectTimeout => "#1d4ed8",
        Category::TargetTlsHandshakeTimeout => "#0e7490",
        Category::TargetIdleTimeout => "#4338ca",
        Category::IncompleteBody => "#6d28d9",
        Category::TargetGeneratedError => "#dc2626",
        Category::ClientClosed => "#64748b",
        Category::NoTargetAttempt => "#78350f",
        Category::Undetermined => "#374151",
        Category::Ok => "#16a34a",
    }
}

/// What an event of a sequence diagram draws as.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    /// SYN or SYN-ACK.
    Syn,
    /// FIN.
    Fin,
    /// RST.
    Rst,
    /// ICMP error.
    Icmp,
    /// TLS handshake or data.
    Tls,
    /// HTTP request.
    Request,
    /// HTTP response with its status.
    Response(u16),
    /// Anything else (gaps, missing bytes, the ALB's inferred give-up).
    Other,
}

/// The colour of an event kind.
pub(super) fn kind(k: Kind) -> &'static str {
    match k {
        Kind::Syn => "#6b7280",
        Kind::Fin => "#d97706",
        Kind::Rst => "#dc2626",
        Kind::Icmp => "#7c3aed",
        Kind::Tls => "#0d9488",
        Kind::Request => "#2563eb",
        Kind::Response(c) if c >= 500 => "#dc2626",
        Kind::Response(c) if c >= 400 => "#ca8a04",
        Kind::Response(_) => "#16a34a",
        Kind::Other => "#4b5563",
    }
}

/// Every kind colour (arrowhead markers are defined once per colour).
pub(super) const KIND_COLORS: [&str; 9] = [
    "#6b7280", "#d97706", "#dc2626", "#7c3aed", "#0d9488", "#2563eb", "#ca8a04", "#16a34a",
    "#4b5563",
];

/// The legend's entries: a representative kind and its words.
pub(super) const KIND_LEGEND: [(Kind, &str); 10] = [
    (Kind::Request, "HTTP request"),
    (Kind::Response(200), "response 1xx-3xx"),
    (Kind::Response(404), "response 4xx"),
    (Kind::Response(502), "response 5xx"),
    (Kind::Syn, "SYN / SYN-ACK (connect)"),
    (Kind::Fin, "FIN (orderly close)"),
    (Kind::Rst, "RST (reset)"),
    (Kind::Icmp, "ICMP error"),
    (Kind::Tls, "TLS"),
    (Kind::Other, "other (missing bytes, inferred)"),
];

/// The legend's class for a kind (diagram legends show only the kinds drawn).
pub(super) fn legend_index(k: Kind) -> usize {
    match k {
        Kind::Request => 0,
        Kind::Response(c) if c >= 500 => 3,
        Kind::Response(c) if c >= 400 => 2,
        Kind::Response(_) => 1,
        Kind::Syn => 4,
        Kind::Fin => 5,
        Kind::Rst => 6,
        Kind::Icmp => 7,
        Kind::Tls => 8,
        Kind::Other => 9,
    }
}
