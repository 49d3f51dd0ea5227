//! TCP conversation model with sequence/acknowledgment bookkeeping. Every packet is stamped on an
//! explicit scenario clock; mirror effects (drop, duplicate, reorder, truncate) are per segment.

use std::net::{IpAddr, SocketAddr};

use super::frame::{icmp_unreachable, ip_tcp, TcpFlags, TcpSegment};
use super::pcap::Nanos;

/// One millisecond on the scenario clock.
pub const MS: Nanos = 1_000_000;
/// One second on the scenario clock.
pub const SEC: Nanos = 1_000_000_000;
/// One microsecond on the scenario clock.
pub const US: Nanos = 1_000;

/// A packet produced by the model: an IP packet with its capture time and metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkt {
    /// Capture timestamp.
    pub t: Nanos,
    /// The IP packet (no link header).
    pub ip: Vec<u8>,
    /// Opaque tag of the connection that produced it (used by higher layers for vantage).
    pub tag: u32,
    /// True when sent by side A (the connection's initiator).
    pub from_a: bool,
    /// Mirror truncation: keep only this many bytes of the inner frame.
    pub snap: Option<usize>,
    /// The packet was lost in the network after leaving B and never reached A's side
    /// (visible only on B's ENI).
    pub only_at_b: bool,
}

/// One endpoint (peer) of a connection: its address and the state its packets are sent with
/// (sequence numbers, IP id, window, TTL).
#[derive(Clone, Debug)]
pub struct Peer {
    /// Address and port.
    pub addr: SocketAddr,
    /// Initial sequence number.
    pub isn: u32,
    /// Next sequence number to send.
    pub next_seq: u32,
    /// Next IPv4 identification.
    pub ip_id: u16,
    /// Advertised window.
    pub window: u16,
    /// TTL of its packets.
    pub ttl: u8,
}

impl Peer {
    /// An endpoint with the given ISN and first IP id.
    pub fn new(addr: SocketAddr, isn: u32, ip_id: u16) -> Self {
        Peer {
            addr,
            isn,
            next_seq: isn,
            ip_id,
            window: 502,
            ttl: 64,
        }
    }
}

/// Mirror effects applied to the segments of one [`TcpConn::send`] call, by segment index.
#[derive(Clone, Debug, Default)]
pub struct SendOpts {
    /// Segments missing from the capture (they did travel: sequence space advances).
    pub drop: Vec<usize>,
    /// Segments captured twice.
    pub duplicate: Vec<usize>,
    /// Segments captured after the following one.
    pub reorder: Vec<usize>,
    /// Segments truncated by the mirror session: (index, bytes kept of the inner frame).
    pub truncate: Vec<(usize, usize)>,
    /// Do not emit the receiver's ACK.
    pub no_ack: bool,
}

/// A TCP connection between A (initiator) and B.
#[derive(Clone, Debug)]
pub struct TcpConn {
    /// Initiator.
    pub a: Peer,
    /// Responder.
    pub b: Peer,
    /// Maximum segment size for data.
    pub mss: usize,
    /// Round-trip time between the two sides.
    pub rtt: Nanos,
    /// Gap between back-to-back segments.
    pub seg_gap: Nanos,
    /// Delay of the receiver's ACK after data.
    pub ack_delay: Nanos,
    /// Tag copied into every packet.
    pub tag: u32,
    /// The last SYN sent (IP bytes), quoted by ICMP errors.
    pub last_syn: Vec<u8>,
}

impl TcpConn {
    /// A new (not yet connected) connection.
    pub fn new(a: Peer, b: Peer, rtt: Nanos, tag: u32) -> Self {
        TcpConn {
            a,
            b,
            mss: 1448,
            rtt,
            seg_gap: 12 * US,
            ack_delay: 40 * US,
            tag,
            last_syn: Vec::new(),
        }
    }

    /// The sender (A when `from_a`) and its peer.
    fn peers(&mut self, from_a: bool) -> (&mut Peer, &Peer) {
        if from_a {
            (&mut self.a, &self.b)
        } else {
            (&mut self.b, &self.a)
        }
    }

