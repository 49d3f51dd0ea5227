//! ALB world model: clients connect to ALB nodes, the nodes forward to targets over pooled
//! keep-alive back-end connections with the headers an ALB inserts, health checks run, and the
//! ALB's timers and failure answers are reproduced. The capture is written from a chosen vantage
//! point (ALB node ENI, target ENI, or client ENI), VXLAN-mirrored or plain.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use albscope::taxonomy::{Category, GeneratedBy};

use super::accesslog::LogLine;
use super::frame::{self, Framing, Outer};
use super::http::{self, ServerKind};
use super::pcap::{ByteOrder, Nanos, PcapNgWriter, PcapWriter, TsResolution};
use super::rng::{mix, SplitMix64};
use super::tcp::{Peer, Pkt, SendOpts, TcpConn, MS, SEC, US};
use super::tls;

/// Scenario clock origin: 2025-12-11T16:42:57Z (the seed article's first 502).
pub const EPOCH: Nanos = 1_765_471_377 * SEC;
/// ALB back-end TCP connect timeout.
pub const CONNECT_TIMEOUT: Nanos = 10 * SEC;
/// ALB back-end TLS handshake timeout.
pub const TLS_HANDSHAKE_TIMEOUT: Nanos = 10 * SEC;
/// Round-trip time between clients and the ALB.
pub const FRONT_RTT: Nanos = 1200 * US;
/// Round-trip time between the ALB and targets.
pub const BACK_RTT: Nanos = 400 * US;
/// Time the ALB takes to act on an event.
pub const ALB_DELAY: Nanos = 150 * US;

/// Which ENIs are mirrored, deciding what the capture holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vantage {
    /// The ALB nodes' ENIs: both legs; outer source = node IP, VNI per node.
    AlbNode,
    /// The targets' ENIs: back-end leg only; outer source = target IP, VNI per target.
    Target,
    /// The clients' ENIs: front-end leg only; outer source = client IP, VNI per client.
    Client,
}

/// How captured frames are packaged in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wrap {
    /// VPC Traffic Mirroring: outer Ethernet/IPv4/UDP 4789/VXLAN around the inner Ethernet frame.
    Vxlan,
    /// GENEVE (UDP 6081) around the inner IP packet.
    Geneve,
    /// No tunnel: the inner packet in this framing (capture on a host).
    Plain(Framing),
}

/// An ALB node (one per availability zone).
#[derive(Clone, Debug)]
pub struct Node {
    /// Private IPv4 address of the node's ENI.
    pub ip: Ipv4Addr,
    /// IPv6 address (dual-stack listeners / IPv6 targets).
    pub ip6: Ipv6Addr,
    /// VNI of the mirror session on this node's ENI.
    pub vni: u32,
    /// The IPv4 address clients reach the node at when it is not `ip` (an internet-facing
    /// ALB's public address, translated by the internet gateway; a proxy's client-facing
    /// interface). See [`World::set_front_addr`].
    pub front_ip: Option<Ipv4Addr>,
}

/// A registered target.
#[derive(Clone, Debug)]
pub struct Target {
    /// Target address and port.
    pub addr: SocketAddr,
    /// Server software (headers, keep-alive timeout).
    pub server: ServerKind,
    /// Idle keep-alive timeout of the target (defaults to the server's).
    pub keepalive: Nanos,
    /// The target speaks TLS (target group protocol HTTPS).
    pub tls: bool,
    /// VNI of the mirror session on the target's ENI.
    pub vni: u32,
}

impl Target {
    /// A plain-HTTP target with the server's default keep-alive.
    pub fn new(addr: SocketAddr, server: ServerKind) -> Self {
        Target {
            addr,
            server,
            keepalive: server.keepalive(),
            tls: false,
            vni: 0,
        }
    }
}

/// A client request as the client sends it.
#[derive(Clone, Debug)]
pub struct Req {
    /// Method.
    pub method: String,
    /// Request target.
    pub path: String,
    /// Host header.
    pub host: String,
    /// Further headers (after Host).
    pub headers: Vec<(String, String)>,
    /// Body (Content-Length is added when non-empty).
    pub body: Vec<u8>,
    /// The client sends `Expect: 100-continue` and waits for the ALB's 100 before the body.
    pub expect_continue: bool,
}

impl Req {
    /// A GET with curl-like headers.
    pub fn get(path: &str) -> Self {
        Req {
            method: "GET".into(),
            path: path.into(),
            host: "alb-demo-1974023788.ap-southeast-2.elb.amazonaws.com".into(),
            headers: vec![
                ("User-Agent".into(), "curl/8.11.1".into()),
                ("Accept".into(), "*/*".into()),
            ],
            body: Vec::new(),
            expect_continue: false,
        }
    }

    /// A request with another method.
    pub fn method(mut self, m: &str) -> Self {
        self.method = m.into();
        self
    }

    /// A POST with a JSON body.
    pub fn post(path: &str, body: &[u8]) -> Self {
        let mut r = Req::get(path).method("POST");
        r.headers
            .push(("Content-Type".into(), "application/json".into()));
        r.body = body.to_vec();
        r
    }

    /// Adds a header.
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }

    fn all_headers(&self, expect: bool) -> Vec<(String, String)> {
        let mut h = self.headers.clone();
        if !self.body.is_empty() {
            h.push(("Content-Length".into(), self.body.len().to_string()));
        }
        if expect && self.expect_continue {
            h.push(("Expect".into(), "100-continue".into()));
        }
        h
    }
}

/// A target response.
#[derive(Clone, Debug)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Extra headers (after the server's identity headers).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Send the body chunked.
    pub chunked: bool,
    /// Target processing time before the response.
    pub delay: Nanos,
    /// The target answers `Connection: close` (instead of its keep-alive headers) and closes
    /// the connection this long after the response.
    pub close_after: Option<Nanos>,
}

impl Resp {
    /// A response with this status and body, 8 ms processing.
    pub fn new(status: u16, body: &[u8]) -> Self {
        Resp {
            status,
            headers: Vec::new(),
            body: body.to_vec(),
            chunked: false,
            delay: 8 * MS,
            close_after: None,
        }
    }

    /// The target answers `Connection: close` and closes the connection `after` the response
    /// (honouring its own header: no keep-alive timer).
    pub fn connection_close(mut self, after: Nanos) -> Self {
        self.close_after = Some(after);
        self
    }

    /// Sets the processing delay.
    pub fn delay(mut self, d: Nanos) -> Self {
        self.delay = d;
        self
    }

    /// Adds a header.
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }

    /// Chunked transfer coding.
    pub fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }
}

/// How a TLS back-end handshake fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsFail {
    /// Target answers the ClientHello with RST.
    Rst,
    /// Target answers with a fatal handshake_failure alert, then closes.
    Alert,
    /// Target closes with FIN.
    Fin,
}

/// What happens to one request at the target (and so what the ALB answers).
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The target answers (a 5xx here is a `target_generated_error`).
    Respond(Resp),
    /// SYN answered by RST.
    Refused,
    /// SYN answered by ICMP (IPv4 type 3 / ICMPv6 type 1) destination unreachable with this code.
    Unreachable(u8),
    /// Request sent, then the target closes (FIN, or RST when `rst`) after this delay.
    ClosedBeforeResponse {
        /// Delay after the request.
        after: Nanos,
        /// RST instead of FIN.
        rst: bool,
    },
    /// Request sent on the most recent idle connection exactly when the target's keep-alive
    /// timer closes it (the front request's time is derived from that connection).
    KeepaliveRace,
    /// The target answers bytes that are not HTTP.
    Malformed(Vec<u8>),
    /// The target answers a header block over 32 KB.
    HeaderTooLarge,
    /// TLS back-end handshake fails.
    TlsFailed(TlsFail),
    /// Target silent; the ALB closes the back-end connection after this delay (deregistration).
    DeregAbort(Nanos),
    /// SYN and retransmissions unanswered at the ALB; with `syn_acks` the target did answer
    /// SYN-ACKs that never reached the ALB (blocked return path, visible from the target ENI).
    ConnectTimeout {
        /// The target sends SYN-ACKs (lost before the ALB).
        syn_acks: bool,
    },
    /// TLS back-end handshake gets no answer.
    TlsTimeout,
    /// Target silent past the idle timeout; optionally a late reply after the ALB's FIN.
    IdleTimeout {
        /// Delay after the ALB's FIN of a late target response (draws an RST).
        late_reply: Option<Nanos>,
    },
    /// Response headers declare more body than follows.
    IncompleteBody {
        /// Content-Length declared.
        declared: usize,
        /// Body bytes actually sent.
        sent: usize,
    },
    /// The client closes its connection after this delay, before the (slow) response.
    ClientCloses(Nanos),
    /// The ALB answers this status without contacting any target (e.g. 503).
    NoTarget(u16),
}

/// Ground truth for one client request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Expected {
    /// The client's `ip:port` of the front-end connection (`[v6]:port` for IPv6). From a
    /// target-ENI capture only the IP is observable (last `X-Forwarded-For` entry).
    pub client: String,
    /// Failure category.
    pub category: Category,
    /// Complete status the client received (None: no response, e.g. client_closed, or a
    /// bare FIN after an incomplete body).
    pub status: Option<u16>,
    /// Who generated the answer (None when nobody answered).
    pub generated_by: Option<GeneratedBy>,
}

/// Which leg a connection belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leg {
    Front,
    Back,
}

#[derive(Clone, Copy, Debug)]
struct FlowMeta {
    leg: Leg,
    node: usize,
    target: usize,
    client_ip: IpAddr,
}

#[derive(Clone, Debug)]
struct BackConn {
    conn: TcpConn,
    node: usize,
    target: usize,
    busy_until: Nanos,
    last: Nanos,
    open: bool,
}

