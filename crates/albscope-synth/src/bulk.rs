//! Streaming load generator for benchmarks: many concurrent keep-alive client connections
//! through two ALB nodes to four targets, both legs, VXLAN-mirrored, written round by round so
//! memory depends on the number of connections, never on the output size.

use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::alb::{Encoder, Wrap, EPOCH};
use super::http;
use super::pcap::{ByteOrder, LinkType, Nanos, PcapWriter, TsResolution};
use super::rng::SplitMix64;
use super::tcp::{Peer, Pkt, SendOpts, TcpConn, MS, SEC, US};

/// Length of one generation round; every exchange of a round ends inside it.
const ROUND: Nanos = 100 * MS;
const NODES: [([u8; 4], u32); 2] = [([10, 0, 1, 25], 1001), ([10, 0, 3, 140], 1002)];
const TARGETS: [([u8; 4], u16); 4] = [
    ([10, 0, 2, 15], 80),
    ([10, 0, 2, 37], 8080),
    ([10, 0, 4, 15], 80),
    ([10, 0, 4, 37], 8080),
];
const PATHS: [&str; 8] = [
    "/",
    "/products?page=2",
    "/api/cart",
    "/api/items/48213",
    "/static/js/app.7f3a9c.js",
    "/static/css/main.css",
    "/search?q=running+shoes&sort=price",
    "/api/orders",
];

struct Slot {
    front: TcpConn,
    back: TcpConn,
    target: usize,
    requests_left: u32,
}

struct Gen {
    rng: SplitMix64,
    next_port: u16,
    next_tag: u32,
    body: Vec<u8>,
}

impl Gen {
    /// A new endpoint at `addr` with a random ISN and IP id.
    fn peer(&mut self, addr: SocketAddr) -> Peer {
        let isn = self.rng.next_u64() as u32;
        Peer::new(addr, isn, self.rng.next_u64() as u16)
    }

    fn tag(&self, node: usize) -> u32 {
        self.next_tag
            .wrapping_mul(NODES.len() as u32)
            .wrapping_add(node as u32)
    }

    fn port(&mut self) -> u16 {
        self.next_port = if self.next_port >= 60_000 {
            10_000
        } else {
            self.next_port + 1
        };
        self.next_port
    }

    /// Opens a slot: front and back handshakes at `t`.
    fn open(&mut self, i: usize, t: Nanos, out: &mut Vec<Pkt>) -> Slot {
        let node = i % NODES.len();
        let target = (i / NODES.len()) % TARGETS.len();
        let client = Ipv4Addr::new(
            100,
            64 + (i / 60_000) as u8,
            (i / 250 % 240) as u8,
            (i % 250) as u8 + 1,
        );
        let (nip, _) = NODES[node];
        let (tip, tport) = TARGETS[target];
        let cp = self.port();
        let bp = self.port();
        let a = self.peer(SocketAddr::new(IpAddr::V4(client), cp));
        let b = self.peer(SocketAddr::new(IpAddr::from(nip), 80));
        // tags encode the node: tag % NODES.len() == node
        self.next_tag += 1;
        let mut front = TcpConn::new(a, b, 1200 * US, self.tag(node));
        let a = self.peer(SocketAddr::new(IpAddr::from(nip), bp));
        let b = self.peer(SocketAddr::new(IpAddr::from(tip), tport));
        self.next_tag += 1;
        let mut back = TcpConn::new(a, b, 400 * US, self.tag(node));
        let tf = front.handshake(out, t);
        back.handshake(out, tf + 150 * US);
        let requests_left = 20 + (self.rng.next_u64() % 200) as u32;
        Slot {
            front,
            back,
            target,
            requests_left,
        }
    }

