//! The packet decoder. (Placeholder: implemented by the decode work item.)

use super::Decoded;
use crate::capture::PacketRef;
use serde::Serialize;

/// Decoder settings.
#[derive(Clone, Debug)]
pub struct DecodeConfig {
    /// UDP destination ports treated as VXLAN (4789 by default, plus user-named ports).
    pub vxlan_ports: Vec<u16>,
    /// UDP destination ports treated as GENEVE (6081 by default).
    pub geneve_ports: Vec<u16>,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            vxlan_ports: vec![4789],
            geneve_ports: vec![6081],
        }
    }
}

/// Counters of what the decoder saw and skipped, for the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DecodeStats {
    /// Frames handed to the decoder.
    pub frames: u64,
    /// Inner TCP segments produced.
    pub tcp: u64,
    /// ICMP errors quoting TCP.
    pub icmp_errors: u64,
    /// Frames that were neither (UDP, ARP, other protocols).
    pub other: u64,
    /// Frames whose headers were cut or malformed, so nothing could be decoded.
    pub malformed: u64,
    /// Frames of a link type the decoder does not know.
    pub unknown_link: u64,
    /// Frames truncated by the capture (caplen < wire length).
    pub truncated: u64,
    /// TCP segments whose checksum was checked and wrong (never dropped).
    pub bad_checksum: u64,
    /// IPv4/IPv6 fragments seen.
    pub ip_fragments: u64,
    /// Fragmented datagrams reassembled.
    pub ip_reassembled: u64,
    /// Frames carried in VXLAN.
    pub vxlan: u64,
    /// Frames carried in GENEVE.
    pub geneve: u64,
}

/// Decodes frames; holds IP fragment reassembly state and counters.
#[derive(Default)]
pub struct Decoder {
    config: DecodeConfig,
    stats: DecodeStats,
}

impl Decoder {
    /// A decoder with the given settings.
    pub fn new(config: DecodeConfig) -> Self {
        Decoder {
            config,
            stats: DecodeStats::default(),
        }
    }

    /// Decodes one frame; `None` when it carries nothing the later layers use.
    pub fn decode<'a>(&mut self, packet: &PacketRef<'a>) -> Option<Decoded<'a>> {
        let _ = (&self.config, packet);
        self.stats.frames += 1;
        None
    }

    /// Counters so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }
}
