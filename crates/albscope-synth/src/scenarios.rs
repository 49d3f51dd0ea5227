//! Named sample scenarios with ground truth: one per failure category plus realistic mixes and
//! vantage-point variants. `examples/gen_samples.rs` (in this crate) writes them to `samples/<name>.pcap`.

use std::net::IpAddr;

use albscope::taxonomy::Category;

use super::alb::{
    Expected, Outcome, Req, Resp, Target, TlsFail, Vantage, World, WorldCfg, Wrap, EPOCH,
};
use super::frame::{sa4, Framing};
use super::http::ServerKind;
use super::pcap::Nanos;
use super::rng::SplitMix64;
use super::tcp::{MS, SEC, US};

/// One sample scenario.
#[derive(Clone, Copy)]
pub struct Scenario {
    /// File stem (`samples/<name>.pcap`).
    pub name: &'static str,
    /// What the sample shows.
    pub description: &'static str,
    world: fn() -> World,
}

impl Scenario {
    /// Builds the capture bytes (classic pcap).
    pub fn build(&self) -> Vec<u8> {
        (self.world)().to_pcap()
    }

    /// Ground truth: one entry per client request, in request order.
    pub fn expected(&self) -> Vec<Expected> {
        (self.world)().expected
    }

    /// The access log the ALB writes for the scenario's client requests
    /// (`samples/access-logs/<name>.log`).
    pub fn access_log(&self) -> String {
        (self.world)().access_log_text()
    }

    /// Capture bytes and ground truth from one build.
    pub fn build_with_truth(&self) -> (Vec<u8>, Vec<Expected>) {
        let w = (self.world)();
        (w.to_pcap(), w.expected)
    }
}

/// A sample recorded as several files, one per machine, each with its own clock.
#[derive(Clone, Copy)]
pub struct MultiFileScenario {
    /// Directory under `samples/` that holds the files and the golden reports.
    pub name: &'static str,
    /// What the sample shows.
    pub description: &'static str,
    /// Each file: its name, the vantage it was recorded from, and how far its clock is ahead
    /// of the world's (nanoseconds; negative: behind).
    pub files: &'static [(&'static str, Vantage, i64)],
    /// When each file's capture started, in the order of `files` (nanoseconds after the
    /// world's first packet time, [`t0`]; a file not listed: from the start).
    pub starts: &'static [u64],
    world: fn() -> World,
}

impl MultiFileScenario {
    /// Each file's name and capture bytes, in the order of [`MultiFileScenario::files`].
    pub fn build_files(&self) -> Vec<(&'static str, Vec<u8>)> {
        let w = (self.world)();
        self.files
            .iter()
            .enumerate()
            .map(|(i, (name, vantage, ahead))| {
                let mut out = Vec::new();
                let from = self.starts.get(i).map_or(0, |s| t0() + s);
                if w.write_pcap_from(&mut out, *vantage, *ahead, from).is_err() {
                    out.clear();
                }
                (*name, out)
            })
            .collect()
    }

    /// Ground truth: one entry per client request, in request order.
    pub fn expected(&self) -> Vec<Expected> {
        (self.world)().expected
    }

    /// The access log the ALB would have written (on the world's clock, as AWS's is).
    pub fn access_log(&self) -> String {
        (self.world)().access_log_text()
    }
}

/// The samples recorded as several files (`samples/<name>/<file>`).
pub fn multi_file() -> Vec<MultiFileScenario> {
    vec![
        MultiFileScenario {
            name: "split-addrs",
            description:
                "An internet-facing ALB node recorded twice: tcpdump on the clients' side \
            (the node at its public address 52.94.133.131) and on the targets' side (the node's \
            private address 10.0.1.25), the target machine's clock 1.35 s behind; ok traffic, a \
            refused connect (ALB 502, no back-end request), a target 500 and a close before \
            the response",
            files: &[
                ("client-side.pcap", Vantage::Client, 0),
                ("target-side.pcap", Vantage::Target, -1_350_000_000),
            ],
            starts: &[],
            world: split_addrs,
        },
        MultiFileScenario {
            name: "https-split-addrs",
            description:
                "An internet-facing HTTPS ALB node recorded twice: tcpdump on the clients' \
            side (TLS to the node's public address 52.94.133.132, port 443, no keys) and on the \
            targets' side (the node's private address, clear-text HTTP with X-Forwarded-For, \
            -Port 443 and -Proto https), the target machine's clock 0.8 s behind; ok traffic, a \
            refused connect (ALB 502, no back-end request), a target 500 and a close before \
            the response",
            files: &[
                ("client-side.pcap", Vantage::Client, 0),
                ("target-side.pcap", Vantage::Target, -800_000_000),
            ],
            starts: &[],
            world: https_split_addrs,
        },
    ]
}

/// Samples recorded as several files started at different times
/// (`samples/late-start/<name>/`): a request is only known to lack a leg while a file that shows
/// that leg's side of its node has started.
pub fn late_start() -> Vec<MultiFileScenario> {
    vec![
        MultiFileScenario {
            name: "back-end-from-30s",
            description:
                "One ALB node (10.0.1.25) recorded twice: tcpdump on the clients' side from \
            0 s and on the target's side only from 30 s (started later); before 30 s an ALB 503 \
            without a target attempt (no healthy target) and an ALB 502 after a refused \
            connect, both seen from the front end only; after 30 s the same again (the 503 with \
            no back-end attempt in the target-side file, the refused connect in it), ok traffic \
            and health checks throughout",
            files: &[
                ("client-side.pcap", Vantage::Client, 0),
                ("target-side.pcap", Vantage::Target, 0),
            ],
            starts: &[0, 30 * SEC],
            world: back_end_from_30s,
        },
        MultiFileScenario {
            name: "front-end-from-30s",
            description: "The same traffic recorded the other way round: tcpdump on the target's \
            side from 0 s and on the clients' side only from 30 s; before 30 s the refused \
            connect (a bare SYN answered by RST) and the 503 are seen from the back end only \
            (the 503, without any back-end traffic, not at all)",
            files: &[
                ("client-side.pcap", Vantage::Client, 0),
                ("target-side.pcap", Vantage::Target, 0),
            ],
            starts: &[30 * SEC, 0],
            world: back_end_from_30s,
        },
    ]
}

/// [`late_start`]'s world: failures before and after the target-side capture starts (30 s).
fn back_end_from_30s() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 37,
        wrap: Wrap::Plain(Framing::Ethernet),
        ..Default::default()
    });
    // Target 2: a port nothing listens on (the refused connects).
    w.add_target(Target::new(sa4([10, 0, 2, 88], 80), ServerKind::Apache));
    let mut r = SplitMix64::new(137);
    let t = t0();
    w.health_checks(n, 0, t + SEC, t + 55 * SEC, 10 * SEC);
    let f = w.open(ip(CLIENTS[0]), n, t);
    let mut e = ok(&mut w, f, t + 2 * MS, "/", 0, &mut r);
    e = w.request(
        f,
        e + 5 * SEC,
        &Req::get("/admin"),
        0,
        Outcome::NoTarget(503),
    );
    let g = w.open(ip(CLIENTS[1]), n, e + 2 * SEC);
    e = w.request(
        g,
        e + 2 * SEC + 3 * MS,
        &Req::get("/old"),
        2,
        Outcome::Refused,
    );
    ok(&mut w, g, e + 3 * SEC, "/api/items", 0, &mut r);
    let h = w.open(ip(CLIENTS[2]), n, t + 35 * SEC);
    e = ok(&mut w, h, t + 35 * SEC + 3 * MS, "/", 0, &mut r);
    e = w.request(
        h,
        e + 5 * SEC,
        &Req::get("/admin"),
        0,
        Outcome::NoTarget(503),
    );
    let k = w.open(ip(CLIENTS[3]), n, e + 2 * SEC);
    e = w.request(
        k,
        e + 2 * SEC + 3 * MS,
        &Req::get("/old"),
        2,
        Outcome::Refused,
    );
    ok(&mut w, k, e + 3 * SEC, "/products", 0, &mut r);
    w.finish(t + 58 * SEC);
    w
}

/// Front-end-only captures of an HTTPS listener without keys (`samples/encrypted-front/`,
/// analysed with `--listener-port 443`): what the front end proves and what it cannot show.
pub fn encrypted_front() -> Vec<Scenario> {
    vec![Scenario {
        name: "https-frontend-only",
        description: "HTTPS listener (443, HTTP/1.1 offered by ALPN, TLS 1.3) seen from the \
            clients' ENIs only, without keys: ok requests, a target 500 and a refused connect \
            (ALB 502) whose statuses are encrypted, a target silent past the 60 s idle timeout \
            (the ALB's 504 at the timer), a client giving up after 2 s before any answer, and a \
            client offering only legacy ciphers whose handshake the ALB refuses with a \
            handshake_failure alert",
        world: https_frontend_only,
    }]
}

