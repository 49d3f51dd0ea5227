//! Decodes arbitrary bytes under an arbitrary link type: the first byte picks the link type
//! (one of the supported ones, or an unsupported one), the second how much the capture "cut".
#![no_main]

use albscope::capture::{LinkType, PacketPos, PacketRef, Timestamp};
use albscope::decode::{supported_link_types, Decoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Some((&cut, frame)) = rest.split_first() else {
        return;
    };
    let links = supported_link_types();
    let link = links
        .get(usize::from(pick) % (links.len() + 1))
        .map_or(u32::from(pick) + 1000, |(n, _)| *n);
    let mut decoder = Decoder::default();
    let packet = PacketRef {
        pos: PacketPos::default(),
        ts: Timestamp::default(),
        link: LinkType(link),
        orig_len: (frame.len() as u32).saturating_add(u32::from(cut)),
        data: frame,
    };
    // Feed it twice so a fragment can meet itself in the reassembly table.
    let _ = decoder.decode(&packet);
    let _ = decoder.decode(&packet);
});
