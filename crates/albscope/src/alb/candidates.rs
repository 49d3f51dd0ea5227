//! Likely ALB nodes when none is recognised: the TLS connections of a capture that names no
//! node (no ALB headers, health checks or awselb answers readable: TLS only, no keys) are
//! remembered per server ([`TlsPeers`]), and at the end each address that could be the node is
//! named with the flags that would tell albscope so ([`NodeCandidate`]): the server of TLS
//! connections (its front end, if it is the node) and a private opener of TLS connections to
//! private servers (its back end, if it is the node). A candidate is never treated as a node:
//! one client talking to one HTTPS server looks the same from either side. Plain-HTTP
//! connections carrying requests are remembered the same way ([`TlsPeers::plain_http`]): their
//! server is named as a listener (a client's requests that nothing answered, e.g. a client
//! that gave up first, name no node); never as an opener, since an ALB's own requests always
//! carry X-Amzn-Trace-Id, which names it. Where the two readings of the same connections tie,
//! the ClientHellos' server names break it ([`HelloNames`]): an ALB node sends none to its
//! targets (it opens TLS to the target's address), while clients reach an ALB's listener
//! by its DNS name and send it (the listener picks its certificate by it).

use super::knowledge::is_private;
use crate::capture::Timestamp;
use crate::flow::{ConnKey, Endpoint};
use std::net::IpAddr;

/// Most TLS servers (address, port) remembered.
const MAX_SERVERS: usize = 4_096;
/// Most client addresses counted per TLS server.
const MAX_CLIENTS: usize = 8;
/// Most connections listed per TLS server.
const MAX_LISTED: usize = 16;
/// Most candidates named.
pub const MAX_CANDIDATES: usize = 3;

/// One TLS connection of a candidate, as listed.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsConnSeen {
    /// The opener.
    pub client: Endpoint,
    /// The server.
    pub server: Endpoint,
    /// Its first packet.
    pub first: Timestamp,
    /// Its last packet.
    pub last: Timestamp,
    /// Its exchanges (a client burst of application data and the server's answer).
    pub exchanges: u64,
}

/// What the ClientHellos of a candidate's connections said of the server's name (SNI).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HelloNames {
    /// No ClientHello seen, or some named the server and some did not.
    #[default]
    Unknown,
    /// Every ClientHello seen named the server (SNI): as clients of an ALB listener do.
    Named,
    /// No ClientHello named the server: as an ALB node's to its targets.
    Unnamed,
}

impl HelloNames {
    fn of(hellos: u64, named: u64) -> Self {
        match (hellos, named) {
            (0, _) => HelloNames::Unknown,
            (h, n) if n == h => HelloNames::Named,
            (_, 0) => HelloNames::Unnamed,
            _ => HelloNames::Unknown,
        }
    }
}

/// The connections of one client address to one TLS server.
#[derive(Clone, Debug)]
struct ClientSeen {
    ip: IpAddr,
    connections: u64,
    /// Its ClientHellos seen, and those that named the server (SNI).
    hellos: u64,
    named: u64,
}

/// What one TLS server accepted.
#[derive(Clone, Debug, Default)]
struct ServerSeen {
    connections: u64,
    exchanges: u64,
    /// Connections per client address (the first [`MAX_CLIENTS`] addresses).
    clients: Vec<ClientSeen>,
    /// The first [`MAX_LISTED`] connections.
    listed: Vec<TlsConnSeen>,
}

/// The TLS connections seen, per server (address, port); or, made with
/// [`TlsPeers::plain_http`], the plain-HTTP connections carrying requests.
#[derive(Clone, Debug, Default)]
pub struct TlsPeers {
    servers: indexmap::IndexMap<Endpoint, ServerSeen>,
    /// Plain-HTTP connections: their servers are named as HTTP listeners, never openers.
    http: bool,
}

impl TlsPeers {
    /// Remembers plain-HTTP connections instead of TLS ones (exchanges are then requests).
    pub fn plain_http() -> Self {
        TlsPeers {
            servers: indexmap::IndexMap::default(),
            http: true,
        }
    }