/// Every scenario, in a fixed order.
pub fn all() -> Vec<Scenario> {
    macro_rules! s {
        ($name:expr, $f:ident, $d:expr) => {
            Scenario {
                name: $name,
                description: $d,
                world: $f,
            }
        };
    }
    vec![
        s!("healthy", healthy, "Healthy traffic: keep-alive reuse on both legs, health checks, POST with Expect: 100-continue, chunked response, HEAD, 304, target idle closes (Apache 5 s)"),
        s!(Category::TargetConnectRefused.name(), connect_refused, "ALB SYN to a target port that is not listening is answered by RST-ACK; ALB 502 (awselb/2.0) to the client"),
        s!(Category::TargetUnreachableIcmp.name(), unreachable_icmp, "ALB SYN answered by ICMP host unreachable (IPv4 target) and ICMPv6 address unreachable (IPv6 target); two 502s"),
        s!(Category::TargetClosedBeforeResponse.name(), closed_before_response, "Request dispatched, target FINs (one case) and RSTs (other case) before any response byte; 502s"),
        s!(Category::KeepaliveRace.name(), keepalive_race, "Node.js/Express target with 5 s keep-alive: its idle closes after 5 s are visible, then a request on a reused connection crosses the target's FIN; 502"),
        s!(Category::MalformedResponse.name(), malformed_response, "Target answers a PHP fatal-error text with no status line; 502"),
        s!(Category::ResponseHeaderTooLarge.name(), header_too_large, "Target answers a ~37 KB header block (40 Set-Cookie headers); ALB resets the back end, 502"),
        s!(Category::TargetTlsHandshakeFailed.name(), tls_handshake_failed, "HTTPS target: ALB ClientHello (ELBSecurityPolicy ciphers) answered by handshake_failure alert, by RST, by FIN; three 502s"),
        s!(Category::DeregistrationAbort.name(), deregistration_abort, "Request dispatched to a target being deregistered (delay 30 s), target silent, ALB closes the back end FIN+RST after 30 s; 502"),
        s!(Category::TargetConnectTimeout.name(), connect_timeout, "ALB SYN at 0 s with retransmissions at 1, 3, 7 s unanswered; 504 at 10 s"),
        s!(Category::TargetTlsHandshakeTimeout.name(), tls_handshake_timeout, "HTTPS target accepts TCP but never answers the ClientHello; ALB gives up after 10 s; 504"),
        s!(Category::TargetIdleTimeout.name(), idle_timeout, "Target silent for the 60 s idle timeout: ALB FIN to the target, 504 to the client; the target's late reply 10 s later draws an RST"),
        s!(Category::IncompleteBody.name(), incomplete_body, "Target declares Content-Length 5000 and sends 1200 bytes; ALB streams them, then closes both sides after the 60 s idle timeout (bare FIN, no 504)"),
        s!(Category::TargetGeneratedError.name(), target_generated_error, "Targets' own errors relayed: Apache 504 (as in the seed article), Express 503, gunicorn 500"),
        s!(Category::ClientClosed.name(), client_closed, "Client gives up 2 s into a slow request (FIN); target answers 4 s later on the back end (ALB logs 460)"),
        s!(Category::NoTargetAttempt.name(), no_target_attempt, "ALB answers 503 with no back-end attempt (no healthy target)"),
        s!("mixed", mixed, "About 100 requests from 6 clients to 2 targets with health checks; among them a keep-alive race, a refused connect, a target 500, an idle timeout and a client close"),
        s!("tls-frontend", tls_frontend, "HTTPS listener (443): TLS 1.3 handshakes and opaque records on the front end, plain HTTP on the back end; one target close-before-response, one target 500"),
        s!("tls-backend", tls_backend, "HTTPS target group (TLS-only back end, status never visible): TLS health checks every 5 s and health checks refused on a closed target port every 5 s; ok requests on a kept-alive TLS connection, a target reset before any answer, the idle timeout (60 s), a deregistration abort (20 s)"),
        s!("multi-node", multi_node, "Two ALB nodes (10.0.1.25 VNI 1001, 10.0.3.140 VNI 1002) mirrored into one capture, health checks from both; one failure on each node"),
        s!("backend-vantage", backend_vantage, "Target ENIs mirrored (back end only): ok, refused, connect timeout with SYN-ACKs sent but SYNs retransmitted (blocked return path), idle timeout with late reply, keep-alive race, target 502"),
        s!("frontend-vantage", frontend_vantage, "Client ENIs mirrored (front end only, clients in the VPC): ok, ALB 502, ALB 504 after the idle timeout (20 s), target 500"),
        s!("frontend-syn-unanswered", frontend_syn_unanswered, "Client ENIs mirrored (front end only, clients in the VPC): ok requests and a target 500 on the listener, and a client whose SYNs to the listener (at 0, 1, 3, 7 and 15 s) get no answer: dropped before the ALB node (security group, network ACL) or sent to an address no node holds any more; no request reached the ALB, which logged nothing"),
        s!("linux-sll", linux_sll, "Plain capture on the ALB side with tcpdump -i any (Linux SLL, no VXLAN): ok and a refused connect"),
        s!("geneve", geneve, "GENEVE (UDP 6081, inner IP packet, as Gateway Load Balancer sends it) instead of VXLAN: ok traffic and a refused connect"),
        s!("sll2-pcapng", sll2_pcapng, "pcapng file (nanosecond if_tsresol) with Linux SLL2 frames, no tunnel (tcpdump -i any on the ALB side): ok traffic and a target 500"),
        s!("h2c_streams", h2c_streams, "HTTP/2 with prior knowledge (h2c) on both legs, one connection each: concurrent streams (one 80 KB response stalled on the 64 KB window until WINDOW_UPDATE), a gRPC call failing with grpc-status 13 in its trailers, RST_STREAM INTERNAL_ERROR from the target (502), and a stream refused by the target's GOAWAY (HTTP/2 keep-alive race, 502)"),
        s!("proxy-two-interfaces", proxy_two_interfaces, "tcpdump -i any on a proxy acting as an ALB node with a client-facing interface (10.0.0.10) and a target-facing one (10.0.1.25): ok traffic, a refused connect (502 with no back-end request) and a target 500; the node is linked from the back end's X-Forwarded-For"),
        s!("http2-frontend", http2_frontend, "HTTPS listener (443) whose clients speak HTTP/2 (ClientHello ALPN h2, http/1.1; TLS 1.3 hides the selection): one connection carries 8 concurrent streams, among them a target 500, a refused connect and a target reset; a second client's HTTP/2 connection 3 more; plain HTTP on the back end"),
        s!("h2-front-acks", h2_front_acks, "HTTPS listener (443, ALPN h2 and http/1.1 offered, TLS 1.3 hiding the selection), both legs: an HTTP/2 client whose SETTINGS acknowledgement goes in the same TLS record as its first request (the ALB's own acknowledgement goes alone), sending one stream at a time (ok, a target reset: 502, ok), and an HTTP/1.1 client (the listener chose http/1.1) whose POST with `Expect: 100-continue` sends its 9-byte body after the ALB's `100 Continue`, then refused by the target (502), then an ok GET"),
        s!("connection_close", connection_close, "Apache target answering `Connection: close` (no keep-alive) and closing the connection 1.5 s after its answer, as its own header said: no keep-alive timer, no race risk; the next requests open new connections: one closed by the target before any response byte (502), one ok"),
        s!("mirror-truncated", mirror_truncated, "VXLAN mirror session truncating inner frames to 200 bytes (inner IP length larger than the bytes present), every 3rd full-size data segment missing, every 25th packet duplicated; ok traffic (one 12 KB response) and one 502"),
        s!("same_line_two_fates", same_line_two_fates, "One client, two connections, the same request line 2.5 ms apart: the first's connect to a stopped target is refused (ALB 502, awselb/2.0); the second's request goes out on a kept-alive connection 2 ms after that 502 and is answered 200: the 502 left before that back-end request, which is the second's"),
    ]
}

const NODE: [u8; 4] = [10, 0, 1, 25];
const CLIENTS: [[u8; 4]; 6] = [
    [13, 211, 35, 216],
    [49, 47, 11, 159],
    [13, 239, 55, 82],
    [203, 0, 113, 45],
    [198, 51, 100, 7],
    [54, 206, 12, 90],
];

fn ip(a: [u8; 4]) -> IpAddr {
    IpAddr::from(a)
}

fn t0() -> Nanos {
    EPOCH + 298 * MS
}

/// A world with one node, an Apache target (0) and an Express target (1).
fn base(cfg: WorldCfg) -> (World, usize) {
    let mut w = World::new(cfg);
    let n = w.add_node(NODE, 1001);
    w.add_target(Target::new(sa4([10, 0, 2, 15], 80), ServerKind::Apache));
    w.add_target(Target::new(sa4([10, 0, 2, 37], 8080), ServerKind::Express));
    (w, n)
}

fn page(rng: &mut SplitMix64, n: usize) -> Vec<u8> {
    let mut s = String::from("<!DOCTYPE html><html><body>");
    while s.len() < n {
        s.push_str(&format!("<p>item {}</p>", rng.range(1, 99_999)));
    }
    s.push_str("</body></html>");
    s.into_bytes()
}