    /// Builds one segment from `from_a`'s side with explicit seq (no bookkeeping).
    fn build(
        &mut self,
        from_a: bool,
        seq: u32,
        flags: TcpFlags,
        payload: &[u8],
        mss: Option<u16>,
    ) -> Vec<u8> {
        let (me, peer) = self.peers(from_a);
        let id = me.ip_id;
        me.ip_id = me.ip_id.wrapping_add(1);
        ip_tcp(&TcpSegment {
            src: me.addr,
            dst: peer.addr,
            seq,
            ack: peer.next_seq,
            flags,
            window: if flags.syn { 64240 } else { me.window },
            ip_id: id,
            ttl: me.ttl,
            payload,
            mss,
        })
    }

    fn push(&self, out: &mut Vec<Pkt>, t: Nanos, from_a: bool, ip: Vec<u8>) {
        out.push(Pkt {
            t,
            ip,
            tag: self.tag,
            from_a,
            snap: None,
            only_at_b: false,
        });
    }

    /// A sends SYN (first transmission).
    pub fn syn(&mut self, out: &mut Vec<Pkt>, t: Nanos) {
        self.syn_retransmit(out, t);
        self.a.next_seq = self.a.isn.wrapping_add(1);
    }

    /// A (re)transmits its SYN (same ISN, new IP id).
    pub fn syn_retransmit(&mut self, out: &mut Vec<Pkt>, t: Nanos) {
        let isn = self.a.isn;
        let ip = self.build(
            true,
            isn,
            TcpFlags {
                syn: true,
                ..Default::default()
            },
            &[],
            Some(1460),
        );
        self.last_syn = ip.clone();
        self.push(out, t, true, ip);
    }

    /// B answers SYN-ACK (may be repeated: B retransmits with the same ISN).
    pub fn syn_ack(&mut self, out: &mut Vec<Pkt>, t: Nanos) {
        let isn = self.b.isn;
        let ip = self.build(
            false,
            isn,
            TcpFlags {
                syn: true,
                ack: true,
                ..Default::default()
            },
            &[],
            Some(1460),
        );
        self.b.next_seq = isn.wrapping_add(1);
        self.push(out, t, false, ip);
    }

    /// A pure ACK from one side.
    pub fn ack(&mut self, out: &mut Vec<Pkt>, t: Nanos, from_a: bool) {
        let seq = if from_a {
            self.a.next_seq
        } else {
            self.b.next_seq
        };
        let ip = self.build(
            from_a,
            seq,
            TcpFlags {
                ack: true,
                ..Default::default()
            },
            &[],
            None,
        );
        self.push(out, t, from_a, ip);
    }

    /// Full three-way handshake starting at `t`; returns the time of the final ACK.
    pub fn handshake(&mut self, out: &mut Vec<Pkt>, t: Nanos) -> Nanos {
        self.syn(out, t);
        self.syn_ack(out, t + self.rtt / 2);
        let done = t + self.rtt;
        self.ack(out, done, true);
        done
    }

    /// Linux-like SYN retransmissions after the first SYN at `t0`: at +1 s, +3 s, +7 s, ...
    /// (backoff 1, 2, 4 s) while before `until`.
    pub fn syn_retransmits_until(&mut self, out: &mut Vec<Pkt>, t0: Nanos, until: Nanos) {
        let mut step = SEC;
        let mut t = t0 + step;
        while t < until {
            self.syn_retransmit(out, t);
            step *= 2;
            t += step;
        }
    }

    /// B refuses the connection: RST-ACK to the SYN.
    pub fn refuse(&mut self, out: &mut Vec<Pkt>, t: Nanos) {
        let w = self.b.window;
        self.b.window = 0;
        let ip = self.build(
            false,
            0,
            TcpFlags {
                rst: true,
                ack: true,
                ..Default::default()
            },
            &[],
            None,
        );
        self.b.window = w;
        self.push(out, t, false, ip);
    }