#[derive(Clone, Debug)]
struct FrontConn {
    conn: TcpConn,
    node: usize,
    tls: bool,
    last: Nanos,
    busy_until: Nanos,
    open: bool,
    /// HTTP/2: the data each side sends `(time, from client, bytes)`, sent in time order when
    /// the connection closes (concurrent streams interleave on one byte stream).
    streams: Option<Vec<(Nanos, bool, usize)>>,
}

/// Settings of a world.
#[derive(Clone, Debug)]
pub struct WorldCfg {
    /// Listener port (80 or 443).
    pub listener_port: u16,
    /// The listener is HTTPS (front end is TLS).
    pub tls_frontend: bool,
    /// ALB idle timeout.
    pub idle_timeout: Nanos,
    /// Mirrored ENIs.
    pub vantage: Vantage,
    /// Packaging.
    pub wrap: Wrap,
    /// Mirror-session packet length: inner frames cut to this many bytes.
    pub mirror_snap: Option<usize>,
    /// Capture snaplen: records cut to this many bytes (caplen < orig_len).
    pub snaplen: Option<usize>,
    /// Timestamp resolution of the file.
    pub ts_res: TsResolution,
    /// Write pcapng (SHB, IDB, EPBs) instead of classic pcap.
    pub pcapng: bool,
    /// Mirror loss: every Nth full-MSS data segment (mid-body) is missing from the capture.
    pub mirror_drop_every: Option<usize>,
    /// Every Nth packet is captured twice (mirrored on two ENIs).
    pub mirror_duplicate_every: Option<usize>,
    /// PRNG seed.
    pub seed: u64,
    /// ALPN protocols the clients offer on an HTTPS listener (none: no ALPN extension).
    pub alpn: &'static [&'static str],
}

impl Default for WorldCfg {
    fn default() -> Self {
        WorldCfg {
            listener_port: 80,
            tls_frontend: false,
            idle_timeout: 60 * SEC,
            vantage: Vantage::AlbNode,
            wrap: Wrap::Vxlan,
            mirror_snap: None,
            snaplen: None,
            ts_res: TsResolution::Micro,
            pcapng: false,
            mirror_drop_every: None,
            mirror_duplicate_every: None,
            seed: 1,
            alpn: &[],
        }
    }
}

/// Address of the mirror target (where the capture is taken).
pub const MIRROR_TARGET: Ipv4Addr = Ipv4Addr::new(10, 0, 200, 10);

/// The ALB world: nodes, targets, connections and the packets they produced.
pub struct World {
    /// Settings.
    pub cfg: WorldCfg,
    /// ALB nodes.
    pub nodes: Vec<Node>,
    /// Targets.
    pub targets: Vec<Target>,
    /// Ground truth, one entry per client request.
    pub expected: Vec<Expected>,
    /// The access-log entries the ALB writes, one per client request, in request order (plus
    /// any added with [`World::log_uncaptured`]).
    pub access_log: Vec<LogLine>,
    log_rng: SplitMix64,
    cur_log: Option<LogLine>,
    rng: SplitMix64,
    pkts: Vec<Pkt>,
    flows: Vec<FlowMeta>,
    back: Vec<BackConn>,
    front: Vec<FrontConn>,
    next_back_port: Vec<u16>,
    next_client_port: u16,
}

impl World {
    /// An empty world.
    pub fn new(cfg: WorldCfg) -> Self {
        let rng = SplitMix64::new(cfg.seed);
        let log_rng = SplitMix64::new(cfg.seed ^ 0x5eed_1065);
        World {
            cfg,
            nodes: Vec::new(),
            targets: Vec::new(),
            expected: Vec::new(),
            access_log: Vec::new(),
            log_rng,
            cur_log: None,
            rng,
            pkts: Vec::new(),
            flows: Vec::new(),
            back: Vec::new(),
            front: Vec::new(),
            next_back_port: Vec::new(),
            next_client_port: 40_000,
        }
    }

    /// Adds an ALB node with IPv4 `ip` and mirror VNI `vni`; returns its index.
    pub fn add_node(&mut self, ip: [u8; 4], vni: u32) -> usize {
        let ip6 = Ipv6Addr::new(
            0x2406,
            0xda1c,
            0xf42,
            0x6d00,
            0,
            0,
            u16::from(ip[2]),
            u16::from(ip[3]),
        );
        self.nodes.push(Node {
            ip: Ipv4Addr::from(ip),
            ip6,
            vni,
            front_ip: None,
        });
        let p = 10_000 + (self.rng.next_u64() % 20_000) as u16;
        self.next_back_port.push(p);
        self.nodes.len() - 1
    }