fn json(rng: &mut SplitMix64, n: usize) -> Vec<u8> {
    let mut s = String::from("{\"items\":[");
    while s.len() < n {
        s.push_str(&format!("{{\"id\":{},\"ok\":true}},", rng.range(1, 99_999)));
    }
    s.push_str("{}]}");
    s.into_bytes()
}

fn ok(w: &mut World, f: usize, t: Nanos, path: &str, target: usize, rng: &mut SplitMix64) -> Nanos {
    ok_sized(w, f, t, path, target, rng, 400)
}

fn ok_sized(
    w: &mut World,
    f: usize,
    t: Nanos,
    path: &str,
    target: usize,
    rng: &mut SplitMix64,
    size: usize,
) -> Nanos {
    let body = if target == 1 {
        json(rng, size * 3 / 4)
    } else {
        page(rng, size)
    };
    let r = Resp::new(200, &body).delay(rng.range(3, 25) * MS);
    w.request(f, t, &Req::get(path), target, Outcome::Respond(r))
}

/// Opens a client connection, sends one ok request, returns (front id, end time).
fn one_ok(
    w: &mut World,
    c: [u8; 4],
    t: Nanos,
    target: usize,
    rng: &mut SplitMix64,
) -> (usize, Nanos) {
    let f = w.open(ip(c), 0, t);
    let e = ok(w, f, t + 2 * MS, "/", target, rng);
    (f, e)
}

fn healthy() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 11,
        ..Default::default()
    });
    let mut r = SplitMix64::new(111);
    let t = t0();
    w.health_checks(n, 0, t - 5 * SEC, t + 40 * SEC, 10 * SEC);
    w.health_checks(n, 1, t - 3 * SEC, t + 40 * SEC, 10 * SEC);
    let f = w.open(ip(CLIENTS[0]), n, t);
    let mut e = ok(&mut w, f, t + 2 * MS, "/", 0, &mut r);
    e = ok(&mut w, f, e + 300 * MS, "/products", 0, &mut r);
    e = ok(&mut w, f, e + 250 * MS, "/api/cart", 1, &mut r);
    // POST with Expect: 100-continue
    let mut post = Req::post(
        "/api/orders",
        b"{\"sku\":\"A-1001\",\"qty\":2,\"note\":\"gift wrap\"}",
    );
    post.expect_continue = true;
    e = w.request(
        f,
        e + 400 * MS,
        &post,
        1,
        Outcome::Respond(Resp::new(201, b"{\"order\":84121}")),
    );
    // chunked response
    let big = page(&mut r, 9000);
    e = w.request(
        f,
        e + 300 * MS,
        &Req::get("/catalog"),
        0,
        Outcome::Respond(Resp::new(200, &big).chunked()),
    );
    // HEAD and 304
    e = w.request(
        f,
        e + 200 * MS,
        &Req::get("/catalog").method("HEAD"),
        0,
        Outcome::Respond(Resp::new(200, &big)),
    );
    let cond = Req::get("/static/app.css").header("If-None-Match", "\"5f3a-61e2b\"");
    e = w.request(
        f,
        e + 200 * MS,
        &cond,
        0,
        Outcome::Respond(Resp::new(304, b"").header("ETag", "\"5f3a-61e2b\"")),
    );
    // second client, overlapping requests -> a second back-end connection
    let g = w.open(ip(CLIENTS[1]), n, t + 150 * MS);
    let mut e2 = ok(&mut w, g, t + 152 * MS, "/", 0, &mut r);
    e2 = ok(&mut w, g, e2 + 10 * MS, "/api/cart", 1, &mut r);
    // after 8 s of quiet (Apache closed its idle connections after 5 s) traffic resumes
    e = ok(&mut w, f, e.max(e2) + 8 * SEC, "/", 0, &mut r);
    ok(&mut w, g, e + 5 * MS, "/products", 0, &mut r);
    w.finish(t + 40 * SEC);
    w
}

fn connect_refused() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 12,
        ..Default::default()
    });
    let mut r = SplitMix64::new(112);
    let t = t0();
    w.add_target(Target::new(sa4([10, 0, 2, 88], 80), ServerKind::Apache));
    let (_, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let f = w.open(ip(CLIENTS[1]), n, e + 500 * MS);
    w.request(f, e + 502 * MS, &Req::get("/"), 2, Outcome::Refused);
    let (g, e) = one_ok(&mut w, CLIENTS[2], e + 900 * MS, 0, &mut r);
    ok(&mut w, g, e + 100 * MS, "/api/cart", 1, &mut r);
    w.health_checks(n, 0, t + SEC, t + 15 * SEC, 10 * SEC);
    w.finish(t + 15 * SEC);
    w
}

/// Two requests of one client with the same request line (same method, target, Host and
/// X-Forwarded-For): the first refused (its 502 sent at once), the second forwarded on a
/// reused connection 2 ms after that 502 and answered 200. Both client requests and the
/// refused connect fall within a few milliseconds: only the order of the ALB's steps tells
/// which back-end leg is whose.
fn same_line_two_fates() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 41,
        ..Default::default()
    });
    let mut r = SplitMix64::new(141);
    let t = t0();
    let stopped = w.add_target(Target::new(sa4([10, 0, 2, 88], 80), ServerKind::Apache));
    // a back-end connection to target 0 kept alive for the second request
    let (_, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let client = ip(CLIENTS[4]);
    let first = w.open(client, n, e + 200 * MS);
    let second = w.open(client, n, e + 201 * MS);
    let path = "/static/p600.json";
    let answered = w.request(
        first,
        e + 203 * MS,
        &Req::get(path),
        stopped,
        Outcome::Refused,
    );
    let body = json(&mut r, 600);
    let e = w.request(
        second,
        answered + 2 * MS,
        &Req::get(path),
        0,
        Outcome::Respond(Resp::new(200, &body).delay(100 * US)),
    );
    one_ok(&mut w, CLIENTS[2], e + 400 * MS, 0, &mut r);
    w.health_checks(n, 0, t + SEC, t + 15 * SEC, 10 * SEC);
    w.finish(t + 15 * SEC);
    w
}

fn unreachable_icmp() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 13,
        ..Default::default()
    });
    let mut r = SplitMix64::new(113);
    let t = t0();
    w.add_target(Target::new(sa4([10, 0, 2, 99], 80), ServerKind::Nginx));
    let v6 = super::frame::sa6(
        "2406:da1c:f42:6d02::63"
            .parse()
            .unwrap_or(std::net::Ipv6Addr::LOCALHOST),
        80,
    );
    w.add_target(Target::new(v6, ServerKind::Nginx));
    let (f, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    w.request(f, e + 400 * MS, &Req::get("/"), 2, Outcome::Unreachable(1));
    let g = w.open(ip(CLIENTS[1]), n, e + 2 * SEC);
    let e = w.request(
        g,
        e + 2 * SEC + 2 * MS,
        &Req::get("/v6"),
        3,
        Outcome::Unreachable(3),
    );
    ok(&mut w, g, e + 300 * MS, "/", 0, &mut r);
    w.finish(t + 12 * SEC);
    w
}

fn closed_before_response() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 14,
        ..Default::default()
    });
    let mut r = SplitMix64::new(114);
    let t = t0();
    let (f, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let e = w.request(
        f,
        e + 200 * MS,
        &Req::get("/report"),
        0,
        Outcome::ClosedBeforeResponse {
            after: 35 * MS,
            rst: false,
        },
    );
    let g = w.open(ip(CLIENTS[1]), n, e + SEC);
    let e = w.request(
        g,
        e + SEC + 2 * MS,
        &Req::get("/api/export"),
        1,
        Outcome::ClosedBeforeResponse {
            after: 120 * MS,
            rst: true,
        },
    );
    ok(&mut w, g, e + 400 * MS, "/", 0, &mut r);
    w.finish(t + 12 * SEC);
    w
}

fn connection_close() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 33,
        ..Default::default()
    });
    let mut r = SplitMix64::new(133);
    let t = t0();
    let f = w.open(ip(CLIENTS[0]), n, t);
    let body = page(&mut r, 900);
    let e = w.request(
        f,
        t + 2 * MS,
        &Req::get("/download/report.csv"),
        0,
        Outcome::Respond(Resp::new(200, &body).connection_close(1500 * MS)),
    );
    // The ALB's next requests go out on new connections (the old one was closed).
    let g = w.open(ip(CLIENTS[1]), n, e + 3 * SEC);
    let e = w.request(
        g,
        e + 3 * SEC + 2 * MS,
        &Req::get("/api/export"),
        0,
        Outcome::ClosedBeforeResponse {
            after: 35 * MS,
            rst: false,
        },
    );
    ok(&mut w, g, e + SEC, "/", 0, &mut r);
    w.finish(t + 9 * SEC);
    w
}