    /// One request/response exchange on a slot starting at `t`; ends before `t + 60 ms`.
    fn exchange(&mut self, s: &mut Slot, t: Nanos, out: &mut Vec<Pkt>) {
        let path = PATHS[(self.rng.next_u64() % PATHS.len() as u64) as usize];
        let client_ip = s.front.a.addr.ip();
        let front_req = format!(
            "GET {path} HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\nCookie: session=7f3a9c2e51b84d0f\r\n\r\n"
        );
        let trace = format!("Root=1-{:08x}-{}", t / 1_000_000_000, self.rng.hex(24));
        let back_req = format!(
            "GET {path} HTTP/1.1\r\nX-Forwarded-For: {client_ip}\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: 80\r\nHost: shop.example.com\r\nX-Amzn-Trace-Id: {trace}\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\nCookie: session=7f3a9c2e51b84d0f\r\n\r\n"
        );
        // Response sizes: mostly small, some large (up to 96 KB).
        let roll = self.rng.next_u64() % 100;
        let size = match roll {
            0..=59 => self.rng.range(200, 4_000),
            60..=89 => self.rng.range(4_000, 24_000),
            _ => self.rng.range(24_000, 96_000),
        } as usize;
        let body = self.body.get(..size.min(self.body.len())).unwrap_or(&[]);
        let server = if s.target % 2 == 0 {
            "Server: Apache/2.4.58 (Ubuntu)"
        } else {
            "X-Powered-By: Express"
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nDate: {}\r\n{server}\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
            http::http_date(t),
            body.len()
        );
        let mut resp = Vec::with_capacity(head.len() + body.len());
        resp.extend_from_slice(head.as_bytes());
        resp.extend_from_slice(body);
        let o = SendOpts::default();
        let t1 = s.front.send(out, t, true, front_req.as_bytes(), &o) + 150 * US;
        let t2 = s.back.send(out, t1, true, back_req.as_bytes(), &o);
        let delay = self.rng.range(1, 30) * MS;
        let t3 = s.back.send(out, t2 + delay, false, &resp, &o) + 150 * US;
        s.front.send(out, t3, false, &resp, &o);
        s.requests_left = s.requests_left.saturating_sub(1);
    }
}

/// Writes a VXLAN-mirrored pcap of at least `target_bytes` bytes (stopping after the round that
/// crosses it) with `concurrent_connections` keep-alive client connections, each paired with a
/// back-end connection, issuing requests with realistic sizes; connections are closed and
/// replaced after a random number of requests. Deterministic for a given `seed`. Returns the
/// number of bytes written.
pub fn write_http_load<W: Write>(
    w: W,
    target_bytes: u64,
    concurrent_connections: usize,
    seed: u64,
) -> io::Result<u64> {
    let n = concurrent_connections.max(1);
    let mut g = Gen {
        rng: SplitMix64::new(seed),
        next_port: 20_000,
        next_tag: 0,
        body: Vec::new(),
    };
    let mut body = String::with_capacity(100_000);
    while body.len() < 100_000 {
        body.push_str(&format!(
            "<div class=\"item\"><a href=\"/products/{}\">Product {}</a></div>\n",
            g.rng.range(1, 99_999),
            g.rng.range(1, 999)
        ));
    }
    g.body = body.into_bytes();
    let mut out = RoundWriter::new(w)?;
    let mut buf: Vec<Pkt> = Vec::new();
    let mut slots: Vec<Slot> = Vec::with_capacity(n);
    let mut round_start = EPOCH;
    for i in 0..n {
        let t = round_start + (i as u64 * 37 * US) % (40 * MS);
        slots.push(g.open(i, t, &mut buf));
    }
    loop {
        for (i, s) in slots.iter_mut().enumerate() {
            let t = round_start + (i as u64 * 37 * US) % (40 * MS) + 5 * MS;
            if s.requests_left == 0 {
                let tc = s.front.close(&mut buf, t, true);
                s.back.close(&mut buf, tc, true);
                *s = g.open(i + n, tc + MS, &mut buf);
                continue;
            }
            if g.rng.next_u64() % 3 != 0 {
                g.exchange(s, t, &mut buf);
            }
        }
        out.write_round(&mut buf)?;
        round_start += ROUND;
        if out.written >= target_bytes {
            break;
        }
    }
    out.finish()
}

/// The pcap a bulk capture is written to, a round of packets at a time, VXLAN-mirrored from
/// the node of each packet's tag.
struct RoundWriter<W: Write> {
    pcap: PcapWriter<BufWriter<W>>,
    encoder: Encoder,
    /// Bytes written so far (the file header included).
    written: u64,
}

