//! Deterministic sample builder: writes VXLAN-mirrored pcap captures from a scripted description
//! of connections, modelling ALB behaviour (timers, headers, who closes what). Used by tests,
//! benchmarks and `samples/`.
//!
//! Layers: [`pcap`] (file writers) -> [`frame`] (packets with valid checksums, framings,
//! tunnels) -> [`tcp`] (connection model with sequence bookkeeping) -> [`alb`] (ALB world model:
//! both legs, timers, pools, health checks, vantage points) -> [`scenarios`] (named samples with
//! ground truth) and [`bulk`] (streaming load generator for benchmarks).
//!
//! Typical uses from other layers' tests:
//! - a named sample with its truth: `scenarios::all()`, then `s.build_with_truth()`;
//! - a custom capture: `alb::World::new(WorldCfg { vantage, wrap, pcapng, mirror_snap, .. })`,
//!   `add_node`, `add_target`, `open`, `request(front, t, &Req::get("/"), target, Outcome::..)`,
//!   `health_checks`, `finish`, then `to_pcap()` (ground truth in `world.expected`);
//! - raw packets: `tcp::TcpConn` + `frame::Framing::frame` + `pcap::PcapWriter`/`PcapNgWriter`
//!   for link-type variety (Ethernet, VLAN, SLL, SLL2, raw IP, BSD NULL; VXLAN or GENEVE).

pub mod accesslog;
pub mod alb;
pub mod bulk;
pub mod frame;
pub mod h2;
pub mod http;
pub mod pcap;
pub mod rng;
pub mod scenarios;
pub mod tcp;
pub mod tls;