fn keepalive_race() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 15,
        ..Default::default()
    });
    let mut r = SplitMix64::new(115);
    let t = t0();
    let f = w.open(ip(CLIENTS[0]), n, t);
    let mut e = ok(&mut w, f, t + 2 * MS, "/api/items", 1, &mut r);
    e = ok(&mut w, f, e + 200 * MS, "/api/items/7", 1, &mut r);
    // 7 s quiet: the Express target closes its idle connection after exactly 5 s.
    e = ok(&mut w, f, e + 7 * SEC, "/api/items", 1, &mut r);
    e = ok(&mut w, f, e + 800 * MS, "/api/cart", 1, &mut r);
    // Next request lands exactly as the target's 5 s keep-alive timer fires.
    let race_at = w.keepalive_expiry(n, 1, e).unwrap_or(e + 5 * SEC);
    let g = w.open(ip(CLIENTS[1]), n, race_at - 40 * MS);
    let e2 = w.request(
        g,
        race_at,
        &Req::get("/api/checkout"),
        1,
        Outcome::KeepaliveRace,
    );
    // the client retries; a new back-end connection serves it
    let e3 = ok(&mut w, g, e2 + 300 * MS, "/api/checkout", 1, &mut r);
    ok(&mut w, f, e3 + 50 * MS, "/api/items", 1, &mut r);
    w.finish(t + 25 * SEC);
    w
}

fn malformed_response() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 16,
        ..Default::default()
    });
    let mut r = SplitMix64::new(116);
    let t = t0();
    let (f, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let bad = b"<br />\n<b>Fatal error</b>:  Uncaught Error: Call to undefined function mysql_connect() in /var/www/html/index.php:12\nStack trace:\n#0 {main}\n  thrown in <b>/var/www/html/index.php</b> on line <b>12</b><br />\n".to_vec();
    let e = w.request(
        f,
        e + 300 * MS,
        &Req::get("/index.php"),
        0,
        Outcome::Malformed(bad),
    );
    let g = w.open(ip(CLIENTS[1]), n, e + SEC);
    ok(&mut w, g, e + SEC + 2 * MS, "/", 0, &mut r);
    w.finish(t + 10 * SEC);
    w
}

fn header_too_large() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 17,
        ..Default::default()
    });
    let mut r = SplitMix64::new(117);
    let t = t0();
    let (f, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let e = w.request(
        f,
        e + 300 * MS,
        &Req::get("/login"),
        0,
        Outcome::HeaderTooLarge,
    );
    let g = w.open(ip(CLIENTS[1]), n, e + SEC);
    ok(&mut w, g, e + SEC + 2 * MS, "/", 0, &mut r);
    w.finish(t + 10 * SEC);
    w
}

fn tls_target(w: &mut World) -> usize {
    let mut tg = Target::new(sa4([10, 0, 2, 50], 443), ServerKind::Nginx);
    tg.tls = true;
    w.add_target(tg)
}

fn tls_handshake_failed() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 18,
        ..Default::default()
    });
    let mut r = SplitMix64::new(118);
    let t = t0();
    let s = tls_target(&mut w);
    let (f, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let e = w.request(
        f,
        e + 300 * MS,
        &Req::get("/secure"),
        s,
        Outcome::TlsFailed(TlsFail::Alert),
    );
    let g = w.open(ip(CLIENTS[1]), n, e + SEC);
    let e = w.request(
        g,
        e + SEC + 2 * MS,
        &Req::get("/secure"),
        s,
        Outcome::TlsFailed(TlsFail::Rst),
    );
    let e = w.request(
        g,
        e + SEC,
        &Req::get("/secure"),
        s,
        Outcome::TlsFailed(TlsFail::Fin),
    );
    ok(&mut w, g, e + 500 * MS, "/", 0, &mut r);
    w.finish(t + 10 * SEC);
    w
}

fn tls_backend() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 36,
        ..Default::default()
    });
    let mut r = SplitMix64::new(136);
    let t = t0();
    let s = tls_target(&mut w);
    // nothing listens on this target's port: its health checks are refused
    let closed = w.add_target(Target::new(sa4([10, 0, 2, 51], 443), ServerKind::Nginx));
    w.health_checks(n, s, t, t + 100 * SEC, 5 * SEC);
    w.health_checks_refused(n, closed, t + 1300 * MS, t + 100 * SEC, 5 * SEC);
    let f = w.open(ip(CLIENTS[0]), n, t + 700 * MS);
    let mut e = ok(&mut w, f, t + 702 * MS, "/", s, &mut r);
    e = ok(&mut w, f, e + 300 * MS, "/api/cart", s, &mut r);
    e = w.request(
        f,
        e + 400 * MS,
        &Req::get("/api/pay"),
        s,
        Outcome::ClosedBeforeResponse {
            after: 3 * MS,
            rst: true,
        },
    );
    let g = w.open(ip(CLIENTS[1]), n, e + 2 * SEC);
    e = ok(&mut w, g, e + 2 * SEC + 2 * MS, "/account", s, &mut r);
    e = w.request(
        g,
        e + 700 * MS,
        &Req::get("/export.csv"),
        s,
        Outcome::IdleTimeout { late_reply: None },
    );
    let h = w.open(ip(CLIENTS[2]), n, e + SEC);
    e = ok(&mut w, h, e + SEC + 2 * MS, "/", s, &mut r);
    w.request(
        h,
        e + 400 * MS,
        &Req::get("/long-poll"),
        s,
        Outcome::DeregAbort(20 * SEC),
    );
    w.finish(t + 100 * SEC);
    w
}

fn deregistration_abort() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 19,
        ..Default::default()
    });
    let mut r = SplitMix64::new(119);
    let t = t0();
    let (f, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let e = w.request(
        f,
        e + 300 * MS,
        &Req::get("/long-poll"),
        0,
        Outcome::DeregAbort(30 * SEC),
    );
    let g = w.open(ip(CLIENTS[1]), n, e + SEC);
    ok(&mut w, g, e + SEC + 2 * MS, "/", 1, &mut r);
    w.finish(t + 40 * SEC);
    w
}

fn connect_timeout() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 20,
        ..Default::default()
    });
    let mut r = SplitMix64::new(120);
    let t = t0();
    w.add_target(Target::new(sa4([10, 0, 2, 77], 80), ServerKind::Apache));
    let (_, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let f = w.open(ip(CLIENTS[2]), n, e + 500 * MS);
    let e = w.request(
        f,
        e + 502 * MS,
        &Req::get("/"),
        2,
        Outcome::ConnectTimeout { syn_acks: false },
    );
    ok(&mut w, f, e + 400 * MS, "/", 0, &mut r);
    w.finish(t + 20 * SEC);
    w
}

fn tls_handshake_timeout() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 21,
        ..Default::default()
    });
    let mut r = SplitMix64::new(121);
    let t = t0();
    let s = tls_target(&mut w);
    let (_, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let f = w.open(ip(CLIENTS[1]), n, e + 300 * MS);
    let e = w.request(
        f,
        e + 302 * MS,
        &Req::get("/secure"),
        s,
        Outcome::TlsTimeout,
    );
    ok(&mut w, f, e + 400 * MS, "/", 0, &mut r);
    w.finish(t + 20 * SEC);
    w
}

fn idle_timeout() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 22,
        ..Default::default()
    });
    let mut r = SplitMix64::new(122);
    let t = t0();
    let (_, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let f = w.open(ip(CLIENTS[2]), n, e + 700 * MS);
    let e = w.request(
        f,
        e + 702 * MS,
        &Req::get("/delay.php"),
        0,
        Outcome::IdleTimeout {
            late_reply: Some(10 * SEC),
        },
    );
    ok(&mut w, f, e + 2 * SEC, "/", 0, &mut r);
    w.finish(t + 80 * SEC);
    w
}

fn incomplete_body() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 23,
        ..Default::default()
    });
    let mut r = SplitMix64::new(123);
    let t = t0();
    let (_, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let f = w.open(ip(CLIENTS[1]), n, e + 700 * MS);
    let e = w.request(
        f,
        e + 702 * MS,
        &Req::get("/download/report.bin"),
        0,
        Outcome::IncompleteBody {
            declared: 5000,
            sent: 1200,
        },
    );
    one_ok(&mut w, CLIENTS[2], e + SEC, 0, &mut r);
    w.finish(t + 70 * SEC);
    w
}

fn target_generated_error() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 24,
        ..Default::default()
    });
    let mut r = SplitMix64::new(124);
    let t = t0();
    w.add_target(Target::new(sa4([10, 0, 2, 61], 8000), ServerKind::Gunicorn));
    let (f, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let apache504 = b"<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>504 Gateway Timeout</title>\n</head><body>\n<h1>Gateway Timeout</h1>\n<p>The gateway did not receive a timely response\nfrom the upstream server or application.</p>\n</body></html>\n";
    let resp = Resp::new(504, apache504).header("Content-Type", "text/html; charset=iso-8859-1");
    let e = w.request(f, e + 300 * MS, &Req::get("/"), 0, Outcome::Respond(resp));
    let g = w.open(ip(CLIENTS[1]), n, e + SEC);
    let e = w.request(
        g,
        e + SEC + 2 * MS,
        &Req::get("/api/stock"),
        1,
        Outcome::Respond(Resp::new(503, b"{\"error\":\"database unavailable\"}")),
    );
    let e = w.request(
        g,
        e + 500 * MS,
        &Req::get("/ml/predict"),
        2,
        Outcome::Respond(Resp::new(500, b"{\"detail\":\"Internal Server Error\"}")),
    );
    ok(&mut w, g, e + 500 * MS, "/", 0, &mut r);
    w.finish(t + 10 * SEC);
    w
}