impl<W: Write> RoundWriter<W> {
    /// Starts the file (its header).
    fn new(w: W) -> io::Result<Self> {
        let pcap = PcapWriter::new(
            BufWriter::with_capacity(1 << 20, w),
            LinkType::Ethernet,
            262_144,
            TsResolution::Micro,
            ByteOrder::Little,
        )?;
        Ok(RoundWriter {
            pcap,
            encoder: Encoder::new(Wrap::Vxlan, None),
            written: 24,
        })
    }

    /// Writes a round's packets in time order and empties `buf`.
    fn write_round(&mut self, buf: &mut Vec<Pkt>) -> io::Result<()> {
        buf.sort_by_key(|p| p.t);
        for p in buf.iter() {
            let (nip, vni) = NODES[p.tag as usize % NODES.len()];
            let frame = self.encoder.encode(p, Ipv4Addr::from(nip), vni);
            self.pcap.write_packet(p.t, &frame, frame.len())?;
            self.written += 16 + frame.len() as u64;
        }
        buf.clear();
        Ok(())
    }

    /// Flushes the file; the bytes written.
    fn finish(self) -> io::Result<u64> {
        self.pcap.into_inner()?.flush()?;
        Ok(self.written)
    }
}

/// The shape of [`write_hanging_load`]'s capture: steady keep-alive traffic through one ALB
/// node, with some requests the target never answers.
#[derive(Clone, Debug)]
pub struct HangingLoad {
    /// Length of the capture.
    pub duration: Nanos,
    /// Client requests per second (spread over `connections`).
    pub rate: u64,
    /// Concurrent keep-alive client connections (each with its back-end connection).
    pub connections: usize,
    /// When each hanging request is sent (from the start of the capture); each goes over a
    /// connection of its own to `/hang/<k>`, and the target never answers it.
    pub hanging_at: Vec<Nanos>,
    /// How long after a hanging request the ALB gives up (its idle timeout): it closes the
    /// back-end connection and answers the client `504`; `None`, or past the end of the
    /// capture: the request is still unanswered when the capture ends.
    pub gives_up_after: Option<Nanos>,
    /// Seed of the random choices.
    pub seed: u64,
}

/// A hanging request's two connections and when the ALB gives up on it.
struct Hang {
    front: TcpConn,
    back: TcpConn,
    give_up: Option<Nanos>,
}

/// Writes a VXLAN-mirrored pcap of [`HangingLoad`]: one ALB node, small requests and responses
/// (every one answered `200` within 30 ms), written round by round so memory depends on the
/// number of connections, never on the capture's length. Returns the number of bytes written.
pub fn write_hanging_load<W: Write>(w: W, load: &HangingLoad) -> io::Result<u64> {
    let n = load.connections.max(1);
    let mut g = Gen {
        rng: SplitMix64::new(load.seed),
        next_port: 20_000,
        next_tag: 0,
        body: Vec::new(),
    };
    let mut out = RoundWriter::new(w)?;
    let mut buf: Vec<Pkt> = Vec::new();
    // Slot i uses node (i * NODES.len()) % NODES.len() = 0: one node.
    let open =
        |g: &mut Gen, i: usize, t: Nanos, buf: &mut Vec<Pkt>| g.open(i * NODES.len(), t, buf);
    let mut slots: Vec<Slot> = (0..n)
        .map(|i| {
            open(
                &mut g,
                i,
                EPOCH + (i as u64 * 37 * US) % (40 * MS),
                &mut buf,
            )
        })
        .collect();
    let mut next_slot = n;
    let per_round = load.rate.saturating_mul(ROUND) / SEC;
    let end = EPOCH + load.duration;
    let mut hanging: Vec<Nanos> = load.hanging_at.iter().map(|t| EPOCH + t).collect();
    hanging.sort_unstable();
    let mut next_hang = 0;
    let mut hangs: Vec<Hang> = Vec::new();
    let mut round_start = EPOCH;
    while round_start < end {
        let round_end = round_start + ROUND;
        for (i, s) in slots.iter_mut().enumerate() {
            let t = round_start + (i as u64 * 37 * US) % (40 * MS) + 5 * MS;
            if s.requests_left == 0 {
                let tc = s.front.close(&mut buf, t, true);
                s.back.close(&mut buf, tc, true);
                *s = open(&mut g, next_slot, tc + MS, &mut buf);
                next_slot += 1;
                continue;
            }
            if g.rng.next_u64() % (n as u64) < per_round {
                small_exchange(&mut g, s, t, &mut buf);
            }
        }
        while let Some(&at) = hanging.get(next_hang).filter(|&&at| at < round_end) {
            next_hang += 1;
            let mut s = open(&mut g, next_slot, at, &mut buf);
            next_slot += 1;
            let k = next_hang;
            let path = format!("/hang/{k}");
            let (front_req, back_req) = small_requests(&mut g, &s, &path, at);
            let o = SendOpts::default();
            let t1 = s
                .front
                .send(&mut buf, at + 2 * MS, true, front_req.as_bytes(), &o)
                + 150 * US;
            s.back.send(&mut buf, t1, true, back_req.as_bytes(), &o);
            hangs.push(Hang {
                front: s.front,
                back: s.back,
                give_up: load.gives_up_after.map(|d| t1 + d),
            });
        }
        hangs.retain_mut(|h| {
            let Some(at) = h.give_up.filter(|&at| at < round_end && at < end) else {
                return true;
            };
            let tc = h.back.close(&mut buf, at, true);
            let body = b"<html><body><center><h1>504 Gateway Time-out</h1></center></body></html>\r\n";
            let head = format!(
                "HTTP/1.1 504 Gateway Time-out\r\nServer: awselb/2.0\r\nDate: {}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
                http::http_date(tc),
                body.len()
            );
            let mut resp = head.into_bytes();
            resp.extend_from_slice(body);
            h.front.send(&mut buf, tc + 150 * US, false, &resp, &SendOpts::default());
            false
        });
        buf.retain(|p| p.t < end);
        out.write_round(&mut buf)?;
        round_start = round_end;
    }
    out.finish()
}