    /// Clients reach node `node` at `ip` (IPv4) instead of its own address; its connections to
    /// targets keep its own address.
    pub fn set_front_addr(&mut self, node: usize, ip: [u8; 4]) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.front_ip = Some(Ipv4Addr::from(ip));
        }
    }

    /// Adds a target; returns its index. Its VNI (target vantage) is 200 + index unless set.
    pub fn add_target(&mut self, mut t: Target) -> usize {
        if t.vni == 0 {
            t.vni = 200 + self.targets.len() as u32;
        }
        self.targets.push(t);
        self.targets.len() - 1
    }

    fn flow(&mut self, leg: Leg, node: usize, target: usize, client_ip: IpAddr) -> u32 {
        self.flows.push(FlowMeta {
            leg,
            node,
            target,
            client_ip,
        });
        (self.flows.len() - 1) as u32
    }

    fn node_addr(&self, node: usize, v6: bool) -> IpAddr {
        match self.nodes.get(node) {
            Some(n) if v6 => IpAddr::V6(n.ip6),
            Some(n) => IpAddr::V4(n.ip),
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }
    }

    /// A new endpoint at `addr` with a random ISN and IP id.
    fn peer(&mut self, addr: SocketAddr) -> Peer {
        let isn = self.rng.next_u64() as u32;
        let id = self.rng.next_u64() as u16;
        Peer::new(addr, isn, id)
    }

    /// A front-end TCP connection from `client` to node `node`'s listener, handshake done at
    /// `t`, for a caller that writes the application bytes itself (HTTP/2: see [`super::h2`]).
    /// Returns the connection and the time the handshake completed.
    pub fn raw_front(&mut self, client: SocketAddr, node: usize, t: Nanos) -> (TcpConn, Nanos) {
        let alb = SocketAddr::new(
            self.node_addr(node, client.is_ipv6()),
            self.cfg.listener_port,
        );
        let tag = self.flow(Leg::Front, node, usize::MAX, client.ip());
        let a = self.peer(client);
        let mut b = self.peer(alb);
        b.ttl = 255;
        let mut conn = TcpConn::new(a, b, FRONT_RTT, tag);
        let t = conn.handshake(&mut self.pkts, t);
        (conn, t)
    }

    /// A back-end TCP connection from node `node` (source port `port`) to target `target`,
    /// handshake done at `t`, for a caller that writes the application bytes itself.
    pub fn raw_back(
        &mut self,
        node: usize,
        target: usize,
        port: u16,
        client_ip: IpAddr,
        t: Nanos,
    ) -> (TcpConn, Nanos) {
        let taddr = self
            .targets
            .get(target)
            .map(|x| x.addr)
            .unwrap_or_else(|| SocketAddr::from(([10, 0, 2, 15], 80)));
        let src = SocketAddr::new(self.node_addr(node, taddr.is_ipv6()), port);
        let tag = self.flow(Leg::Back, node, target, client_ip);
        let a = self.peer(src);
        let b = self.peer(taddr);
        let mut conn = TcpConn::new(a, b, BACK_RTT, tag);
        let t = conn.handshake(&mut self.pkts, t);
        (conn, t)
    }

    /// Sends `data` on a raw connection (from its `a` side when `from_a`); returns the time of
    /// the last segment.
    pub fn raw_send(&mut self, conn: &mut TcpConn, t: Nanos, from_a: bool, data: &[u8]) -> Nanos {
        conn.send(&mut self.pkts, t, from_a, data, &SendOpts::default())
    }

    /// Closes a raw connection (FIN from the `a` side when `from_a`, then the other).
    pub fn raw_close(&mut self, conn: &mut TcpConn, t: Nanos, from_a: bool) -> Nanos {
        conn.close(&mut self.pkts, t, from_a)
    }

    /// Opens a client connection from `client_ip` to node `node` at `t` (TCP handshake, plus the
    /// TLS handshake on an HTTPS listener). Returns the front connection id.
    pub fn open(&mut self, client_ip: IpAddr, node: usize, t: Nanos) -> usize {
        let h2 = self.cfg.alpn.first() == Some(&"h2");
        self.open_speaking(client_ip, node, t, h2)
    }

    /// Opens a client connection like [`World::open`] whose client offers the configured ALPN
    /// protocols but speaks HTTP/1.1 (the listener selected `http/1.1`, hidden by TLS 1.3).
    pub fn open_http1(&mut self, client_ip: IpAddr, node: usize, t: Nanos) -> usize {
        self.open_speaking(client_ip, node, t, false)
    }

    /// The HTTP/2 connection prefaces on front connection `f` (opened by [`World::open`] with
    /// `h2` offered first), right after its handshake: the client's preface, SETTINGS and
    /// WINDOW_UPDATE (64 bytes), the server's SETTINGS and WINDOW_UPDATE (40 bytes) half a
    /// round trip later, `ack_delay` after them the client's 9-byte SETTINGS acknowledgement
    /// (in a TLS record of its own unless the client sends something else within 1 ms after
    /// it, then in the same record), and `server_ack_delay` after that the server's own
    /// acknowledgement, alone. Returns the client's acknowledgement's time.
    pub fn h2_prefaces(&mut self, f: usize, ack_delay: Nanos, server_ack_delay: Nanos) -> Nanos {
        let Some(fc) = self.front.get_mut(f) else {
            return 0;
        };
        let t = fc.last + 100 * US;
        let server = t + FRONT_RTT / 2;
        let ack = server + ack_delay;
        let Some(streams) = fc.streams.as_mut() else {
            return ack;
        };
        streams.push((t, true, 24 + 9 + 18 + 13));
        streams.push((server, false, 9 + 18 + 13));
        streams.push((ack, true, 9));
        streams.push((ack + server_ack_delay, false, 9));
        fc.last = fc.last.max(ack + server_ack_delay);
        ack
    }

    fn open_speaking(&mut self, client_ip: IpAddr, node: usize, t: Nanos, h2: bool) -> usize {
        let port = self.next_client_port;
        self.next_client_port = self
            .next_client_port
            .wrapping_add(1 + (self.rng.next_u64() % 40) as u16)
            .max(32_768);
        let v6 = client_ip.is_ipv6();
        let front_ip = self
            .nodes
            .get(node)
            .and_then(|n| n.front_ip)
            .filter(|_| !v6)
            .map(IpAddr::V4);
        let alb = SocketAddr::new(
            front_ip.unwrap_or_else(|| self.node_addr(node, v6)),
            self.cfg.listener_port,
        );
        let tag = self.flow(Leg::Front, node, usize::MAX, client_ip);
        let a = self.peer(SocketAddr::new(client_ip, port));
        let mut b = self.peer(alb);
        b.ttl = 255;
        let mut conn = TcpConn::new(a, b, FRONT_RTT, tag);
        let mut t = conn.handshake(&mut self.pkts, t);
        let tls = self.cfg.tls_frontend;
        if tls {
            let ch = tls::client_hello_alpn(
                &mut self.rng,
                Some("shop.example.com"),
                &tls::ELB_POLICY_CIPHERS,
                self.cfg.alpn,
            );
            conn.send(
                &mut self.pkts,
                t + 100 * US,
                true,
                &ch,
                &SendOpts::default(),
            );
            let sf = tls::server_flight(&mut self.rng, 3900);
            conn.send(
                &mut self.pkts,
                t + FRONT_RTT / 2 + 300 * US,
                false,
                &sf,
                &SendOpts::default(),
            );
            let cf = tls::client_finished(&mut self.rng);
            t += FRONT_RTT + 600 * US;
            conn.send(&mut self.pkts, t, true, &cf, &SendOpts::default());
        }
        let h2 = tls && h2;
        self.front.push(FrontConn {
            conn,
            node,
            tls,
            last: t,
            busy_until: t,
            open: true,
            streams: h2.then(Vec::new),
        });
        self.front.len() - 1
    }

    /// A new client connection (its next port) to the listener of `node`'s own address.
    fn listener_conn(&mut self, client_ip: IpAddr, node: usize) -> TcpConn {
        let port = self.next_client_port;
        self.next_client_port = self
            .next_client_port
            .wrapping_add(1 + (self.rng.next_u64() % 40) as u16)
            .max(32_768);
        let alb = SocketAddr::new(
            self.node_addr(node, client_ip.is_ipv6()),
            self.cfg.listener_port,
        );
        let tag = self.flow(Leg::Front, node, usize::MAX, client_ip);
        let a = self.peer(SocketAddr::new(client_ip, port));
        let mut b = self.peer(alb);
        b.ttl = 255;
        TcpConn::new(a, b, FRONT_RTT, tag)
    }

    /// A client whose SYN to the listener gets no answer (dropped before the node: a security
    /// group or network ACL, or an address no node holds any more): its SYN at `t` and the
    /// retransmissions until `until`. Seen only from the client's side (inbound drops are not
    /// mirrored on the node's ENI); no request, so no ground-truth entry and no log line.
    pub fn open_unanswered(&mut self, client_ip: IpAddr, node: usize, t: Nanos, until: Nanos) {
        let mut conn = self.listener_conn(client_ip, node);
        conn.syn(&mut self.pkts, t);
        conn.syn_retransmits_until(&mut self.pkts, t, until);
    }

    /// A client whose TLS handshake the ALB refuses (its ClientHello offers only legacy
    /// ciphers the listener's security policy does not allow): the ALB answers with a fatal
    /// `handshake_failure` alert and closes the connection. No request is made.
    pub fn open_tls_refused(&mut self, client_ip: IpAddr, node: usize, t: Nanos) {
        const LEGACY_CIPHERS: [u16; 3] = [0x000a, 0x0005, 0x0004];
        let mut conn = self.listener_conn(client_ip, node);
        let t = conn.handshake(&mut self.pkts, t);
        let ch = tls::client_hello_alpn(
            &mut self.rng,
            Some("shop.example.com"),
            &LEGACY_CIPHERS,
            self.cfg.alpn,
        );
        conn.send(
            &mut self.pkts,
            t + 100 * US,
            true,
            &ch,
            &SendOpts::default(),
        );
        let ta = t + FRONT_RTT / 2 + 300 * US;
        conn.send(
            &mut self.pkts,
            ta,
            false,
            &tls::alert_handshake_failure(),
            &SendOpts {
                no_ack: true,
                ..Default::default()
            },
        );
        conn.close(&mut self.pkts, ta + 30 * US, false);
    }

    fn front_send(&mut self, f: usize, t: Nanos, from_client: bool, plain: &[u8]) -> Nanos {
        let Some(fc) = self.front.get_mut(f) else {
            return t;
        };
        if let Some(streams) = fc.streams.as_mut() {
            // HTTP/2 frames (about the size of the HTTP/1.1 message), sent at close.
            streams.push((t, from_client, plain.len().div_ceil(2) + 9));
            fc.last = fc.last.max(t);
            return t;
        }
        let data = if fc.tls {
            tls::app_data(&mut self.rng, plain.len())
        } else {
            plain.to_vec()
        };
        let end = fc
            .conn
            .send(&mut self.pkts, t, from_client, &data, &SendOpts::default());
        fc.last = end;
        end
    }

    /// True when front connection `f` is open and has no request in progress at `t`.
    pub fn front_idle_at(&self, f: usize, t: Nanos) -> bool {
        self.front
            .get(f)
            .is_some_and(|fc| fc.open && fc.busy_until < t && fc.last < t)
    }

    /// The client closes its connection at `t` (ALB answers FIN).
    pub fn close_front(&mut self, f: usize, t: Nanos) {
        self.flush_streams(f);
        if let Some(fc) = self.front.get_mut(f) {
            if fc.open {
                fc.conn.close(&mut self.pkts, t, true);
                fc.open = false;
            }
        }
    }

    /// Sends an HTTP/2 connection's frames in time order, one TLS burst per run of one side.
    fn flush_streams(&mut self, f: usize) {
        let Some(mut streams) = self.front.get_mut(f).and_then(|fc| fc.streams.take()) else {
            return;
        };
        streams.sort_by_key(|s| s.0);
        let mut runs: Vec<(Nanos, bool, usize)> = Vec::new();
        for (t, from_client, n) in streams {
            match runs.last_mut() {
                Some(last) if last.1 == from_client && t <= last.0 + MS => last.2 += n,
                _ => runs.push((t, from_client, n)),
            }
        }
        let mut at = 0;
        for (t, from_client, n) in runs {
            let data = tls::app_data(&mut self.rng, n);
            let Some(fc) = self.front.get_mut(f) else {
                return;
            };
            let start = t.max(at);
            at = fc.conn.send(
                &mut self.pkts,
                start,
                from_client,
                &data,
                &SendOpts::default(),
            );
            fc.last = fc.last.max(at);
        }
        if let Some(fc) = self.front.get_mut(f) {
            fc.streams = Some(Vec::new());
        }
    }

    /// Closes idle back-end connections whose target keep-alive or ALB idle timer ran out by `t`.
    fn expire(&mut self, t: Nanos) {
        let idle = self.cfg.idle_timeout;
        for i in 0..self.back.len() {
            let Some(bc) = self.back.get(i) else { continue };
            if !bc.open || bc.busy_until > t {
                continue;
            }
            let ka = self.targets.get(bc.target).map_or(idle, |tg| tg.keepalive);
            let (when, by_target) = if ka < idle {
                (bc.last + ka, true)
            } else {
                (bc.last + idle, false)
            };
            if when <= t {
                if let Some(bc) = self.back.get_mut(i) {
                    bc.conn.close(&mut self.pkts, when, !by_target);
                    bc.open = false;
                }
            }
        }
    }

    /// A new (not yet connected) back-end connection from `node` to `target`.
    fn new_back(&mut self, node: usize, target: usize, client_ip: IpAddr) -> usize {
        let taddr = self
            .targets
            .get(target)
            .map_or(frame::sa4([0; 4], 0), |t| t.addr);
        let port = self.next_back_port.get(node).copied().unwrap_or(10_000);
        if let Some(p) = self.next_back_port.get_mut(node) {
            *p = p
                .wrapping_add(1 + (self.rng.next_u64() % 7) as u16)
                .max(10_000);
        }
        let src = SocketAddr::new(self.node_addr(node, taddr.is_ipv6()), port);
        let tag = self.flow(Leg::Back, node, target, client_ip);
        let mut a = self.peer(src);
        a.ttl = 255;
        let b = self.peer(taddr);
        let conn = TcpConn::new(a, b, BACK_RTT, tag);
        self.back.push(BackConn {
            conn,
            node,
            target,
            busy_until: 0,
            last: 0,
            open: true,
        });
        self.back.len() - 1
    }

    /// Finds an idle pooled connection node->target at `t`.
    fn idle_back(&self, node: usize, target: usize, t: Nanos) -> Option<usize> {
        let mut best: Option<(usize, Nanos)> = None;
        for (i, bc) in self.back.iter().enumerate() {
            let better = best.map_or(true, |(_, l)| bc.last > l);
            if bc.open && bc.node == node && bc.target == target && bc.busy_until <= t && better {
                best = Some((i, bc.last));
            }
        }
        best.map(|(i, _)| i)
    }

    /// When the idle connection that a request from `node` to `target` at `t` would reuse gets
    /// closed by the target's keep-alive timer (None when no idle connection exists).
    pub fn keepalive_expiry(&self, node: usize, target: usize, t: Nanos) -> Option<Nanos> {
        let ka = self.targets.get(target)?.keepalive;
        let b = self.idle_back(node, target, t)?;
        self.back.get(b).map(|bc| bc.last + ka)
    }

    /// Connects a new back-end connection (TCP + TLS when the target is TLS); returns ready time.
    fn connect_ok(&mut self, b: usize, t: Nanos) -> Nanos {
        let target_tls = self
            .back
            .get(b)
            .and_then(|bc| self.targets.get(bc.target))
            .is_some_and(|tg| tg.tls);
        let ch = tls::client_hello(&mut self.rng, None, &tls::ELB_POLICY_CIPHERS);
        let sf = tls::server_flight(&mut self.rng, 1800);
        let cf = tls::client_finished(&mut self.rng);
        let Some(bc) = self.back.get_mut(b) else {
            return t;
        };
        let mut t = bc.conn.handshake(&mut self.pkts, t);
        if target_tls {
            bc.conn
                .send(&mut self.pkts, t + 20 * US, true, &ch, &SendOpts::default());
            bc.conn.send(
                &mut self.pkts,
                t + BACK_RTT / 2 + 200 * US,
                false,
                &sf,
                &SendOpts::default(),
            );
            t += BACK_RTT + 300 * US;
            bc.conn
                .send(&mut self.pkts, t, true, &cf, &SendOpts::default());
        }
        t
    }

    fn trace_id(&mut self, t: Nanos) -> String {
        let id = format!("Root=1-{:08x}-{}", t / SEC, self.rng.hex(24));
        if let Some(c) = self.cur_log.as_mut() {
            c.trace_id = id.clone();
        }
        id
    }

    /// Starts the log entry of the request on front connection `f` (first byte at `t`,
    /// complete at `received`).
    fn begin_log(&mut self, f: usize, t: Nanos, received: Nanos, req: &Req, bytes: usize) {
        let Some(fc) = self.front.get(f) else {
            return;
        };
        let tls = fc.tls;
        let client = fc.conn.a.addr;
        let (scheme, kind) = if tls {
            ("https", "https")
        } else {
            ("http", "http")
        };
        let trace_id = format!("Root=1-{:08x}-{}", t / SEC, self.log_rng.hex(24));
        let conn_trace_id = format!("TID_{}", self.log_rng.hex(32));
        self.cur_log = Some(LogLine {
            kind,
            time: t,
            client,
            target: None,
            received,
            dispatched: None,
            response: None,
            relayed: None,
            elb_status: None,
            target_status: None,
            received_bytes: bytes,
            sent_bytes: 0,
            request: format!(
                "{} {scheme}://{}:{}{} HTTP/1.1",
                req.method, req.host, self.cfg.listener_port, req.path
            ),
            user_agent: req
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
                .map_or_else(|| "-".to_string(), |(_, v)| v.clone()),
            trace_id,
            domain: tls.then(|| "shop.example.com".to_string()),
            created: t,
            conn_trace_id,
        });
    }

    fn log_mut(&mut self) -> Option<&mut LogLine> {
        self.cur_log.as_mut()
    }

    /// Adds the log entry of an ok request that the capture does not hold (it went through an
    /// ALB node whose ENI is not mirrored): `GET path` from `client` at `t`, answered 200 by
    /// `target` 12 ms later.
    pub fn log_uncaptured(&mut self, client: SocketAddr, t: Nanos, path: &str, target: usize) {
        let req = Req::get(path);
        let trace_id = format!("Root=1-{:08x}-{}", t / SEC, self.log_rng.hex(24));
        let conn_trace_id = format!("TID_{}", self.log_rng.hex(32));
        let received = t + 300 * US;
        let dispatched = received + ALB_DELAY;
        let response = dispatched + 12 * MS;
        let relayed = response + ALB_DELAY;
        self.access_log.push(LogLine {
            kind: "http",
            time: relayed,
            client,
            target: self.targets.get(target).map(|t| t.addr),
            received,
            dispatched: Some(dispatched),
            response: Some(response),
            relayed: Some(relayed),
            elb_status: Some(200),
            target_status: Some(200),
            received_bytes: 140 + path.len(),
            sent_bytes: 612,
            request: format!(
                "GET http://{}:{}{path} HTTP/1.1",
                req.host, self.cfg.listener_port
            ),
            user_agent: "curl/8.11.1".into(),
            trace_id,
            domain: None,
            created: t,
            conn_trace_id,
        });
    }

    /// Removes the `n`-th access-log entry (request order): ALB access logging is best effort,
    /// a line can be missing.
    pub fn drop_log_line(&mut self, n: usize) {
        if n < self.access_log.len() {
            self.access_log.remove(n);
        }
    }

    /// The access log as the ALB delivers it: one line per entry, ordered by `time`.
    pub fn access_log_text(&self) -> String {
        let mut lines: Vec<&LogLine> = self.access_log.iter().collect();
        lines.sort_by_key(|l| l.time);
        let mut out = String::new();
        for l in lines {
            out.push_str(&l.format());
            out.push('\n');
        }
        out
    }

    fn backend_request(&mut self, req: &Req, client_ip: IpAddr, t: Nanos) -> Vec<u8> {
        let proto = if self.cfg.tls_frontend {
            "https"
        } else {
            "http"
        };
        let mut h: Vec<(String, String)> = vec![
            ("X-Forwarded-For".into(), client_ip.to_string()),
            ("X-Forwarded-Proto".into(), proto.into()),
            (
                "X-Forwarded-Port".into(),
                self.cfg.listener_port.to_string(),
            ),
            ("Host".into(), req.host.clone()),
            ("X-Amzn-Trace-Id".into(), self.trace_id(t)),
        ];
        h.extend(req.all_headers(false));
        http::message(
            &format!("{} {} HTTP/1.1", req.method, req.path),
            &h,
            &req.body,
        )
    }

    fn target_response(&self, target: usize, r: &Resp, t: Nanos, head: bool) -> (Vec<u8>, Vec<u8>) {
        let server = self
            .targets
            .get(target)
            .map_or(ServerKind::Nginx, |tg| tg.server);
        let mut h: Vec<(String, String)> = vec![("Date".into(), http::http_date(t))];
        let ident = server.identity_headers();
        for (k, v) in &ident {
            if k != "Connection" && k != "Keep-Alive" {
                h.push((k.clone(), v.clone()));
            }
        }
        h.extend(r.headers.iter().cloned());
        let body_allowed = r.status != 304 && r.status != 204;
        if body_allowed && !r.headers.iter().any(|(k, _)| k == "Content-Type") {
            h.push(("Content-Type".into(), server.content_type().into()));
        }
        let body = if r.chunked {
            h.push(("Transfer-Encoding".into(), "chunked".into()));
            http::chunked(&r.body, 4000)
        } else {
            if body_allowed {
                h.push(("Content-Length".into(), r.body.len().to_string()));
            }
            r.body.clone()
        };
        let relayed_headers = h.clone();
        if r.close_after.is_some() {
            h.push(("Connection".into(), "close".into()));
        } else {
            for (k, v) in &ident {
                if k == "Connection" || k == "Keep-Alive" {
                    h.push((k.clone(), v.clone()));
                }
            }
        }
        let start = format!("HTTP/1.1 {} {}", r.status, http::reason(r.status));
        let body = if head || !body_allowed {
            Vec::new()
        } else {
            body
        };
        let to_alb = http::message(&start, &h, &body);
        let mut rh = relayed_headers;
        rh.push(("Connection".into(), "keep-alive".into()));
        let to_client = http::message(&start, &rh, &body);
        (to_alb, to_client)
    }

    fn record(
        &mut self,
        f: usize,
        category: Category,
        status: Option<u16>,
        by: Option<GeneratedBy>,
    ) {
        let client = self
            .front
            .get(f)
            .map_or_else(String::new, |fc| fc.conn.a.addr.to_string());
        if let Some(mut l) = self.cur_log.take() {
            l.elb_status = match category {
                Category::ClientClosed => Some(460),
                Category::IncompleteBody => l.target_status,
                _ => status,
            };
            self.access_log.push(l);
        }
        self.expected.push(Expected {
            client,
            category,
            status,
            generated_by: by,
        });
    }

    fn alb_error(&mut self, f: usize, t: Nanos, status: u16, category: Category) -> Nanos {
        let resp = http::alb_error_response(status, t);
        if let Some(l) = self.log_mut() {
            l.time = t;
            l.sent_bytes = resp.len();
        }
        let end = self.front_send(f, t, false, &resp);
        self.record(f, category, Some(status), Some(GeneratedBy::Lb));
        end
    }

    /// Sends one client request on front connection `f` at `t`, forwarded to `target`, with the
    /// given outcome. Returns the time the exchange is over on the front end.
    pub fn request(
        &mut self,
        f: usize,
        t: Nanos,
        req: &Req,
        target: usize,
        outcome: Outcome,
    ) -> Nanos {
        let done = self.request_inner(f, t, req, target, outcome);
        if let Some(fc) = self.front.get_mut(f) {
            fc.busy_until = fc.busy_until.max(done).max(fc.last);
        }
        done
    }

    fn request_inner(
        &mut self,
        f: usize,
        t: Nanos,
        req: &Req,
        target: usize,
        outcome: Outcome,
    ) -> Nanos {
        let Some(fc) = self.front.get(f) else {
            return t;
        };
        let node = fc.node;
        let client_ip = fc.conn.a.addr.ip();
        // Keep-alive race: the request time is set by the racing connection.
        let mut t = t;
        let mut race_conn = None;
        if matches!(outcome, Outcome::KeepaliveRace) {
            if let Some(b) = self.idle_back(node, target, t) {
                let ka = self.targets.get(target).map_or(5 * SEC, |tg| tg.keepalive);
                let last = self.back.get(b).map_or(t, |bc| bc.last);
                // the back-end request leaves 60 µs before the target's timer fires
                t = (last + ka).saturating_sub(ALB_DELAY + 60 * US);
                race_conn = Some(b);
                if let Some(bc) = self.back.get_mut(b) {
                    bc.busy_until = u64::MAX;
                }
            }
        }
        self.expire(t);
        // Front request.
        let front_bytes = http::message(
            &format!("{} {} HTTP/1.1", req.method, req.path),
            &{
                let mut h = vec![("Host".to_string(), req.host.clone())];
                h.extend(req.all_headers(true));
                h
            },
            if req.expect_continue { &[] } else { &req.body },
        );
        let mut tr = self.front_send(f, t, true, &front_bytes);
        if req.expect_continue {
            let c = self.front_send(f, tr + ALB_DELAY, false, b"HTTP/1.1 100 Continue\r\n\r\n");
            tr = self.front_send(f, c + FRONT_RTT, true, &req.body);
        }
        let t1 = tr + ALB_DELAY;
        let client_bytes = front_bytes.len()
            + if req.expect_continue {
                req.body.len()
            } else {
                0
            };
        self.begin_log(f, t, tr, req, client_bytes);
        if let Outcome::NoTarget(status) = outcome {
            return self.alb_error(f, t1, status, Category::NoTargetAttempt);
        }
        let back_req = self.backend_request(req, client_ip, t1);
        let target_addr = self.targets.get(target).map(|tg| tg.addr);
        if let Some(l) = self.log_mut() {
            l.target = target_addr;
        }
        let head = req.method == "HEAD";
        // Back-end connection.
        let fresh_needed = matches!(
            outcome,
            Outcome::Refused
                | Outcome::Unreachable(_)
                | Outcome::ConnectTimeout { .. }
                | Outcome::TlsFailed(_)
                | Outcome::TlsTimeout
        );
        let (b, ready) = if let Some(b) = race_conn {
            (b, t1)
        } else if let (false, Some(b)) = (fresh_needed, self.idle_back(node, target, t1)) {
            (b, t1)
        } else {
            let b = self.new_back(node, target, client_ip);
            match outcome {
                Outcome::Refused => {
                    if let Some(bc) = self.back.get_mut(b) {
                        bc.conn.syn(&mut self.pkts, t1);
                        bc.conn.refuse(&mut self.pkts, t1 + BACK_RTT / 2);
                        bc.open = false;
                    }
                    return self.alb_error(
                        f,
                        t1 + BACK_RTT / 2 + ALB_DELAY,
                        502,
                        Category::TargetConnectRefused,
                    );
                }
                Outcome::Unreachable(code) => {
                    let from = self.targets.get(target).map(|tg| tg.addr.ip());
                    if let (Some(bc), Some(from)) = (self.back.get_mut(b), from) {
                        bc.conn.syn(&mut self.pkts, t1);
                        bc.conn
                            .icmp_unreachable(&mut self.pkts, t1 + BACK_RTT / 2, from, code);
                        bc.open = false;
                    }
                    return self.alb_error(
                        f,
                        t1 + BACK_RTT / 2 + ALB_DELAY,
                        502,
                        Category::TargetUnreachableIcmp,
                    );
                }
                Outcome::ConnectTimeout { syn_acks } => {
                    if let Some(bc) = self.back.get_mut(b) {
                        let start = self.pkts.len();
                        bc.conn.syn(&mut self.pkts, t1);
                        bc.conn
                            .syn_retransmits_until(&mut self.pkts, t1, t1 + CONNECT_TIMEOUT);
                        let syns: Vec<Nanos> = self
                            .pkts
                            .get(start..)
                            .unwrap_or(&[])
                            .iter()
                            .map(|p| p.t)
                            .collect();
                        if syn_acks {
                            for st in syns {
                                bc.conn.syn_ack(&mut self.pkts, st + BACK_RTT / 2);
                                if let Some(p) = self.pkts.last_mut() {
                                    p.only_at_b = true;
                                }
                            }
                        }
                        bc.open = false;
                    }
                    return self.alb_error(
                        f,
                        t1 + CONNECT_TIMEOUT,
                        504,
                        Category::TargetConnectTimeout,
                    );
                }
                Outcome::TlsFailed(kind) => {
                    let ch = tls::client_hello(&mut self.rng, None, &tls::ELB_POLICY_CIPHERS);
                    if let Some(bc) = self.back.get_mut(b) {
                        let tc = bc.conn.handshake(&mut self.pkts, t1);
                        let th = bc.conn.send(
                            &mut self.pkts,
                            tc + 20 * US,
                            true,
                            &ch,
                            &SendOpts {
                                no_ack: true,
                                ..Default::default()
                            },
                        );
                        let tt = th + BACK_RTT / 2;
                        match kind {
                            TlsFail::Rst => bc.conn.rst(&mut self.pkts, tt, false, true),
                            TlsFail::Alert => {
                                bc.conn.send(
                                    &mut self.pkts,
                                    tt,
                                    false,
                                    &tls::alert_handshake_failure(),
                                    &SendOpts {
                                        no_ack: true,
                                        ..Default::default()
                                    },
                                );
                                bc.conn.close(&mut self.pkts, tt + 30 * US, false);
                            }
                            TlsFail::Fin => {
                                bc.conn.close(&mut self.pkts, tt, false);
                            }
                        }
                        bc.open = false;
                        return self.alb_error(
                            f,
                            tt + BACK_RTT / 2 + ALB_DELAY,
                            502,
                            Category::TargetTlsHandshakeFailed,
                        );
                    }
                    return t1;
                }
                Outcome::TlsTimeout => {
                    let ch = tls::client_hello(&mut self.rng, None, &tls::ELB_POLICY_CIPHERS);
                    if let Some(bc) = self.back.get_mut(b) {
                        let tc = bc.conn.handshake(&mut self.pkts, t1);
                        bc.conn.send(
                            &mut self.pkts,
                            tc + 20 * US,
                            true,
                            &ch,
                            &SendOpts::default(),
                        );
                        bc.conn
                            .close(&mut self.pkts, t1 + TLS_HANDSHAKE_TIMEOUT, true);
                        bc.open = false;
                    }
                    return self.alb_error(
                        f,
                        t1 + TLS_HANDSHAKE_TIMEOUT,
                        504,
                        Category::TargetTlsHandshakeTimeout,
                    );
                }
                _ => {}
            }
            let ready = self.connect_ok(b, t1);
            (b, ready)
        };
        // Dispatch the request on connection b.
        let target_tls = self.targets.get(target).is_some_and(|tg| tg.tls);
        let wire = |w: &mut World, plain: &[u8]| -> Vec<u8> {
            if target_tls {
                tls::app_data(&mut w.rng, plain.len())
            } else {
                plain.to_vec()
            }
        };
        let back_wire = wire(self, &back_req);
        if let Some(l) = self.log_mut() {
            l.dispatched = Some(ready);
        }
        let Some(bc) = self.back.get_mut(b) else {
            return t1;
        };
        let racing = race_conn.is_some();
        let acked_before = bc.conn.a.next_seq;
        let opts = SendOpts {
            no_ack: racing,
            ..Default::default()
        };
        let sent = bc.conn.send(&mut self.pkts, ready, true, &back_wire, &opts);
        if racing {
            // The target's FIN was already on its way: it does not acknowledge the request.
            bc.conn
                .fin_crossing(&mut self.pkts, ready + 60 * US, false, acked_before);
        }
        let idle = self.cfg.idle_timeout;
        let done: Nanos;
        match outcome {
            Outcome::Respond(r) => {
                let tresp = sent + r.delay;
                let (to_alb, to_client) = self.target_response(target, &r, tresp, head);
                let to_alb = wire(self, &to_alb);
                let Some(bc) = self.back.get_mut(b) else {
                    return t1;
                };
                let got = bc
                    .conn
                    .send(&mut self.pkts, tresp, false, &to_alb, &SendOpts::default());
                bc.last = got;
                bc.busy_until = got;
                if let Some(after) = r.close_after {
                    bc.conn.close(&mut self.pkts, got + after, false);
                    bc.open = false;
                }
                if let Some(l) = self.log_mut() {
                    l.response = Some(tresp);
                    l.relayed = Some(got + ALB_DELAY);
                    l.time = got + ALB_DELAY;
                    l.target_status = Some(r.status);
                    l.sent_bytes = to_client.len();
                }
                done = self.front_send(f, got + ALB_DELAY, false, &to_client);
                let cat = if r.status >= 500 {
                    Category::TargetGeneratedError
                } else {
                    Category::Ok
                };
                self.record(f, cat, Some(r.status), Some(GeneratedBy::Target));
            }
            Outcome::ClosedBeforeResponse { after, rst } => {
                let tc = sent + after;
                if rst {
                    bc.conn.rst(&mut self.pkts, tc, false, true);
                } else {
                    bc.conn.close(&mut self.pkts, tc, false);
                }
                bc.open = false;
                done = self.alb_error(
                    f,
                    tc + BACK_RTT / 2 + ALB_DELAY,
                    502,
                    Category::TargetClosedBeforeResponse,
                );
            }
            Outcome::KeepaliveRace => {
                // The target's keep-alive timer fires as the request is in flight: FIN crosses
                // the request, then the target resets the data it can no longer read.
                // ALB acknowledges the FIN; the request reaches a closed socket and draws an RST.
                bc.conn.ack(&mut self.pkts, sent + 80 * US, true);
                bc.conn
                    .rst(&mut self.pkts, sent + BACK_RTT / 2, false, false);
                bc.open = false;
                done = self.alb_error(
                    f,
                    sent + BACK_RTT / 2 + ALB_DELAY,
                    502,
                    Category::KeepaliveRace,
                );
            }
            Outcome::Malformed(bytes) => {
                let tr = sent + 5 * MS;
                bc.conn
                    .send(&mut self.pkts, tr, false, &bytes, &SendOpts::default());
                bc.conn.close(&mut self.pkts, tr + 100 * US, true);
                bc.open = false;
                if let Some(l) = self.log_mut() {
                    l.response = Some(tr);
                }
                done = self.alb_error(f, tr + ALB_DELAY, 502, Category::MalformedResponse);
            }
            Outcome::HeaderTooLarge => {
                let tr = sent + 6 * MS;
                let mut h = vec![("Content-Type".to_string(), "text/html".to_string())];
                for i in 0..40 {
                    h.push((
                        "Set-Cookie".into(),
                        format!("session_blob_{i}={}; Path=/; HttpOnly", "A".repeat(900)),
                    ));
                }
                h.push(("Content-Length".into(), "2".into()));
                let msg = http::message("HTTP/1.1 200 OK", &h, b"ok");
                let msg = wire(self, &msg);
                let Some(bc) = self.back.get_mut(b) else {
                    return t1;
                };
                let end = bc
                    .conn
                    .send(&mut self.pkts, tr, false, &msg, &SendOpts::default());
                bc.conn.rst(&mut self.pkts, end + 50 * US, true, true);
                bc.open = false;
                if let Some(l) = self.log_mut() {
                    l.response = Some(tr);
                }
                done = self.alb_error(f, end + ALB_DELAY, 502, Category::ResponseHeaderTooLarge);
            }
            Outcome::DeregAbort(after) => {
                let ta = sent + after;
                bc.conn.fin(&mut self.pkts, ta, true);
                bc.conn.ack(&mut self.pkts, ta + BACK_RTT / 2, false);
                bc.conn.rst(&mut self.pkts, ta + MS, true, true);
                bc.open = false;
                done = self.alb_error(f, ta + ALB_DELAY, 502, Category::DeregistrationAbort);
            }
            Outcome::IdleTimeout { late_reply } => {
                let ti = sent + idle;
                bc.conn.fin(&mut self.pkts, ti, true);
                bc.conn.ack(&mut self.pkts, ti + BACK_RTT / 2, false);
                if let Some(d) = late_reply {
                    let r = Resp::new(200, b"{\"result\":\"done\"}");
                    let (to_alb, _) = self.target_response(target, &r, ti + d, false);
                    let to_alb = wire(self, &to_alb);
                    let Some(bc) = self.back.get_mut(b) else {
                        return t1;
                    };
                    let end = bc.conn.send(
                        &mut self.pkts,
                        ti + d,
                        false,
                        &to_alb,
                        &SendOpts {
                            no_ack: true,
                            ..Default::default()
                        },
                    );
                    bc.conn.rst(&mut self.pkts, end + BACK_RTT / 2, true, false);
                }
                if let Some(bc) = self.back.get_mut(b) {
                    bc.open = false;
                }
                done = self.alb_error(f, ti, 504, Category::TargetIdleTimeout);
            }
            Outcome::IncompleteBody { declared, sent: n } => {
                let tr = sent + 10 * MS;
                let body = vec![b'x'; n];
                let mut r = Resp::new(200, &body);
                r.headers
                    .push(("Content-Type".into(), "application/octet-stream".into()));
                let (to_alb, to_client) = self.target_response(target, &r, tr, false);
                let fix = |m: Vec<u8>| -> Vec<u8> {
                    String::from_utf8_lossy(&m)
                        .replace(
                            &format!("Content-Length: {n}\r\n"),
                            &format!("Content-Length: {declared}\r\n"),
                        )
                        .into_bytes()
                };
                let (to_alb, to_client) = (fix(to_alb), fix(to_client));
                let to_alb = wire(self, &to_alb);
                let Some(bc) = self.back.get_mut(b) else {
                    return t1;
                };
                let got = bc
                    .conn
                    .send(&mut self.pkts, tr, false, &to_alb, &SendOpts::default());
                let client_len = to_client.len();
                let fe = self.front_send(f, got + ALB_DELAY, false, &to_client);
                let ti = got + idle;
                if let Some(l) = self.log_mut() {
                    l.response = Some(tr);
                    l.relayed = Some(got + ALB_DELAY);
                    l.time = ti;
                    l.target_status = Some(200);
                    l.sent_bytes = client_len;
                }
                if let Some(bc) = self.back.get_mut(b) {
                    bc.conn.close(&mut self.pkts, ti, true);
                    bc.open = false;
                }
                if let Some(fc) = self.front.get_mut(f) {
                    fc.conn.close(&mut self.pkts, ti.max(fe) + 100 * US, false);
                    fc.open = false;
                }
                self.record(f, Category::IncompleteBody, None, Some(GeneratedBy::Lb));
                done = ti;
            }
            Outcome::ClientCloses(after) => {
                let tc = tr + after;
                if let Some(l) = self.log_mut() {
                    // The ALB logs 460 when it sees the client go; the target's later answer
                    // is not in the entry.
                    l.time = tc;
                }
                if let Some(fc) = self.front.get_mut(f) {
                    fc.conn.close(&mut self.pkts, tc, true);
                    fc.open = false;
                }
                let r = Resp::new(200, b"{\"report\":\"ready\"}");
                let tresp = tc + 2 * SEC;
                let (to_alb, _) = self.target_response(target, &r, tresp, false);
                let to_alb = wire(self, &to_alb);
                let Some(bc) = self.back.get_mut(b) else {
                    return t1;
                };
                let got = bc
                    .conn
                    .send(&mut self.pkts, tresp, false, &to_alb, &SendOpts::default());
                bc.last = got;
                bc.busy_until = got;
                self.record(f, Category::ClientClosed, None, None);
                done = tc + FRONT_RTT;
            }
            Outcome::Refused
            | Outcome::Unreachable(_)
            | Outcome::ConnectTimeout { .. }
            | Outcome::TlsFailed(_)
            | Outcome::TlsTimeout
            | Outcome::NoTarget(_) => {
                // Only possible on a reused connection: treat as an ordinary success.
                let r = Resp::new(200, b"ok");
                return self.request_inner(f, t, req, target, Outcome::Respond(r));
            }
        }
        done
    }

    /// Failed health checks from `node` to `target` every `interval` in `[from, to)`: each a
    /// new connection whose SYN the target answers with RST (nothing listens on the port).
    pub fn health_checks_refused(
        &mut self,
        node: usize,
        target: usize,
        from: Nanos,
        to: Nanos,
        interval: Nanos,
    ) {
        let Some(tg) = self.targets.get(target) else {
            return;
        };
        let node_ip = self.node_addr(node, tg.addr.is_ipv6());
        let mut t = from;
        while t < to {
            let b = self.new_back(node, target, node_ip);
            if let Some(bc) = self.back.get_mut(b) {
                bc.conn.syn(&mut self.pkts, t);
                bc.conn.refuse(&mut self.pkts, t + BACK_RTT / 2);
                bc.open = false;
            }
            t += interval.max(1);
        }
    }

    /// Health checks from `node` to `target` every `interval` in `[from, to)`: each on a new
    /// connection, `GET /health` with `User-Agent: ELB-HealthChecker/2.0`, Host = target ip:port.
    pub fn health_checks(
        &mut self,
        node: usize,
        target: usize,
        from: Nanos,
        to: Nanos,
        interval: Nanos,
    ) {
        let Some(tg) = self.targets.get(target) else {
            return;
        };
        let host = tg.addr.to_string();
        let node_ip = self.node_addr(node, tg.addr.is_ipv6());
        let mut t = from;
        while t < to {
            let b = self.new_back(node, target, node_ip);
            let ready = self.connect_ok(b, t);
            let req = format!(
                "GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: ELB-HealthChecker/2.0\r\nAccept-Encoding: gzip, compress, deflate, br\r\n\r\n"
            );
            let r = Resp::new(200, b"OK")
                .delay(1200 * US)
                .header("Connection", "close");
            let (mut resp, _) = self.target_response(target, &r, ready, false);
            let s = String::from_utf8_lossy(&resp)
                .replace("Connection: keep-alive\r\n", "")
                .replace("Connection: Keep-Alive\r\n", "")
                .replace("Keep-Alive: timeout=5, max=100\r\n", "")
                .replace("Keep-Alive: timeout=5\r\n", "");
            resp = s.into_bytes();
            let target_tls = self.targets.get(target).is_some_and(|tg| tg.tls);
            let (req_w, resp_w) = if target_tls {
                (
                    tls::app_data(&mut self.rng, req.len()),
                    tls::app_data(&mut self.rng, resp.len()),
                )
            } else {
                (req.into_bytes(), resp)
            };
            if let Some(bc) = self.back.get_mut(b) {
                let s = bc
                    .conn
                    .send(&mut self.pkts, ready, true, &req_w, &SendOpts::default());
                let e = bc.conn.send(
                    &mut self.pkts,
                    s + r.delay,
                    false,
                    &resp_w,
                    &SendOpts {
                        no_ack: true,
                        ..Default::default()
                    },
                );
                bc.conn.close(&mut self.pkts, e + 20 * US, false);
                bc.open = false;
            }
            t += interval;
        }
    }

    /// Ends the scenario at `t_end`: idle back-end connections whose timers ran out are closed
    /// (target keep-alive or ALB idle timeout), open client connections are closed by the client
    /// 1.5 s after their last activity when that is before `t_end`.
    pub fn finish(&mut self, t_end: Nanos) {
        self.expire(t_end);
        for f in 0..self.front.len() {
            self.flush_streams(f);
        }
        for fc in self.front.iter_mut() {
            if fc.open && fc.last + 1500 * MS < t_end {
                fc.conn.close(&mut self.pkts, fc.last + 1500 * MS, true);
                fc.open = false;
            }
        }
    }

    /// The scenario's packets, time-ordered, written as a pcap from the configured vantage.
    pub fn to_pcap(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.write_pcap(&mut out).is_err() {
            out.clear();
        }
        out
    }

    /// Writes the capture into `w`.
    pub fn write_pcap<W: Write>(&self, w: W) -> io::Result<()> {
        self.write_pcap_as(w, self.cfg.vantage, 0)
    }

    /// Writes the capture as seen from `vantage`, its clock `ahead` nanoseconds ahead of the
    /// world's (negative: behind), as a capture on another machine would be.
    pub fn write_pcap_as<W: Write>(&self, w: W, vantage: Vantage, ahead: i64) -> io::Result<()> {
        self.write_pcap_from(w, vantage, ahead, 0)
    }

    /// [`World::write_pcap_as`] of a capture started at world time `from` (nanoseconds since
    /// the epoch, before the clock is skewed by `ahead`): earlier packets are not in it.
    pub fn write_pcap_from<W: Write>(
        &self,
        w: W,
        vantage: Vantage,
        ahead: i64,
        from: Nanos,
    ) -> io::Result<()> {
        let link = match self.cfg.wrap {
            Wrap::Plain(f) => f.link_type(),
            _ => super::pcap::LinkType::Ethernet,
        };
        let snaplen = self.cfg.snaplen.map_or(262_144, |s| s as u32);
        enum Out<W: Write> {
            Classic(PcapWriter<W>),
            Ng(PcapNgWriter<W>),
        }
        let mut pw = if self.cfg.pcapng {
            let exp = if self.cfg.ts_res == TsResolution::Nano {
                9
            } else {
                6
            };
            Out::Ng(PcapNgWriter::new(w, link, snaplen, exp, ByteOrder::Little)?)
        } else {
            Out::Classic(PcapWriter::new(
                w,
                link,
                snaplen,
                self.cfg.ts_res,
                ByteOrder::Little,
            )?)
        };
        let mut put = |t: Nanos, frame: &[u8]| -> io::Result<()> {
            match &mut pw {
                Out::Classic(p) => p.write_packet(t, frame, frame.len()),
                Out::Ng(p) => p.write_packet(t, frame, frame.len()),
            }
        };
        let (mut full_segs, mut seen) = (0usize, 0usize);
        let mut order: Vec<usize> = (0..self.pkts.len()).collect();
        order.sort_by_key(|&i| self.pkts.get(i).map_or(0, |p| p.t));
        let mut enc = Encoder::new(self.cfg.wrap, self.cfg.mirror_snap);
        for i in order {
            let Some(p) = self.pkts.get(i).filter(|p| p.t >= from) else {
                continue;
            };
            let Some(meta) = self.flows.get(p.tag as usize) else {
                continue;
            };
            let Some((src, vni)) = self.vantage_of(vantage, p, meta) else {
                continue;
            };
            let full_mss = p.ip.len() >= 1448 + 40;
            if full_mss {
                full_segs += 1;
                if self
                    .cfg
                    .mirror_drop_every
                    .is_some_and(|n| n > 0 && full_segs % n == 0)
                {
                    continue;
                }
            }
            seen += 1;
            let frame = enc.encode(p, src, vni);
            let t = p.t.saturating_add_signed(ahead);
            put(t, &frame)?;
            if self
                .cfg
                .mirror_duplicate_every
                .is_some_and(|n| n > 0 && seen % n == 0)
            {
                let again = enc.encode(p, src, vni);
                put(t, &again)?;
            }
        }
        match pw {
            Out::Classic(p) => p.into_inner().map(|_| ()),
            Out::Ng(p) => p.into_inner().map(|_| ()),
        }
    }

    fn vantage_of(&self, vantage: Vantage, p: &Pkt, m: &FlowMeta) -> Option<(Ipv4Addr, u32)> {
        match (vantage, m.leg) {
            (Vantage::AlbNode, _) => {
                if p.only_at_b && m.leg == Leg::Back {
                    return None;
                }
                self.nodes.get(m.node).map(|n| (n.ip, n.vni))
            }
            (Vantage::Target, Leg::Back) => self.targets.get(m.target).map(|t| {
                let ip = match t.addr.ip() {
                    IpAddr::V4(v) => v,
                    IpAddr::V6(_) => Ipv4Addr::new(10, 0, 2, 200),
                };
                (ip, t.vni)
            }),
            (Vantage::Client, Leg::Front) => {
                let ip = match m.client_ip {
                    IpAddr::V4(v) => v,
                    IpAddr::V6(_) => Ipv4Addr::new(10, 0, 3, 200),
                };
                Some((ip, 300 + u32::from(ip.octets()[3])))
            }
            _ => None,
        }
    }
}