fn client_closed() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 25,
        ..Default::default()
    });
    let mut r = SplitMix64::new(125);
    let t = t0();
    let (_, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let f = w.open(ip(CLIENTS[1]), n, e + 300 * MS);
    let e = w.request(
        f,
        e + 302 * MS,
        &Req::get("/reports/annual"),
        0,
        Outcome::ClientCloses(2 * SEC),
    );
    one_ok(&mut w, CLIENTS[2], e + 3 * SEC, 0, &mut r);
    w.finish(t + 15 * SEC);
    w
}

fn no_target_attempt() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 26,
        ..Default::default()
    });
    let mut r = SplitMix64::new(126);
    let t = t0();
    let (_, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let f = w.open(ip(CLIENTS[1]), n, e + 300 * MS);
    let e = w.request(
        f,
        e + 302 * MS,
        &Req::get("/admin"),
        1,
        Outcome::NoTarget(503),
    );
    one_ok(&mut w, CLIENTS[2], e + SEC, 0, &mut r);
    w.finish(t + 10 * SEC);
    w
}

fn mixed() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 27,
        ..Default::default()
    });
    w.add_target(Target::new(sa4([10, 0, 2, 88], 80), ServerKind::Apache));
    let mut r = SplitMix64::new(127);
    let t = t0();
    w.health_checks(n, 0, t, t + 130 * SEC, 10 * SEC);
    w.health_checks(n, 1, t + 4 * SEC, t + 130 * SEC, 10 * SEC);
    let mut fronts: Vec<usize> = Vec::new();
    let mut now = t;
    for c in CLIENTS {
        fronts.push(w.open(ip(c), n, now));
        now += 30 * MS;
    }
    let mut i = 0usize;
    let mut express_quiet_until: Nanos = 0;
    let paths = [
        "/",
        "/products",
        "/api/cart",
        "/api/items/42",
        "/static/app.js",
        "/search?q=shoes",
    ];
    while now < t + 95 * SEC {
        let mut k = (r.next_u64() % 6) as usize;
        for _ in 0..6 {
            if fronts.get(k).is_some_and(|&f| w.front_idle_at(f, now)) {
                break;
            }
            k = (k + 1) % 6;
        }
        let c = CLIENTS.get(k).copied().unwrap_or(CLIENTS[0]);
        let f = match fronts.get(k) {
            Some(&f) if w.front_idle_at(f, now) => f,
            _ => {
                let f = w.open(ip(c), n, now - 5 * MS);
                if let Some(x) = fronts.get_mut(k) {
                    *x = f;
                }
                f
            }
        };
        let path = paths
            .get((r.next_u64() % 6) as usize)
            .copied()
            .unwrap_or("/");
        let target = usize::from(path.starts_with("/api") && now > express_quiet_until);
        // failures go on a connection of their own so the client's other traffic continues
        let solo = |w: &mut World| w.open(ip(c), n, now - 5 * MS);
        match i {
            17 => {
                let g = solo(&mut w);
                w.request(g, now, &Req::get("/legacy"), 2, Outcome::Refused);
            }
            40 => {
                w.request(
                    f,
                    now,
                    &Req::get(path),
                    0,
                    Outcome::Respond(Resp::new(500, b"<h1>Internal Server Error</h1>")),
                );
            }
            55 => {
                let g = solo(&mut w);
                w.request(
                    g,
                    now,
                    &Req::get("/reports/slow"),
                    0,
                    Outcome::IdleTimeout { late_reply: None },
                );
            }
            70 => {
                let g = solo(&mut w);
                w.request(
                    g,
                    now,
                    &Req::get("/export"),
                    0,
                    Outcome::ClientCloses(3 * SEC),
                );
            }
            80 => {
                // last Express request before a quiet period; the next one races its close
                let e = ok_sized(&mut w, f, now, "/api/cart", 1, &mut r, 120);
                if let Some(race) = w.keepalive_expiry(n, 1, e) {
                    let g = w.open(ip(CLIENTS[3]), n, race - 30 * MS);
                    let end = w.request(
                        g,
                        race,
                        &Req::get("/api/checkout"),
                        1,
                        Outcome::KeepaliveRace,
                    );
                    express_quiet_until = end;
                }
            }
            _ => {
                ok_sized(&mut w, f, now, path, target, &mut r, 120);
            }
        }
        i += 1;
        now += r.range(300, 1500) * MS;
    }
    w.finish(t + 130 * SEC);
    // The access log is not the capture: two requests went through the second ALB node, whose
    // ENI is not mirrored (log lines without captured request), and the ALB's best-effort
    // logging lost the line of the 30th request (a captured request without log line).
    w.log_uncaptured(sa4([198, 51, 100, 7], 51_234), t + 20 * SEC, "/products", 0);
    w.log_uncaptured(sa4([54, 206, 12, 90], 61_002), t + 61 * SEC, "/api/cart", 1);
    w.drop_log_line(29);
    w
}

fn tls_frontend() -> World {
    let cfg = WorldCfg {
        seed: 28,
        listener_port: 443,
        tls_frontend: true,
        ..Default::default()
    };
    let (mut w, n) = base(cfg);
    let mut r = SplitMix64::new(128);
    let t = t0();
    let f = w.open(ip(CLIENTS[0]), n, t);
    let mut e = ok(&mut w, f, t + 5 * MS, "/", 0, &mut r);
    e = ok(&mut w, f, e + 200 * MS, "/api/cart", 1, &mut r);
    e = w.request(
        f,
        e + 300 * MS,
        &Req::get("/api/pay"),
        1,
        Outcome::ClosedBeforeResponse {
            after: 20 * MS,
            rst: false,
        },
    );
    let g = w.open(ip(CLIENTS[1]), n, e + 500 * MS);
    e = ok(&mut w, g, e + 505 * MS, "/", 0, &mut r);
    e = w.request(
        g,
        e + 300 * MS,
        &Req::get("/account"),
        0,
        Outcome::Respond(Resp::new(500, b"<h1>Internal Server Error</h1>")),
    );
    ok(&mut w, g, e + 300 * MS, "/products", 0, &mut r);
    w.finish(t + 15 * SEC);
    w
}

fn multi_node() -> World {
    let (mut w, n) = base(WorldCfg {
        seed: 29,
        ..Default::default()
    });
    let m = w.add_node([10, 0, 3, 140], 1002);
    let mut r = SplitMix64::new(129);
    let t = t0();
    for node in [n, m] {
        w.health_checks(node, 0, t + node as u64 * 2 * SEC, t + 30 * SEC, 10 * SEC);
        w.health_checks(
            node,
            1,
            t + (node as u64 * 2 + 1) * SEC,
            t + 30 * SEC,
            10 * SEC,
        );
    }
    let f = w.open(ip(CLIENTS[0]), n, t);
    let g = w.open(ip(CLIENTS[1]), m, t + 40 * MS);
    let mut e = t + 3 * MS;
    for k in 0..6 {
        e = ok(&mut w, f, e + 150 * MS, "/", k % 2, &mut r);
        e = ok(&mut w, g, e + 20 * MS, "/products", k % 2, &mut r);
    }
    e = w.request(
        f,
        e + 400 * MS,
        &Req::get("/api/upload"),
        1,
        Outcome::ClosedBeforeResponse {
            after: 15 * MS,
            rst: true,
        },
    );
    e = w.request(
        g,
        e + 400 * MS,
        &Req::get("/"),
        0,
        Outcome::Respond(Resp::new(503, b"<h1>Service Unavailable</h1>")),
    );
    ok(&mut w, f, e + 300 * MS, "/", 0, &mut r);
    ok(&mut w, g, e + 310 * MS, "/", 0, &mut r);
    w.finish(t + 30 * SEC);
    w
}

fn backend_vantage() -> World {
    let cfg = WorldCfg {
        seed: 30,
        vantage: Vantage::Target,
        ..Default::default()
    };
    let (mut w, n) = base(cfg);
    w.add_target(Target::new(sa4([10, 0, 2, 88], 80), ServerKind::Apache));
    let mut r = SplitMix64::new(130);
    let t = t0();
    w.health_checks(n, 0, t, t + 90 * SEC, 10 * SEC);
    let f = w.open(ip(CLIENTS[0]), n, t);
    let mut e = ok(&mut w, f, t + 2 * MS, "/", 0, &mut r);
    e = ok(&mut w, f, e + 200 * MS, "/api/items", 1, &mut r);
    e = w.request(f, e + 300 * MS, &Req::get("/old"), 2, Outcome::Refused);
    e = w.request(
        f,
        e + 300 * MS,
        &Req::get("/"),
        2,
        Outcome::ConnectTimeout { syn_acks: true },
    );
    e = ok(&mut w, f, e + 100 * MS, "/api/cart", 1, &mut r);
    let race = w.keepalive_expiry(n, 1, e).unwrap_or(e + 5 * SEC);
    let g = w.open(ip(CLIENTS[1]), n, race - 30 * MS);
    e = w.request(
        g,
        race,
        &Req::get("/api/checkout"),
        1,
        Outcome::KeepaliveRace,
    );
    e = w.request(
        g,
        e + 200 * MS,
        &Req::get("/"),
        0,
        Outcome::Respond(Resp::new(502, b"<h1>Proxy Error</h1>")),
    );
    w.request(
        g,
        e + 500 * MS,
        &Req::get("/delay.php"),
        0,
        Outcome::IdleTimeout {
            late_reply: Some(5 * SEC),
        },
    );
    w.finish(t + 90 * SEC);
    w
}

