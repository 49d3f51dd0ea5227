//! Deterministic sample builder: writes VXLAN-mirrored pcap captures from a scripted description
//! of connections, modelling ALB behaviour (timers, headers, who closes what). Used by tests,
//! benchmarks and `samples/`.
//!
//! Layers: [`pcap`] (file writers) -> [`frame`] (packets with valid checksums, framings,
//! tunnels) -> [`tcp`] (connection model with sequence bookkeeping) -> [`alb`] (ALB world model:
//! both legs, timers, pools, health checks, vantage points) -> [`scenarios`] (named samples with
//! ground truth) and [`bulk`] (streaming load generator for benchmarks).

pub mod alb;
pub mod bulk;
pub mod frame;
pub mod http;
pub mod pcap;
pub mod rng;
pub mod scenarios;
pub mod tcp;
pub mod tls;