    /// An ICMP/ICMPv6 destination unreachable from `from`, quoting the last SYN.
    pub fn icmp_unreachable(&mut self, out: &mut Vec<Pkt>, t: Nanos, from: IpAddr, code: u8) {
        let ip = icmp_unreachable(from, &self.last_syn, code, 0x4000);
        self.push(out, t, false, ip);
    }

    /// Sends `data` from one side starting at `t`, segmented at the MSS, with the receiver's
    /// ACK after the last segment (+`ack_delay`). Returns the time of the last data segment.
    pub fn send(
        &mut self,
        out: &mut Vec<Pkt>,
        t: Nanos,
        from_a: bool,
        data: &[u8],
        opts: &SendOpts,
    ) -> Nanos {
        let mut last = t;
        let mut staged: Vec<Pkt> = Vec::new();
        let n = data.len().div_ceil(self.mss.max(1));
        for (i, chunk) in data.chunks(self.mss.max(1)).enumerate() {
            let seq = if from_a {
                self.a.next_seq
            } else {
                self.b.next_seq
            };
            let flags = TcpFlags {
                ack: true,
                psh: i + 1 == n,
                ..Default::default()
            };
            let ip = self.build(from_a, seq, flags, chunk, None);
            let (me, _) = self.peers(from_a);
            me.next_seq = me.next_seq.wrapping_add(chunk.len() as u32);
            let ts = t + i as Nanos * self.seg_gap;
            last = ts;
            if opts.drop.contains(&i) {
                continue;
            }
            let snap = opts
                .truncate
                .iter()
                .find(|(k, _)| *k == i)
                .map(|(_, len)| *len);
            let p = Pkt {
                t: ts,
                ip,
                tag: self.tag,
                from_a,
                snap,
                only_at_b: false,
            };
            if opts.duplicate.contains(&i) {
                let mut d = p.clone();
                d.t += US;
                staged.push(p);
                staged.push(d);
            } else {
                staged.push(p);
            }
        }
        for &i in &opts.reorder {
            // Move segment i's capture time just after segment i+1.
            let ti = t + i as Nanos * self.seg_gap;
            for p in staged.iter_mut() {
                if p.t == ti {
                    p.t = ti + self.seg_gap + US / 2;
                }
            }
        }
        out.extend(staged);
        if !opts.no_ack && !data.is_empty() {
            self.ack(out, last + self.ack_delay, !from_a);
        }
        last
    }

    /// Sends FIN (with ACK) from one side at `t`, no reaction from the peer.
    pub fn fin(&mut self, out: &mut Vec<Pkt>, t: Nanos, from_a: bool) {
        let seq = if from_a {
            self.a.next_seq
        } else {
            self.b.next_seq
        };
        let ip = self.build(
            from_a,
            seq,
            TcpFlags {
                fin: true,
                ack: true,
                ..Default::default()
            },
            &[],
            None,
        );
        let (me, _) = self.peers(from_a);
        me.next_seq = me.next_seq.wrapping_add(1);
        self.push(out, t, from_a, ip);
    }

    /// FIN from one side acknowledging only up to `ack` (it crossed data still in flight).
    pub fn fin_crossing(&mut self, out: &mut Vec<Pkt>, t: Nanos, from_a: bool, ack: u32) {
        let saved = if from_a {
            std::mem::replace(&mut self.b.next_seq, ack)
        } else {
            std::mem::replace(&mut self.a.next_seq, ack)
        };
        self.fin(out, t, from_a);
        if from_a {
            self.b.next_seq = saved;
        } else {
            self.a.next_seq = saved;
        }
    }

    /// Orderly close started by one side at `t`: FIN, peer's FIN-ACK, last ACK. Returns the end.
    pub fn close(&mut self, out: &mut Vec<Pkt>, t: Nanos, from_a: bool) -> Nanos {
        self.fin(out, t, from_a);
        self.fin(out, t + self.rtt / 2, !from_a);
        self.ack(out, t + self.rtt, from_a);
        t + self.rtt
    }