fn frontend_vantage() -> World {
    let cfg = WorldCfg {
        seed: 31,
        vantage: Vantage::Client,
        idle_timeout: 20 * SEC,
        ..Default::default()
    };
    let (mut w, n) = base(cfg);
    w.add_target(Target::new(sa4([10, 0, 2, 88], 80), ServerKind::Apache));
    let mut r = SplitMix64::new(131);
    let t = t0();
    let f = w.open(ip([10, 0, 5, 21]), n, t);
    let mut e = ok(&mut w, f, t + 2 * MS, "/", 0, &mut r);
    e = ok(&mut w, f, e + 200 * MS, "/api/items", 1, &mut r);
    e = w.request(f, e + 300 * MS, &Req::get("/old"), 2, Outcome::Refused);
    let g = w.open(ip([10, 0, 5, 38]), n, e + 100 * MS);
    e = w.request(
        g,
        e + 102 * MS,
        &Req::get("/reports/slow"),
        0,
        Outcome::IdleTimeout { late_reply: None },
    );
    e = w.request(
        f,
        e + 100 * MS,
        &Req::get("/"),
        0,
        Outcome::Respond(Resp::new(500, b"<h1>Internal Server Error</h1>")),
    );
    ok(&mut w, g, e + 100 * MS, "/", 0, &mut r);
    w.finish(t + 40 * SEC);
    w
}

fn frontend_syn_unanswered() -> World {
    let cfg = WorldCfg {
        seed: 42,
        vantage: Vantage::Client,
        ..Default::default()
    };
    let (mut w, n) = base(cfg);
    let mut r = SplitMix64::new(142);
    let t = t0();
    let f = w.open(ip([10, 0, 5, 21]), n, t);
    let mut e = ok(&mut w, f, t + 2 * MS, "/", 0, &mut r);
    e = ok(&mut w, f, e + 200 * MS, "/api/items", 1, &mut r);
    w.open_unanswered(ip([10, 0, 5, 38]), n, e + 300 * MS, e + 20 * SEC);
    e = w.request(
        f,
        e + 2 * SEC,
        &Req::get("/api/cart"),
        1,
        Outcome::Respond(Resp::new(500, b"{\"error\":\"internal\"}")),
    );
    ok(&mut w, f, e + 3 * SEC, "/", 0, &mut r);
    w.finish(t + 25 * SEC);
    w
}