    /// Remembers one closed TLS connection and its exchanges; `named`: whether its
    /// ClientHello named the server (SNI), `None` when no ClientHello was seen.
    pub fn remember(
        &mut self,
        key: &ConnKey,
        first: Timestamp,
        last: Timestamp,
        exchanges: u64,
        named: Option<bool>,
    ) {
        if !self.servers.contains_key(&key.server) && self.servers.len() >= MAX_SERVERS {
            return;
        }
        let s = self.servers.entry(key.server).or_default();
        s.connections += 1;
        s.exchanges += exchanges;
        let c = match s.clients.iter().position(|c| c.ip == key.client.ip) {
            Some(i) => s.clients.get_mut(i),
            None if s.clients.len() < MAX_CLIENTS => {
                s.clients.push(ClientSeen {
                    ip: key.client.ip,
                    connections: 0,
                    hellos: 0,
                    named: 0,
                });
                s.clients.last_mut()
            }
            None => None,
        };
        if let Some(c) = c {
            c.connections += 1;
            c.hellos += u64::from(named.is_some());
            c.named += u64::from(named == Some(true));
        }
        if s.listed.len() < MAX_LISTED {
            s.listed.push(TlsConnSeen {
                client: key.client,
                server: key.server,
                first,
                last,
                exchanges,
            });
        }
    }

    /// The likely ALB nodes, most likely first (at most [`MAX_CANDIDATES`]). `opens` tells
    /// whether an address was seen opening any connection, `accepts` accepting one.
    pub fn candidates(
        &self,
        opens: impl Fn(IpAddr) -> bool,
        accepts: impl Fn(IpAddr) -> bool,
    ) -> Vec<NodeCandidate> {
        let mut out: Vec<NodeCandidate> = Vec::new();
        // The server of TLS (or plain-HTTP) connections: the node's front end (listener).
        for (server, s) in &self.servers {
            let port = server.port;
            let hellos = s.clients.iter().map(|c| c.hellos).sum();
            let named = s.clients.iter().map(|c| c.named).sum();
            out.push(NodeCandidate {
                ip: server.ip,
                reading: if self.http {
                    CandidateReading::HttpListener { port }
                } else {
                    CandidateReading::Listener { port }
                },
                peers: s.clients.len() as u64,
                connections: s.connections,
                exchanges: s.exchanges,
                plays_both: opens(server.ip),
                hello_names: HelloNames::of(hellos, named),
                connections_listed: s.listed.clone(),
            });
        }
        // A private opener of TLS connections to private servers: the node's back end.
        let mut openers: Vec<NodeCandidate> = Vec::new();
        // Per opener: its ClientHellos seen and those that named the server.
        let mut hellos: Vec<(IpAddr, u64, u64)> = Vec::new();
        for (server, s) in &self.servers {
            if self.http || !is_private(server.ip) {
                continue;
            }
            for seen in &s.clients {
                let (client, n) = (&seen.ip, &seen.connections);
                if !is_private(*client) {
                    continue;
                }
                match hellos.iter_mut().find(|h| h.0 == *client) {
                    Some(h) => {
                        h.1 += seen.hellos;
                        h.2 += seen.named;
                    }
                    None => hellos.push((*client, seen.hellos, seen.named)),
                }
                let c = match openers.iter_mut().find(|o| o.ip == *client) {
                    Some(c) => c,
                    None => {
                        openers.push(NodeCandidate {
                            ip: *client,
                            reading: CandidateReading::Opener {
                                target_ports: Vec::new(),
                            },
                            peers: 0,
                            connections: 0,
                            exchanges: 0,
                            plays_both: accepts(*client),
                            hello_names: HelloNames::Unknown,
                            connections_listed: Vec::new(),
                        });
                        let last = openers.len() - 1;
                        &mut openers[last]
                    }
                };
                c.peers += 1;
                c.connections += n;
                if let CandidateReading::Opener { target_ports } = &mut c.reading {
                    if !target_ports.contains(&server.port) {
                        target_ports.push(server.port);
                        target_ports.sort_unstable();
                    }
                }
                for l in s.listed.iter().filter(|l| l.client.ip == *client) {
                    c.exchanges += l.exchanges;
                    if c.connections_listed.len() < MAX_LISTED {
                        c.connections_listed.push(l.clone());
                    }
                }
            }
        }
        for o in &mut openers {
            if let Some(h) = hellos.iter().find(|h| h.0 == o.ip) {
                o.hello_names = HelloNames::of(h.1, h.2);
            }
        }
        out.extend(openers);
        rank(&mut out);
        out
    }
}

