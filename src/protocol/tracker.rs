//! Per-connection HTTP/TLS parsing state. (Placeholder: implemented by the protocol work item.)

use super::AppSink;
use crate::flow::{ConnId, FlowEvent};
use serde::Serialize;

/// Parser limits.
#[derive(Clone, Debug)]
pub struct ProtocolConfig {
    /// A response header block larger than this is `HeaderTooLarge` (ALB: 32 KB).
    pub max_response_header_bytes: usize,
    /// A request header block larger than this stops parsing that stream (ALB: 64 KB).
    pub max_request_header_bytes: usize,
    /// Most headers kept per message.
    pub max_headers: usize,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        ProtocolConfig {
            max_response_header_bytes: 32 * 1024,
            max_request_header_bytes: 64 * 1024,
            max_headers: 128,
        }
    }
}

/// Counters for the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProtocolStats {
    /// HTTP requests parsed.
    pub requests: u64,
    /// HTTP responses parsed.
    pub responses: u64,
    /// Responses that could not be parsed.
    pub response_errors: u64,
    /// TLS connections.
    pub tls_connections: u64,
}

/// Owns the HTTP/TLS parser state of every open connection.
#[derive(Default)]
pub struct ProtocolTracker {
    config: ProtocolConfig,
    stats: ProtocolStats,
}

impl ProtocolTracker {
    /// A tracker with the given limits.
    pub fn new(config: ProtocolConfig) -> Self {
        ProtocolTracker {
            config,
            stats: ProtocolStats::default(),
        }
    }

    /// Handles one flow event, reporting finished exchanges and connections to `sink`.
    pub fn handle(&mut self, conn: ConnId, event: FlowEvent<'_>, sink: &mut dyn AppSink) {
        let _ = (&self.config, conn, event, sink);
    }

    /// Counters so far.
    pub fn stats(&self) -> &ProtocolStats {
        &self.stats
    }
}