/// Turns model packets into capture frames (tunnel or plain framing, mirror truncation).
pub struct Encoder {
    wrap: Wrap,
    mirror_snap: Option<usize>,
    outer_id: u16,
}

impl Encoder {
    /// An encoder for this packaging.
    pub fn new(wrap: Wrap, mirror_snap: Option<usize>) -> Self {
        Encoder {
            wrap,
            mirror_snap,
            outer_id: 0x1000,
        }
    }

    /// Encodes one packet as mirrored from ENI `src` in session `vni`.
    pub fn encode(&mut self, p: &Pkt, src: Ipv4Addr, vni: u32) -> Vec<u8> {
        let (sip, dip) = ip_pair(&p.ip);
        let smac = frame::mac_for(sip);
        let dmac = frame::mac_for(dip);
        let snap = match (p.snap, self.mirror_snap) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let cut = |v: Vec<u8>| -> Vec<u8> {
            match snap {
                Some(n) if n < v.len() => v.get(..n).map(<[u8]>::to_vec).unwrap_or(v),
                _ => v,
            }
        };
        self.outer_id = self.outer_id.wrapping_add(1);
        let flow_hash = mix(flow_key(sip, dip, &p.ip) ^ u64::from(vni));
        let outer = Outer {
            src_mac: frame::mac_for(IpAddr::V4(src)),
            dst_mac: frame::mac_for(IpAddr::V4(MIRROR_TARGET)),
            src,
            dst: MIRROR_TARGET,
            vni,
            src_port: frame::flow_port(flow_hash),
            ip_id: self.outer_id,
        };
        match self.wrap {
            Wrap::Vxlan => frame::vxlan(&outer, &cut(frame::ethernet(smac, dmac, &p.ip))),
            Wrap::Geneve => frame::geneve(&outer, &cut(p.ip.clone())),
            Wrap::Plain(f) => cut(f.frame(smac, dmac, p.from_a, &p.ip)),
        }
    }
}