/// A short front-end request to `path` and the ALB's back-end request for it.
fn small_requests(g: &mut Gen, s: &Slot, path: &str, t: Nanos) -> (String, String) {
    let client_ip = s.front.a.addr.ip();
    let front = format!("GET {path} HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: loadgen/1.0\r\nAccept: */*\r\n\r\n");
    let trace = format!("Root=1-{:08x}-{}", t / SEC, g.rng.hex(24));
    let back = format!(
        "GET {path} HTTP/1.1\r\nX-Forwarded-For: {client_ip}\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: 80\r\nHost: api.example.com\r\nX-Amzn-Trace-Id: {trace}\r\nUser-Agent: loadgen/1.0\r\nAccept: */*\r\n\r\n"
    );
    (front, back)
}

/// One small request/response exchange (a `200` of 100-600 bytes) on a slot starting at `t`;
/// ends before `t + 35 ms`.
fn small_exchange(g: &mut Gen, s: &mut Slot, t: Nanos, out: &mut Vec<Pkt>) {
    let path = PATHS[(g.rng.next_u64() % PATHS.len() as u64) as usize];
    let (front_req, back_req) = small_requests(g, s, path, t);
    let size = g.rng.range(100, 600) as usize;
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    );
    let mut resp = head.into_bytes();
    resp.resize(resp.len() + size, b'x');
    let o = SendOpts::default();
    let t1 = s.front.send(out, t, true, front_req.as_bytes(), &o) + 150 * US;
    let t2 = s.back.send(out, t1, true, back_req.as_bytes(), &o);
    let delay = g.rng.range(1, 30) * MS;
    let t3 = s.back.send(out, t2 + delay, false, &resp, &o) + 150 * US;
    s.front.send(out, t3, false, &resp, &o);
    s.requests_left = s.requests_left.saturating_sub(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaches_target_size_deterministically() {
        let mut a = Vec::new();
        let n = write_http_load(&mut a, 300_000, 8, 42).expect("write");
        assert_eq!(n, a.len() as u64);
        assert!(a.len() >= 300_000 && a.len() < 1_500_000, "{}", a.len());
        let mut b = Vec::new();
        write_http_load(&mut b, 300_000, 8, 42).expect("write");
        assert_eq!(a, b);
        let mut c = Vec::new();
        write_http_load(&mut c, 300_000, 8, 43).expect("write");
        assert_ne!(a, c);
    }
}
