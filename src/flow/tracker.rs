//! The connection tracker. (Placeholder: implemented by the flow work item.)

use super::FlowSink;
use crate::capture::{Duration, PacketRef};
use crate::decode::Decoded;
use serde::Serialize;

/// Tracker limits and timers.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// Most connections tracked at once; past it the oldest idle one is closed out (reported).
    pub max_connections: usize,
    /// A connection with no packet for this long is closed out.
    pub idle_expiry: Duration,
    /// Most out-of-order bytes buffered per direction before the hole is declared a gap.
    pub max_buffered_bytes: usize,
    /// Most TCP events recorded per connection.
    pub max_events: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_connections: 1_000_000,
            idle_expiry: Duration::from_millis(4_100_000),
            max_buffered_bytes: 4 << 20,
            max_events: 256,
        }
    }
}

/// Tracker counters for the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FlowStats {
    /// Connections seen.
    pub connections: u64,
    /// Most connections open at once.
    pub peak_open: u64,
    /// Connections closed out because the table was full.
    pub evicted: u64,
    /// Connections closed out for inactivity.
    pub expired: u64,
    /// Duplicate packets ignored.
    pub duplicates: u64,
    /// ICMP errors that matched no tracked connection.
    pub unmatched_icmp: u64,
}

/// Tracks TCP connections and reassembles their streams.
#[derive(Default)]
pub struct FlowTracker {
    config: FlowConfig,
    stats: FlowStats,
}

impl FlowTracker {
    /// A tracker with the given limits.
    pub fn new(config: FlowConfig) -> Self {
        FlowTracker {
            config,
            stats: FlowStats::default(),
        }
    }

    /// Feeds one decoded packet.
    pub fn process(
        &mut self,
        packet: &PacketRef<'_>,
        decoded: &Decoded<'_>,
        sink: &mut dyn FlowSink,
    ) {
        let _ = (&self.config, packet, decoded, sink);
    }

    /// Closes every open connection (end of input).
    pub fn finish(&mut self, sink: &mut dyn FlowSink) {
        let _ = sink;
    }

    /// Counters so far.
    pub fn stats(&self) -> &FlowStats {
        &self.stats
    }
}