/// Sorts candidates most likely first and keeps [`MAX_CANDIDATES`]: playing both roles first
/// (the node accepts clients and opens to targets), then more peers (a node serves many
/// clients, or spreads over a target group), then more connections; then the reading the
/// ClientHellos' server names favour ([`NodeCandidate::names_favour`]); on a tie a listener
/// reading first (a listener is the common case, a TLS target group the rarer one).
pub fn rank(out: &mut Vec<NodeCandidate>) {
    out.sort_by(|a, b| {
        (
            b.plays_both,
            b.peers,
            b.connections,
            a.names_rank(),
            a.reading.rank(),
            a.ip,
        )
            .cmp(&(
                a.plays_both,
                a.peers,
                a.connections,
                b.names_rank(),
                b.reading.rank(),
                b.ip,
            ))
    });
    out.truncate(MAX_CANDIDATES);
}

/// Which side of an ALB node a candidate's connections would be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CandidateReading {
    /// It accepts TLS connections on `port`: the node's front end, a listener
    /// (`--alb-ip IP --listener-port PORT`).
    Listener {
        /// The port it accepts TLS on.
        port: u16,
    },
    /// It received plain-HTTP requests on `port` that nothing in the capture answered: the
    /// node's front end, a listener (`--alb-ip IP --listener-port PORT`).
    HttpListener {
        /// The port it received them on.
        port: u16,
    },
    /// It opens TLS connections to private servers on `target_ports`: the node's back end,
    /// HTTPS targets (`--alb-ip IP --target-port PORT`).
    Opener {
        /// The servers' ports.
        target_ports: Vec<u16>,
    },
}

impl CandidateReading {
    fn rank(&self) -> u8 {
        match self {
            CandidateReading::Listener { .. } | CandidateReading::HttpListener { .. } => 0,
            CandidateReading::Opener { .. } => 1,
        }
    }
}

/// An address that may be an ALB node, not recognised as one: named with what it did and the
/// flags that would tell albscope so.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeCandidate {
    /// Its address.
    pub ip: IpAddr,
    /// Which side of a node its TLS connections would be.
    pub reading: CandidateReading,
    /// Distinct peers: client addresses (listener) or servers (opener), counted up to 8 per
    /// server.
    pub peers: u64,
    /// Its TLS connections in that role (plain-HTTP ones for an HTTP listener).
    pub connections: u64,
    /// Their exchanges (encrypted: their outcome is not visible; an HTTP listener's: the
    /// requests it received).
    pub exchanges: u64,
    /// It also opens connections (listener) or accepts them (opener), as a node does.
    pub plays_both: bool,
    /// What the ClientHellos of its connections said of the server's name.
    pub hello_names: HelloNames,
    /// The first of its connections.
    pub connections_listed: Vec<TlsConnSeen>,
}

impl NodeCandidate {
    /// The command-line options that would name it (`--alb-ip` and the port flag).
    pub fn flags(&self) -> Vec<String> {
        let mut f = vec!["--alb-ip".to_string(), self.ip.to_string()];
        match &self.reading {
            CandidateReading::Listener { port } | CandidateReading::HttpListener { port } => {
                f.push("--listener-port".into());
                f.push(port.to_string());
            }
            CandidateReading::Opener { target_ports } => {
                for p in target_ports {
                    f.push("--target-port".into());
                    f.push(p.to_string());
                }
            }
        }
        f
    }

    /// True when `other` is as likely as this one (nothing in the capture ranks them).
    pub fn ties_with(&self, other: &NodeCandidate) -> bool {
        (
            self.plays_both,
            self.peers,
            self.connections,
            self.names_rank(),
        ) == (
            other.plays_both,
            other.peers,
            other.connections,
            other.names_rank(),
        )
    }

    /// True when the ClientHellos' server names favour this reading: none named the server
    /// and it is an opener (an ALB node sends no SNI to its targets), or every one did and it
    /// is a listener (clients reach an ALB listener by its DNS name and send it).
    pub fn names_favour(&self) -> bool {
        matches!(
            (&self.reading, self.hello_names),
            (CandidateReading::Opener { .. }, HelloNames::Unnamed)
                | (CandidateReading::Listener { .. }, HelloNames::Named)
        )
    }

    /// 0 when the server names favour this reading, 2 when they favour the other, else 1.
    fn names_rank(&self) -> u8 {
        match (&self.reading, self.hello_names) {
            (_, HelloNames::Unknown) | (CandidateReading::HttpListener { .. }, _) => 1,
            _ if self.names_favour() => 0,
            _ => 2,
        }
    }
}