fn ip_pair(ip: &[u8]) -> (IpAddr, IpAddr) {
    let z = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    match ip.first().map(|b| b >> 4) {
        Some(4) => {
            let s = ip.get(12..16).and_then(|s| <[u8; 4]>::try_from(s).ok());
            let d = ip.get(16..20).and_then(|s| <[u8; 4]>::try_from(s).ok());
            (s.map_or(z, IpAddr::from), d.map_or(z, IpAddr::from))
        }
        Some(6) => {
            let s = ip.get(8..24).and_then(|s| <[u8; 16]>::try_from(s).ok());
            let d = ip.get(24..40).and_then(|s| <[u8; 16]>::try_from(s).ok());
            (s.map_or(z, IpAddr::from), d.map_or(z, IpAddr::from))
        }
        _ => (z, z),
    }
}

/// Symmetric 5-tuple key (same for both directions).
fn flow_key(a: IpAddr, b: IpAddr, ip: &[u8]) -> u64 {
    let h = |x: IpAddr| -> u64 {
        match x {
            IpAddr::V4(v) => u64::from(u32::from(v)),
            IpAddr::V6(v) => {
                let o = u128::from(v);
                (o as u64) ^ ((o >> 64) as u64)
            }
        }
    };
    let hl = match ip.first().map(|b| b >> 4) {
        Some(4) => usize::from(ip.first().map_or(5, |b| b & 15)) * 4,
        _ => 40,
    };
    let sp = ip
        .get(hl..hl + 2)
        .map_or(0, |s| u64::from(u16::from_be_bytes([s[0], s[1]])));
    let dp = ip
        .get(hl + 2..hl + 4)
        .map_or(0, |s| u64::from(u16::from_be_bytes([s[0], s[1]])));
    mix(h(a) ^ sp).wrapping_add(mix(h(b) ^ dp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::sa4;
    use etherparse::{SlicedPacket, TransportSlice};
    use pcap_parser::{PcapBlockOwned, PcapError};

    /// (time, src, dst, syn, fin, rst, payload, vni) of every inner TCP packet.
    type Row = (
        Nanos,
        SocketAddr,
        SocketAddr,
        bool,
        bool,
        bool,
        Vec<u8>,
        u32,
    );

    fn decode(pcap: &[u8]) -> Vec<Row> {
        let mut reader = pcap_parser::create_reader(1 << 20, pcap).expect("reader");
        let mut rows = Vec::new();
        loop {
            match reader.next() {
                Ok((off, block)) => {
                    if let PcapBlockOwned::Legacy(b) = block {
                        let t = u64::from(b.ts_sec) * SEC + u64::from(b.ts_usec) * 1000;
                        let outer = SlicedPacket::from_ethernet(b.data).expect("outer");
                        let Some(TransportSlice::Udp(u)) = outer.transport else {
                            panic!("not udp")
                        };
                        assert_eq!(u.destination_port(), 4789);
                        let vx = u.payload();
                        let vni = u32::from_be_bytes([0, vx[4], vx[5], vx[6]]);
                        let inner = SlicedPacket::from_ethernet(&vx[8..]).expect("inner");
                        let (src, dst) = match &inner.net {
                            Some(etherparse::NetSlice::Ipv4(v4)) => (
                                IpAddr::V4(v4.header().source_addr()),
                                IpAddr::V4(v4.header().destination_addr()),
                            ),
                            Some(etherparse::NetSlice::Ipv6(v6)) => (
                                IpAddr::V6(v6.header().source_addr()),
                                IpAddr::V6(v6.header().destination_addr()),
                            ),
                            _ => panic!("no ip"),
                        };
                        if let Some(TransportSlice::Tcp(tcp)) = inner.transport {
                            rows.push((
                                t,
                                SocketAddr::new(src, tcp.source_port()),
                                SocketAddr::new(dst, tcp.destination_port()),
                                tcp.syn(),
                                tcp.fin(),
                                tcp.rst(),
                                tcp.payload().to_vec(),
                                vni,
                            ));
                        }
                    }
                    reader.consume(off);
                }
                Err(PcapError::Eof) => break,
                Err(PcapError::Incomplete(_)) => reader.refill().expect("refill"),
                Err(e) => panic!("{e:?}"),
            }
        }
        rows
    }

    fn world(cfg: WorldCfg) -> (World, usize) {
        let mut w = World::new(cfg);
        let n = w.add_node([10, 0, 1, 25], 77);
        w.add_target(Target::new(sa4([10, 0, 2, 15], 80), ServerKind::Apache));
        w.add_target(Target::new(sa4([10, 0, 2, 16], 80), ServerKind::Express));
        (w, n)
    }

    fn text(p: &[u8]) -> String {
        String::from_utf8_lossy(p).into_owned()
    }

    #[test]
    fn backend_request_carries_alb_headers_and_reuses_connection() {
        let (mut w, n) = world(WorldCfg::default());
        let client = IpAddr::from([198, 51, 100, 9]);
        let f = w.open(client, n, EPOCH);
        let e = w.request(
            f,
            EPOCH + MS,
            &Req::get("/a"),
            0,
            Outcome::Respond(Resp::new(200, b"x")),
        );
        w.request(
            f,
            e + 100 * MS,
            &Req::get("/b"),
            0,
            Outcome::Respond(Resp::new(200, b"y")),
        );
        let rows = decode(&w.to_pcap());
        let back: Vec<&Row> = rows
            .iter()
            .filter(|r| {
                r.2.port() == 80 && r.2.ip() == IpAddr::from([10, 0, 2, 15]) && !r.6.is_empty()
            })
            .collect();
        assert_eq!(back.len(), 2);
        assert_eq!(
            back[0].1, back[1].1,
            "second request reuses the back-end connection"
        );
        let req = text(&back[0].6);
        assert!(
            req.starts_with("GET /a HTTP/1.1\r\nX-Forwarded-For: 198.51.100.9\r\n"),
            "{req}"
        );
        assert!(req.contains("X-Forwarded-Proto: http\r\nX-Forwarded-Port: 80\r\n"));
        let trace = req
            .split("X-Amzn-Trace-Id: Root=1-")
            .nth(1)
            .expect("trace id");
        let (secs, rest) = trace.split_at(8);
        assert_eq!(u64::from_str_radix(secs, 16).expect("hex"), EPOCH / SEC);
        assert!(rest[1..25].bytes().all(|b| b.is_ascii_hexdigit()));
        let relayed: Vec<String> = rows
            .iter()
            .filter(|r| r.2.ip() == client && !r.6.is_empty())
            .map(|r| text(&r.6))
            .collect();
        assert!(relayed[0].contains("Server: Apache/2.4.58 (Ubuntu)\r\n"));
        assert!(!relayed[0].contains("Keep-Alive"));
        assert!(rows.iter().all(|r| r.7 == 77));
    }

    #[test]
    fn connect_timeout_timers_are_exact() {
        let (mut w, n) = world(WorldCfg::default());
        let f = w.open(IpAddr::from([198, 51, 100, 9]), n, EPOCH);
        w.request(
            f,
            EPOCH + MS,
            &Req::get("/"),
            0,
            Outcome::ConnectTimeout { syn_acks: true },
        );
        let rows = decode(&w.to_pcap());
        let syns: Vec<Nanos> = rows
            .iter()
            .filter(|r| r.3 && r.2.port() == 80 && r.2.ip() == IpAddr::from([10, 0, 2, 15]))
            .map(|r| r.0)
            .collect();
        assert_eq!(syns.len(), 4);
        let t0 = syns[0];
        let rel: Vec<Nanos> = syns.iter().map(|t| (t - t0) / SEC).collect();
        assert_eq!(rel, vec![0, 1, 3, 7]);
        // SYN-ACKs were lost before the ALB: not in an ALB-node capture.
        assert!(!rows
            .iter()
            .any(|r| r.3 && r.1.port() == 80 && r.1.ip() == IpAddr::from([10, 0, 2, 15])));
        let err = rows
            .iter()
            .find(|r| text(&r.6).starts_with("HTTP/1.1 504"))
            .expect("504");
        assert_eq!(err.0 - t0, CONNECT_TIMEOUT);
        assert!(text(&err.6).contains("Server: awselb/2.0\r\n"));
        // From the target's ENI the SYN-ACKs are visible.
        w.cfg.vantage = Vantage::Target;
        let rows = decode(&w.to_pcap());
        assert_eq!(rows.iter().filter(|r| r.3 && r.1.port() == 80).count(), 4);
        assert!(rows
            .iter()
            .all(|r| r.1.port() != 40_000 && r.2.port() != 40_000 && r.7 == 200));
    }

    #[test]
    fn idle_timeout_fin_then_rst_on_late_reply() {
        let cfg = WorldCfg {
            idle_timeout: 30 * SEC,
            ..Default::default()
        };
        let (mut w, n) = world(cfg);
        let f = w.open(IpAddr::from([198, 51, 100, 9]), n, EPOCH);
        w.request(
            f,
            EPOCH + MS,
            &Req::get("/slow"),
            0,
            Outcome::IdleTimeout {
                late_reply: Some(10 * SEC),
            },
        );
        let rows = decode(&w.to_pcap());
        let sent = rows
            .iter()
            .find(|r| {
                text(&r.6).starts_with("GET /slow") && r.2.ip() == IpAddr::from([10, 0, 2, 15])
            })
            .expect("req");
        let fin = rows
            .iter()
            .find(|r| r.4 && r.1.ip() == IpAddr::from([10, 0, 1, 25]) && r.2.port() == 80)
            .expect("fin");
        assert_eq!(fin.0 - sent.0, 30 * SEC);
        let late = rows
            .iter()
            .find(|r| text(&r.6).starts_with("HTTP/1.1 200") && r.1.port() == 80)
            .expect("late reply");
        assert_eq!(late.0 - fin.0, 10 * SEC);
        let rst = rows.iter().find(|r| r.5).expect("rst");
        assert!(rst.0 > late.0 && rst.1.ip() == IpAddr::from([10, 0, 1, 25]));
        let e = &w.expected[0];
        assert_eq!(
            (e.category, e.status, e.generated_by),
            (
                Category::TargetIdleTimeout,
                Some(504),
                Some(GeneratedBy::Lb)
            )
        );
    }

    #[test]
    fn health_checks_and_client_vantage() {
        let cfg = WorldCfg {
            vantage: Vantage::Client,
            ..Default::default()
        };
        let (mut w, n) = world(cfg);
        w.health_checks(n, 1, EPOCH, EPOCH + 25 * SEC, 10 * SEC);
        let f = w.open(IpAddr::from([10, 0, 9, 9]), n, EPOCH);
        w.request(f, EPOCH + MS, &Req::get("/"), 1, Outcome::Refused);
        let rows = decode(&w.to_pcap());
        assert!(rows.iter().all(|r| r.1.port() == 80 || r.2.port() == 80));
        assert!(rows
            .iter()
            .all(|r| r.1.ip() == IpAddr::from([10, 0, 9, 9])
                || r.2.ip() == IpAddr::from([10, 0, 9, 9])));
        w.cfg.vantage = Vantage::AlbNode;
        let rows = decode(&w.to_pcap());
        let hc: Vec<String> = rows
            .iter()
            .map(|r| text(&r.6))
            .filter(|s| s.starts_with("GET /health"))
            .collect();
        assert_eq!(hc.len(), 3);
        assert!(
            hc[0].contains("Host: 10.0.2.16:80\r\n")
                && hc[0].contains("User-Agent: ELB-HealthChecker/2.0\r\n")
        );
        assert_eq!(w.expected.len(), 1, "health checks are not client requests");
    }

    #[test]
    fn pcapng_output_and_mirror_loss() {
        let (mut w, n) = world(WorldCfg::default());
        let f = w.open(IpAddr::from([198, 51, 100, 9]), n, EPOCH);
        let body = vec![b'z'; 20_000];
        w.request(
            f,
            EPOCH + MS,
            &Req::get("/big"),
            0,
            Outcome::Respond(Resp::new(200, &body)),
        );
        let full = w.to_pcap();
        let n_full = decode(&full).len();
        w.cfg.mirror_drop_every = Some(2);
        let lossy = decode(&w.to_pcap()).len();
        let full_size = decode(&full).iter().filter(|r| r.6.len() == 1448).count();
        assert!(full_size >= 26, "20 KB body on two legs");
        assert_eq!(
            n_full - lossy,
            full_size / 2,
            "every 2nd full-size segment missing"
        );
        w.cfg.mirror_drop_every = None;
        w.cfg.pcapng = true;
        let ng = w.to_pcap();
        assert_eq!(ng.get(..4), Some(&[0x0a, 0x0d, 0x0d, 0x0a][..]));
        assert!(ng.len() > full.len());
    }
}