    /// RST from one side (with ACK when `with_ack`).
    pub fn rst(&mut self, out: &mut Vec<Pkt>, t: Nanos, from_a: bool, with_ack: bool) {
        let seq = if from_a {
            self.a.next_seq
        } else {
            self.b.next_seq
        };
        let (me, _) = self.peers(from_a);
        me.window = 0;
        let ip = self.build(
            from_a,
            seq,
            TcpFlags {
                rst: true,
                ack: with_ack,
                ..Default::default()
            },
            &[],
            None,
        );
        self.push(out, t, from_a, ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::sa4;
    use etherparse::{SlicedPacket, TransportSlice};

    fn tcp_of(p: &Pkt) -> (u32, u32, bool, bool, bool, bool, usize) {
        let s = SlicedPacket::from_ip(&p.ip).expect("parse");
        let Some(TransportSlice::Tcp(t)) = s.transport else {
            panic!("not tcp")
        };
        (
            t.sequence_number(),
            t.acknowledgment_number(),
            t.syn(),
            t.ack(),
            t.fin(),
            t.rst(),
            t.payload().len(),
        )
    }

    fn conn() -> TcpConn {
        TcpConn::new(
            Peer::new(sa4([10, 0, 0, 1], 40000), 1000, 1),
            Peer::new(sa4([10, 0, 0, 2], 80), 5000, 1),
            MS,
            0,
        )
    }

    #[test]
    fn handshake_data_close_bookkeeping() {
        let mut c = conn();
        let mut out = Vec::new();
        let t = c.handshake(&mut out, 0);
        assert_eq!(out.len(), 3);
        let data = vec![b'x'; 3000];
        c.send(&mut out, t, true, &data, &SendOpts::default());
        // 3 segments (1448, 1448, 104) + ACK
        assert_eq!(out.len(), 7);
        assert_eq!(tcp_of(&out[3]).0, 1001);
        assert_eq!(tcp_of(&out[4]).0, 1001 + 1448);
        let ack = tcp_of(&out[6]);
        assert_eq!(ack.1, 1001 + 3000);
        assert_eq!(ack.0, 5001);
        c.close(&mut out, 10 * MS, false);
        let fin = tcp_of(&out[7]);
        assert!(fin.4);
        assert_eq!(fin.0, 5001);
        let last = tcp_of(&out[9]);
        // closed by B: B's FIN, A's FIN, B's last ACK acknowledging A's FIN
        assert_eq!(last.0, 5002);
        assert_eq!(last.1, 1001 + 3001);
    }

    #[test]
    fn syn_backoff_is_linux_like() {
        let mut c = conn();
        let mut out = Vec::new();
        c.syn(&mut out, 0);
        c.syn_retransmits_until(&mut out, 0, 10 * SEC);
        let times: Vec<Nanos> = out.iter().map(|p| p.t).collect();
        assert_eq!(times, vec![0, SEC, 3 * SEC, 7 * SEC]);
        assert!(out.iter().all(|p| tcp_of(p).0 == 1000 && tcp_of(p).2));
    }

    #[test]
    fn mirror_effects() {
        let mut c = conn();
        let mut out = Vec::new();
        c.handshake(&mut out, 0);
        out.clear();
        let opts = SendOpts {
            drop: vec![1],
            duplicate: vec![0],
            reorder: vec![2],
            truncate: vec![(3, 60)],
            no_ack: true,
        };
        c.send(&mut out, 0, true, &vec![0u8; 1448 * 5], &opts);
        out.sort_by_key(|p| p.t);
        let seqs: Vec<u32> = out.iter().map(|p| tcp_of(p).0).collect();
        let s = |i: u32| 1001 + 1448 * i;
        assert_eq!(seqs, vec![s(0), s(0), s(3), s(2), s(4)]);
        assert_eq!(out[2].snap, Some(60));
        assert_eq!(c.a.next_seq, s(5));
    }
}