fn linux_sll() -> World {
    let cfg = WorldCfg {
        seed: 32,
        wrap: Wrap::Plain(Framing::LinuxSll),
        ..Default::default()
    };
    let (mut w, n) = base(cfg);
    w.add_target(Target::new(sa4([10, 0, 2, 88], 80), ServerKind::Apache));
    let mut r = SplitMix64::new(132);
    let t = t0();
    let (f, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let e = ok(&mut w, f, e + 100 * MS, "/api/cart", 1, &mut r);
    let g = w.open(ip(CLIENTS[1]), n, e + 200 * MS);
    w.request(g, e + 202 * MS, &Req::get("/"), 2, Outcome::Refused);
    w.finish(t + 10 * SEC);
    w
}

fn mirror_truncated() -> World {
    let cfg = WorldCfg {
        seed: 33,
        mirror_snap: Some(200),
        mirror_drop_every: Some(3),
        mirror_duplicate_every: Some(25),
        ..Default::default()
    };
    let (mut w, n) = base(cfg);
    let mut r = SplitMix64::new(133);
    let t = t0();
    let (f, mut e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    for _ in 0..4 {
        e = ok(&mut w, f, e + 150 * MS, "/products", 0, &mut r);
    }
    let big = page(&mut r, 12_000);
    e = w.request(
        f,
        e + 150 * MS,
        &Req::get("/catalog"),
        0,
        Outcome::Respond(Resp::new(200, &big)),
    );
    let g = w.open(ip(CLIENTS[1]), n, e + 100 * MS);
    e = w.request(
        g,
        e + 102 * MS,
        &Req::get("/api/pay"),
        1,
        Outcome::ClosedBeforeResponse {
            after: 25 * MS,
            rst: false,
        },
    );
    ok(&mut w, g, e + 300 * MS, "/", 0, &mut r);
    w.finish(t + 10 * SEC);
    w
}

fn geneve() -> World {
    let cfg = WorldCfg {
        seed: 34,
        wrap: Wrap::Geneve,
        ..Default::default()
    };
    let (mut w, n) = base(cfg);
    w.add_target(Target::new(sa4([10, 0, 2, 88], 80), ServerKind::Apache));
    let mut r = SplitMix64::new(134);
    let t = t0();
    let (f, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let e = ok(&mut w, f, e + 100 * MS, "/api/cart", 1, &mut r);
    let g = w.open(ip(CLIENTS[1]), n, e + 200 * MS);
    w.request(g, e + 202 * MS, &Req::get("/"), 2, Outcome::Refused);
    w.finish(t + 10 * SEC);
    w
}

fn sll2_pcapng() -> World {
    let cfg = WorldCfg {
        seed: 35,
        wrap: Wrap::Plain(Framing::LinuxSll2),
        pcapng: true,
        ts_res: super::pcap::TsResolution::Nano,
        ..Default::default()
    };
    let (mut w, n) = base(cfg);
    let mut r = SplitMix64::new(135);
    let t = t0();
    let (f, e) = one_ok(&mut w, CLIENTS[0], t, 0, &mut r);
    let e = ok(&mut w, f, e + 100 * MS, "/api/cart", 1, &mut r);
    let g = w.open(ip(CLIENTS[1]), n, e + 200 * MS);
    let e = w.request(
        g,
        e + 202 * MS,
        &Req::get("/api/stock"),
        1,
        Outcome::Respond(Resp::new(500, b"{\"error\":\"boom\"}")),
    );
    ok(&mut w, g, e + 100 * MS, "/", 0, &mut r);
    w.finish(t + 10 * SEC);
    w
}

/// HTTP/2 (h2c) on both legs; see the scenario list.
fn h2c_streams() -> World {
    use super::alb::Expected;
    use super::h2;
    use albscope::taxonomy::GeneratedBy;
    use std::net::SocketAddr;
    let (mut w, n) = base(WorldCfg {
        seed: 41,
        ..Default::default()
    });
    let tgt = w.add_target(Target::new(sa4([10, 0, 2, 61], 8080), ServerKind::Nginx));
    let client_ip = ip(CLIENTS[3]);
    let client = SocketAddr::new(client_ip, 51_200);
    let cs = client.to_string();
    let t = t0();
    let (mut f, t) = w.raw_front(client, n, t);
    let (mut b, _) = w.raw_back(n, tgt, 33_418, client_ip, t + 200 * US);
    let trace = |i: u32| format!("Root=1-65f00a{i:02x}-0123456789abcdef01234567");
    let req = |id: u32, method: &str, path: &str, grpc: bool, back: bool| {
        let mut hs: Vec<(String, String)> = vec![
            (":method".into(), method.into()),
            (":scheme".into(), "http".into()),
            (":path".into(), path.into()),
            (":authority".into(), "api.example.com".into()),
            ("user-agent".into(), "grpc-go/1.64.0".into()),
        ];
        if grpc {
            hs.push(("content-type".into(), "application/grpc".into()));
            hs.push(("te".into(), "trailers".into()));
        }
        if back {
            hs.push(("x-forwarded-for".into(), client_ip.to_string()));
            hs.push(("x-forwarded-proto".into(), "http".into()));
            hs.push(("x-forwarded-port".into(), "80".into()));
            hs.push(("x-amzn-trace-id".into(), trace(id)));
        }
        let refs: Vec<(&str, &str)> = hs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        h2::headers(id, !grpc, &refs)
    };
    let resp = |status: &str, server: &str| {
        h2::headers(
            0,
            false,
            &[
                (":status", status),
                ("server", server),
                ("content-type", "text/plain"),
            ],
        )
    };
    let with_id = |mut frame: Vec<u8>, id: u32| {
        if let Some(s) = frame.get_mut(5..9) {
            s.copy_from_slice(&id.to_be_bytes());
        }
        frame
    };
    let grpc_msg = [0u8, 0, 0, 0, 3, 0x0a, 0x01, 0x2a];
    // Prefaces and settings on both legs.
    let mut c = h2::PREFACE.to_vec();
    c.extend(h2::settings(&[(4, 1 << 20)]));
    c.extend(h2::window_update(0, 1 << 20));
    let mut t = w.raw_send(&mut f, t + 100 * US, true, &c);
    let mut c = h2::PREFACE.to_vec();
    c.extend(h2::settings(&[(4, 65_535)]));
    t = w.raw_send(&mut b, t + 100 * US, true, &c);
    let mut sv = h2::settings(&[(3, 128)]);
    sv.extend(h2::settings_ack());
    t = w.raw_send(&mut b, t + 200 * US, false, &sv);
    t = w.raw_send(&mut f, t + 100 * US, false, &sv);
    // Streams 1 and 3 at once; 5 a gRPC call.
    let mut c = req(1, "GET", "/api/items", false, false);
    c.extend(req(3, "GET", "/api/export", false, false));
    c.extend(req(5, "POST", "/inventory.v1.Stock/Reserve", true, false));
    c.extend(h2::data(5, &grpc_msg, true));
    t = w.raw_send(&mut f, t + 2 * MS, true, &c);
    let c135 = t;
    let mut c = req(1, "GET", "/api/items", false, true);
    c.extend(req(3, "GET", "/api/export", false, true));
    c.extend(req(5, "POST", "/inventory.v1.Stock/Reserve", true, true));
    c.extend(h2::data(5, &grpc_msg, true));
    t = w.raw_send(&mut b, t + 300 * US, true, &c);
    let d135 = t;
    // Target: stream 1 answered, stream 3's 80 KB body stops at the 65 535-byte window.
    let body3 = vec![b'x'; 80 * 1024];
    let mut s = with_id(resp("200", "nginx/1.25.3"), 1);
    s.extend(h2::data(1, b"[1,2,3]", true));
    s.extend(with_id(resp("200", "nginx/1.25.3"), 3));
    s.extend(h2::data(3, body3.get(..65_535).unwrap_or(&[]), false));
    t = w.raw_send(&mut b, t + 4 * MS, false, &s);
    let r13 = t;
    // The gRPC call fails: headers, then trailers with grpc-status 13.
    let mut s = h2::headers(
        5,
        false,
        &[(":status", "200"), ("content-type", "application/grpc")],
    );
    s.extend(h2::headers(
        5,
        true,
        &[
            ("grpc-status", "13"),
            ("grpc-message", "stock%20service%20unavailable"),
        ],
    ));
    t = w.raw_send(&mut b, t + 3 * MS, false, &s);
    let r5 = t;
    // The ALB relays 1 and 5, opens the windows, and the rest of stream 3 follows.
    let mut a = with_id(resp("200", "nginx/1.25.3"), 1);
    a.extend(h2::data(1, b"[1,2,3]", true));
    a.extend(h2::headers(
        5,
        false,
        &[(":status", "200"), ("content-type", "application/grpc")],
    ));
    a.extend(h2::headers(
        5,
        true,
        &[
            ("grpc-status", "13"),
            ("grpc-message", "stock%20service%20unavailable"),
        ],
    ));
    t = w.raw_send(&mut f, t + 300 * US, false, &a);
    let a15 = t;
    let mut wu = h2::window_update(3, 1 << 20);
    wu.extend(h2::window_update(0, 1 << 20));
    t = w.raw_send(&mut b, t + 40 * MS, true, &wu);
    t = w.raw_send(
        &mut b,
        t + 300 * US,
        false,
        &h2::data(3, body3.get(65_535..).unwrap_or(&[]), true),
    );
    let mut a = with_id(resp("200", "nginx/1.25.3"), 3);
    a.extend(h2::data(3, &body3, true));
    t = w.raw_send(&mut f, t + 300 * US, false, &a);
    let a3 = t;
    // Stream 7: the target resets it; the ALB answers 502.
    t = w.raw_send(
        &mut f,
        t + 300 * MS,
        true,
        &req(7, "GET", "/api/orders/42", false, false),
    );
    let c7 = t;
    t = w.raw_send(
        &mut b,
        t + 300 * US,
        true,
        &req(7, "GET", "/api/orders/42", false, true),
    );
    let d7 = t;
    t = w.raw_send(&mut b, t + 25 * MS, false, &h2::rst(7, 2));
    let mut a = with_id(resp("502", "awselb/2.0"), 7);
    a.extend(h2::data(
        7,
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        true,
    ));
    t = w.raw_send(&mut f, t + 300 * US, false, &a);
    let a7 = t;
    // Stream 9 after 3 s idle: the target's GOAWAY (last stream 7) crosses it; 502.
    t = w.raw_send(
        &mut f,
        t + 3 * SEC,
        true,
        &req(9, "GET", "/api/cart", false, false),
    );
    let c9 = t;
    t = w.raw_send(
        &mut b,
        t + 300 * US,
        true,
        &req(9, "GET", "/api/cart", false, true),
    );
    let d9 = t;
    t = w.raw_send(&mut b, t + 150 * US, false, &h2::goaway(7, 0));
    let mut a = with_id(resp("502", "awselb/2.0"), 9);
    a.extend(h2::data(
        9,
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        true,
    ));
    t = w.raw_send(&mut f, t + 400 * US, false, &a);
    let a9 = t;
    t = w.raw_close(&mut b, t + MS, false);
    w.raw_close(&mut f, t + 2 * SEC, true);
    // The access log: one line per request (h2c has no log type of its own: `http`).
    let target_addr = w.targets.get(tgt).map(|x| x.addr);
    /// Stream, method, path, created, dispatched, response, relayed, ELB and target status.
    type Row<'a> = (
        u32,
        &'a str,
        &'a str,
        Nanos,
        Nanos,
        Option<Nanos>,
        Nanos,
        u16,
        Option<u16>,
    );
    let rows: [Row<'_>; 5] = [
        (
            1,
            "GET",
            "/api/items",
            c135,
            d135,
            Some(r13),
            a15,
            200,
            Some(200),
        ),
        (
            3,
            "GET",
            "/api/export",
            c135,
            d135,
            Some(r13),
            a3,
            200,
            Some(200),
        ),
        (
            5,
            "POST",
            "/inventory.v1.Stock/Reserve",
            c135,
            d135,
            Some(r5),
            a15,
            200,
            Some(200),
        ),
        (7, "GET", "/api/orders/42", c7, d7, None, a7, 502, None),
        (9, "GET", "/api/cart", c9, d9, None, a9, 502, None),
    ];
    for (id, method, path, created, dispatched, response, relayed, elb, target_status) in rows {
        w.access_log.push(super::accesslog::LogLine {
            kind: "http",
            time: relayed,
            client,
            target: target_addr,
            received: created,
            dispatched: Some(dispatched),
            response,
            relayed: response.map(|_| relayed),
            elb_status: Some(elb),
            target_status,
            received_bytes: 120 + path.len(),
            sent_bytes: if id == 3 { 82_000 } else { 160 },
            request: format!("{method} http://api.example.com:80{path} HTTP/2.0"),
            user_agent: "grpc-go/1.64.0".into(),
            trace_id: trace(id),
            domain: None,
            created,
            conn_trace_id: format!("TID_{:032x}", 0x5eed_0000 + id),
        });
    }
    let e = |category, status, by| Expected {
        client: cs.clone(),
        category,
        status: Some(status),
        generated_by: Some(by),
    };
    w.expected.extend([
        e(Category::Ok, 200, GeneratedBy::Target),
        e(Category::Ok, 200, GeneratedBy::Target),
        e(Category::TargetGeneratedError, 200, GeneratedBy::Target),
        e(Category::TargetClosedBeforeResponse, 502, GeneratedBy::Lb),
        e(Category::KeepaliveRace, 502, GeneratedBy::Lb),
    ]);
    w
}

/// A node whose clients reach it at another address (`front`), recorded with `wrap`: a few
/// clients with ok requests, a refused connect, a target 500 and a close before the response.
fn two_address_world(seed: u64, front: [u8; 4], wrap: Wrap) -> World {
    two_address_world_cfg(
        front,
        WorldCfg {
            seed,
            wrap,
            ..Default::default()
        },
    )
}

/// [`two_address_world`] with any world configuration (e.g. an HTTPS listener).
fn two_address_world_cfg(front: [u8; 4], cfg: WorldCfg) -> World {
    let seed = cfg.seed;
    // A TLS client sends its first request after the handshake.
    let hs = if cfg.tls_frontend { 5 * MS } else { 0 };
    let (mut w, n) = base(cfg);
    w.set_front_addr(n, front);
    w.add_target(Target::new(sa4([10, 0, 2, 88], 80), ServerKind::Apache));
    let mut r = SplitMix64::new(seed + 100);
    let t = t0();
    w.health_checks(n, 0, t + SEC, t + 25 * SEC, 10 * SEC);
    let f = w.open(ip(CLIENTS[0]), n, t);
    let mut e = ok(&mut w, f, t + hs + 2 * MS, "/", 0, &mut r);
    e = ok(&mut w, f, e + 150 * MS, "/products", 0, &mut r);
    e = ok(&mut w, f, e + 120 * MS, "/api/cart", 1, &mut r);
    let g = w.open(ip(CLIENTS[1]), n, e + 200 * MS);
    e = ok(&mut w, g, e + hs + 203 * MS, "/", 0, &mut r);
    e = w.request(g, e + 250 * MS, &Req::get("/old"), 2, Outcome::Refused);
    e = ok(&mut w, g, e + 300 * MS, "/api/items", 1, &mut r);
    let h = w.open(ip(CLIENTS[2]), n, e + 100 * MS);
    e = ok(&mut w, h, e + hs + 103 * MS, "/", 0, &mut r);
    e = w.request(
        h,
        e + 200 * MS,
        &Req::get("/account"),
        0,
        Outcome::Respond(Resp::new(500, b"<h1>Internal Server Error</h1>")),
    );
    e = w.request(
        h,
        e + 200 * MS,
        &Req::get("/api/pay"),
        1,
        Outcome::ClosedBeforeResponse {
            after: 15 * MS,
            rst: true,
        },
    );
    ok(&mut w, f, e + 400 * MS, "/products", 0, &mut r);
    w.finish(t + 25 * SEC);
    w
}

fn http2_frontend() -> World {
    let cfg = WorldCfg {
        seed: 36,
        listener_port: 443,
        tls_frontend: true,
        alpn: &["h2", "http/1.1"],
        ..Default::default()
    };
    let (mut w, n) = base(cfg);
    w.add_target(Target::new(sa4([10, 0, 2, 88], 80), ServerKind::Apache));
    let t = t0();
    w.health_checks(n, 0, t + SEC, t + 20 * SEC, 10 * SEC);
    // Each stream answered after the ones sent before it (an HTTP/2 connection is one byte
    // stream per direction: the builder sends in time order).
    let stream_ok = |w: &mut World, f: usize, t: Nanos, p: &str, target: usize, d: Nanos| {
        let body = format!("<html><body>{p}</body></html>").repeat(8);
        let r = Resp::new(200, body.as_bytes()).delay(d);
        w.request(f, t, &Req::get(p), target, Outcome::Respond(r))
    };
    let f = w.open(ip(CLIENTS[0]), n, t);
    // A page load: the browser sends its streams 1 ms apart, before the first answer.
    let paths = ["/", "/app.js", "/style.css", "/api/cart", "/api/user"];
    let mut e = t;
    for (i, p) in paths.iter().enumerate() {
        let d = (10 + 4 * i as Nanos) * MS;
        e = stream_ok(&mut w, f, t + 5 * MS + i as Nanos * MS, p, i % 2, d);
    }
    let t1 = e + 300 * MS;
    stream_ok(&mut w, f, t1, "/api/items", 0, 5 * MS);
    w.request(
        f,
        t1 + MS,
        &Req::get("/api/orders"),
        0,
        Outcome::Respond(Resp::new(500, b"<h1>Internal Server Error</h1>").delay(20 * MS)),
    );
    e = w.request(
        f,
        t1 + 2 * MS,
        &Req::get("/api/pay"),
        1,
        Outcome::ClosedBeforeResponse {
            after: 40 * MS,
            rst: true,
        },
    );
    w.request(f, e + 400 * MS, &Req::get("/legacy"), 2, Outcome::Refused);
    let g = w.open(ip(CLIENTS[1]), n, t + 2 * SEC);
    for (i, p) in ["/", "/app.js", "/api/items"].iter().enumerate() {
        let d = (8 + 5 * i as Nanos) * MS;
        stream_ok(&mut w, g, t + 2 * SEC + 5 * MS + i as Nanos * MS, p, 0, d);
    }
    w.finish(t + 20 * SEC);
    w
}

/// HTTP/2 and HTTP/1.1 over TLS 1.3 without keys where a record of exactly 9 bytes misleads:
/// an HTTP/2 client that packs its SETTINGS acknowledgement with a request, and an HTTP/1.1
/// client whose 9-byte body follows a `100 Continue`.
fn h2_front_acks() -> World {
    let cfg = WorldCfg {
        seed: 41,
        listener_port: 443,
        tls_frontend: true,
        alpn: &["h2", "http/1.1"],
        ..Default::default()
    };
    let (mut w, n) = base(cfg);
    w.add_target(Target::new(sa4([10, 0, 2, 88], 80), ServerKind::Apache));
    let t = t0();
    w.health_checks(n, 0, t + SEC, t + 20 * SEC, 10 * SEC);
    let page = |p: &str| format!("<html><body>{p}</body></html>").repeat(8);
    // HTTP/2, one stream at a time; the client's acknowledgement 200 µs before its first
    // request (one TLS record), the ALB's own acknowledgement alone after it.
    let f = w.open(ip(CLIENTS[0]), n, t);
    let ack = w.h2_prefaces(f, 300 * US, 400 * US);
    let body = page("/");
    let r = Resp::new(200, body.as_bytes()).delay(12 * MS);
    let mut e = w.request(f, ack + 200 * US, &Req::get("/"), 0, Outcome::Respond(r));
    e = w.request(
        f,
        e + 400 * MS,
        &Req::get("/api/pay"),
        1,
        Outcome::ClosedBeforeResponse {
            after: 30 * MS,
            rst: true,
        },
    );
    let body = page("/api/items");
    let r = Resp::new(200, body.as_bytes()).delay(9 * MS);
    w.request(
        f,
        e + 500 * MS,
        &Req::get("/api/items"),
        0,
        Outcome::Respond(r),
    );
    // HTTP/1.1 although h2 was offered: a 9-byte body after the 100 Continue.
    let g = w.open_http1(ip(CLIENTS[1]), n, t + 3 * SEC);
    let mut post = Req::post("/api/upload", b"{\"n\":123}");
    post.expect_continue = true;
    e = w.request(g, t + 3 * SEC + 5 * MS, &post, 2, Outcome::Refused);
    let body = page("/status");
    let r = Resp::new(200, body.as_bytes()).delay(7 * MS);
    w.request(
        g,
        e + 300 * MS,
        &Req::get("/status"),
        0,
        Outcome::Respond(r),
    );
    w.finish(t + 20 * SEC);
    w
}

fn https_frontend_only() -> World {
    let cfg = WorldCfg {
        seed: 38,
        listener_port: 443,
        tls_frontend: true,
        alpn: &["http/1.1"],
        vantage: Vantage::Client,
        ..Default::default()
    };
    let (mut w, n) = base(cfg);
    w.add_target(Target::new(sa4([10, 0, 2, 88], 80), ServerKind::Apache));
    let mut r = SplitMix64::new(138);
    let t = t0();
    let f = w.open(ip(CLIENTS[0]), n, t);
    let mut e = ok(&mut w, f, t + 5 * MS, "/", 0, &mut r);
    e = ok(&mut w, f, e + 200 * MS, "/api/cart", 1, &mut r);
    e = w.request(
        f,
        e + 300 * MS,
        &Req::get("/account"),
        0,
        Outcome::Respond(Resp::new(500, b"<h1>Internal Server Error</h1>")),
    );
    ok(&mut w, f, e + 300 * MS, "/products", 0, &mut r);
    let g = w.open(ip(CLIENTS[1]), n, t + SEC);
    e = w.request(g, t + SEC + 5 * MS, &Req::get("/old"), 2, Outcome::Refused);
    w.request(
        g,
        e + 400 * MS,
        &Req::get("/reports/slow"),
        0,
        Outcome::IdleTimeout { late_reply: None },
    );
    let h = w.open(ip(CLIENTS[2]), n, t + 2 * SEC);
    w.request(
        h,
        t + 2 * SEC + 5 * MS,
        &Req::get("/export"),
        1,
        Outcome::ClientCloses(2 * SEC),
    );
    w.open_tls_refused(ip(CLIENTS[3]), n, t + 3 * SEC);
    w.finish(t + 70 * SEC);
    w
}

fn https_split_addrs() -> World {
    two_address_world_cfg(
        [52, 94, 133, 132],
        WorldCfg {
            seed: 37,
            listener_port: 443,
            tls_frontend: true,
            alpn: &["http/1.1"],
            ..Default::default()
        },
    )
}

fn proxy_two_interfaces() -> World {
    two_address_world(34, [10, 0, 0, 10], Wrap::Plain(Framing::LinuxSll))
}

fn split_addrs() -> World {
    two_address_world(35, [52, 94, 133, 131], Wrap::Plain(Framing::Ethernet))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_has_a_sample_with_that_truth() {
        let all = all();
        let failures = Category::ALL
            .into_iter()
            .filter(|c| !matches!(c, Category::Ok | Category::Undetermined));
        for c in failures {
            let s = all
                .iter()
                .find(|s| s.name == c.name())
                .expect("sample for category");
            let exp = s.expected();
            assert!(exp.iter().any(|e| e.category == c), "{c}: {exp:?}");
            assert!(
                exp.iter().any(|e| e.category == Category::Ok),
                "{c} has healthy requests around"
            );
        }
    }
}
