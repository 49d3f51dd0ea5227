//! Feeds arbitrary bytes, split arbitrarily into both directions (with gaps, FIN and RST), to the
//! protocol tracker after a TLS record header, so the TLS reader sees them.
#![no_main]

use albscope::capture::{PacketPos, Timestamp};
use albscope::decode::MirrorSession;
use albscope::flow::{CloseReason, ConnId, ConnKey, ConnSummary, Dir, DirStats, Endpoint, FlowEvent};
use albscope::protocol::{AppSink, ConnContext, ConnectionRecord, HttpExchange, ProtocolTracker};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};

struct Null;
impl AppSink for Null {
    fn exchange(&mut self, _: &ConnContext, _: HttpExchange) {}
    fn closed(&mut self, _: ConnectionRecord) {}
}

fn drive(prefix: &[u8], data: &[u8]) {
    let ep = |o: u8, port| Endpoint { ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, o)), port };
    let key = ConnKey { session: MirrorSession::DIRECT, client: ep(1, 40000), server: ep(2, 80) };
    let mut t = ProtocolTracker::default();
    let mut sink = Null;
    let id = ConnId(1);
    let pos = PacketPos::default();
    t.handle(id, FlowEvent::Open { key, ts: Timestamp(0), pos }, &mut sink);
    let mut off = [0u64; 2];
    t.handle(id, FlowEvent::Data { dir: Dir::ToServer, ts: Timestamp(1), pos, offset: 0, bytes: prefix }, &mut sink);
    off[0] = prefix.len() as u64;
    let mut i = 0;
    let mut now = 1;
    while i < data.len() {
        let c = data[i];
        i += 1;
        now += 1;
        let dir = if c & 1 == 0 { Dir::ToServer } else { Dir::ToClient };
        let n = ((c >> 3) as usize + 1).min(data.len() - i);
        match (c >> 1) & 3 {
            0 | 1 => {
                let bytes = &data[i..i + n];
                i += n;
                t.handle(id, FlowEvent::Data { dir, ts: Timestamp(now), pos, offset: off[dir.index()], bytes }, &mut sink);
                off[dir.index()] += n as u64;
            }
            2 => {
                let len = (c >> 3) as u64 * 37 + 1;
                t.handle(id, FlowEvent::Gap { dir, ts: Timestamp(now), offset: off[dir.index()], len }, &mut sink);
                off[dir.index()] += len;
            }
            _ => {
                let ev = if c & 0x80 != 0 {
                    FlowEvent::Rst { dir, ts: Timestamp(now), pos }
                } else {
                    FlowEvent::Fin { dir, ts: Timestamp(now), pos }
                };
                t.handle(id, ev, &mut sink);
            }
        }
    }
    let summary = ConnSummary {
        id,
        key,
        start: Timestamp(0),
        end: Timestamp(now + 1),
        first_pos: pos,
        saw_syn: true,
        dirs: [DirStats::default(); 2],
        state: String::new(),
        history: String::new(),
        events: Vec::new(),
        events_dropped: 0,
        close_reason: CloseReason::Closed,
    };
    t.handle(id, FlowEvent::Close(Box::new(summary)), &mut sink);
    assert_eq!(t.open_connections(), 0);
}

fuzz_target!(|data: &[u8]| {
    drive(&[0x16, 0x03, 0x01], data);
});
