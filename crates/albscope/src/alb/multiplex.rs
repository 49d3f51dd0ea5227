//! HTTP/2 front ends without keys: one TLS client connection carries many concurrent streams,
//! so its application-data bursts are not requests. The back end is clear text: each back-end
//! request is one client request, and it belongs to the front-end TLS connection of its
//! `X-Forwarded-For` client (last entry) that is open at that moment on the listener port its
//! `X-Forwarded-Port` names. Pairing ([`super::pairing`]) asks [`Http2Fronts::choose`] for that
//! connection, reports each such request once with the connection's client ip:port, and drops
//! the connection's bursts instead of counting one request per burst.
//!
//! A connection counts as HTTP/2 when its handshake shows it: the ServerHello selected `h2`
//! (TLS 1.2 and older send the ALPN selection in the clear; a TLS 1.2 ServerHello without it
//! rules HTTP/2 out, RFC 9113 3.2), or the ClientHello offered `h2` alone (any version). When
//! the client offered `h2` among others and the selection is hidden (TLS 1.3 sends it
//! encrypted, in EncryptedExtensions), the connection counts as HTTP/2 when its record sizes
//! show HTTP/2 framing ([`Http2Evidence::SettingsAck`], TLS 1.3 only), or when the back end
//! shows two of its requests in flight at once, or more requests than the connection had
//! client bursts (HTTP/1.1 sends one request at a time, each a burst). Otherwise it stays a
//! candidate: its bursts are paired by time, and one without a back-end request is no request
//! failure (diagnose: outcome not visible; a key log would tell).

use super::types::{ClosedConn, Leg};
use crate::capture::{Duration, Timestamp};
use crate::flow::{ConnId, Endpoint};
use crate::protocol::Known;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;

/// How far a back-end request may appear outside its front-end connection's lifetime.
const SLACK: Duration = Duration(5_000_000);

/// What the handshake showed about HTTP/2 on a front-end connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Http2Evidence {
    /// The ServerHello selected `h2`.
    Selected,
    /// The ClientHello offered `h2` and nothing else.
    OnlyOffered,
    /// The ClientHello offered `h2` among others and the selection was not visible; the back
    /// end showed concurrent requests (or more requests than client bursts) on it.
    Concurrent,
    /// The ClientHello offered `h2` among others and TLS 1.3 hid the selection; the client's
    /// first record had room for the HTTP/2 preface and SETTINGS, and a record of exactly 9
    /// bytes, an HTTP/2 SETTINGS acknowledgement, came where no HTTP/1 message fits: the
    /// client's after a server answer too short to be an HTTP/1 one or right after the first
    /// answer to its preface and request, or the server's early (see
    /// [`crate::protocol::Http2Signs`]).
    SettingsAck,
}

/// One front-end TLS connection that may carry HTTP/2.
#[derive(Clone, Debug)]
struct Candidate {
    conn: ConnId,
    node: IpAddr,
    client: Endpoint,
    /// The ALB's end of the connection (its address as the client saw it, listener port).
    server: Endpoint,
    opened: Timestamp,
    closed: Option<Timestamp>,
    /// `Some` when the handshake alone shows HTTP/2; `None` when h2 was offered among others.
    shown: Option<Http2Evidence>,
    bursts: usize,
}

/// The front-end TLS connections of a pairing batch that offered HTTP/2.
#[derive(Debug, Default)]
pub(super) struct Http2Fronts {
    conns: Vec<Candidate>,
    by_client: HashMap<(IpAddr, IpAddr), Vec<usize>>,
}

/// A back-end request given to an HTTP/2 front-end connection.
#[derive(Clone, Debug)]
pub(super) struct Attribution {
    /// Index into [`Http2Fronts`]'s connections.
    pub conn: usize,
    /// The back-end request's start and its response's first byte (or outcome).
    pub start: Timestamp,
    /// When its response started, if it did.
    pub end: Option<Timestamp>,
}

impl Http2Fronts {
    /// Gathers the TLS front-end legs (with their node) whose handshake offered `h2`.
    pub(super) fn new<'a>(fronts: impl Iterator<Item = (&'a Leg, IpAddr)>) -> Self {
        let mut out = Http2Fronts::default();
        let mut index: HashMap<ConnId, usize> = HashMap::new();
        for (leg, node) in fronts {
            if leg.burst.is_none() {
                continue;
            }
            let Some(rec) = leg.record.as_deref() else {
                continue;
            };
            let Some(offer) = h2_offer(rec) else { continue };
            if let Some(&i) = index.get(&leg.conn.id) {
                if let Some(c) = out.conns.get_mut(i) {
                    c.bursts += 1;
                }
                continue;
            }
            index.insert(leg.conn.id, out.conns.len());
            out.by_client
                .entry((node, leg.conn.key.client.ip))
                .or_default()
                .push(out.conns.len());
            out.conns.push(Candidate {
                conn: leg.conn.id,
                node,
                client: leg.conn.key.client,
                server: leg.conn.key.server,
                opened: leg.conn.opened,
                closed: Some(rec.tcp.end),
                shown: offer,
                bursts: 1,
            });
        }
        out
    }

    /// True when no connection offered HTTP/2.
    pub(super) fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// The connection a back-end request `back` (through node `node`) was sent for: the one
    /// of its X-Forwarded-For client, on the X-Forwarded-Port listener port, open at the time;
    /// among several, one whose handshake shows HTTP/2, then the latest opened.
    pub(super) fn choose(&self, back: &Leg, node: IpAddr) -> Option<usize> {
        let client: IpAddr = back
            .request_known(Known::XForwardedFor)?
            .rsplit(',')
            .next()?
            .trim()
            .parse()
            .ok()?;
        let port: Option<u16> = back
            .request_known(Known::XForwardedPort)
            .and_then(|p| p.trim().parse().ok());
        let t = back.time();
        let list = self.by_client.get(&(node, client))?;
        list.iter()
            .copied()
            .filter(|i| {
                self.conns.get(*i).is_some_and(|c| {
                    port.map_or(true, |p| p == c.server.port)
                        && c.opened <= t.plus(SLACK)
                        && c.closed.map_or(true, |e| t <= e.plus(SLACK))
                })
            })
            .max_by_key(|i| self.conns.get(*i).map(|c| (c.shown.is_some(), c.opened)))
    }

    /// Which connections carry HTTP/2, given the back-end requests attributed to each: those
    /// whose handshake or records show it (with or without back-end requests: a bare failed
    /// attempt may still be one of theirs), and those that offered it whose requests overlap
    /// in time or outnumber their client bursts (named as the evidence over record sizes).
    /// Returns the evidence per connection index.
    pub(super) fn decide(&self, attributed: &[Attribution]) -> HashMap<usize, Http2Evidence> {
        let mut per_conn: HashMap<usize, Vec<(Timestamp, Option<Timestamp>)>> = HashMap::new();
        for a in attributed {
            per_conn.entry(a.conn).or_default().push((a.start, a.end));
        }
        let mut out: HashMap<usize, Http2Evidence> = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((i, c.shown?)))
            .collect();
        for (i, mut reqs) in per_conn {
            let Some(c) = self.conns.get(i) else { continue };
            // The handshake's word is final; record sizes give way to the back end's (the
            // stronger sign: requests in flight at once).
            if matches!(
                c.shown,
                Some(Http2Evidence::Selected | Http2Evidence::OnlyOffered)
            ) {
                continue;
            }
            reqs.sort_by_key(|r| r.0);
            let overlap = reqs
                .windows(2)
                .any(|w| matches!(w, [(_, Some(end)), (next, _)] if next < end));
            if overlap || reqs.len() > c.bursts {
                out.insert(i, Http2Evidence::Concurrent);
            }
        }
        out
    }

    /// The one HTTP/2 connection (among `h2`) of node `node` open at `t`, for a back-end
    /// connection attempt that carried no request (refused, unreachable, timed out): the ALB
    /// opens one for a client request or a health check, and no health check is seen to its
    /// target. `None` when none or several are open.
    pub(super) fn only_open(
        &self,
        h2: &HashMap<usize, Http2Evidence>,
        node: IpAddr,
        t: Timestamp,
    ) -> Option<usize> {
        let mut open = h2.keys().copied().filter(|i| {
            self.conns.get(*i).is_some_and(|c| {
                c.node == node
                    && c.opened <= t.plus(SLACK)
                    && c.closed.map_or(true, |e| t <= e.plus(SLACK))
            })
        });
        let first = open.next()?;
        open.next().is_none().then_some(first)
    }

    /// The connection id, client and ALB ends of connection index `i`.
    pub(super) fn conn(&self, i: usize) -> Option<(ConnId, Endpoint, Endpoint)> {
        self.conns.get(i).map(|c| (c.conn, c.client, c.server))
    }
}

/// True when a front-end TLS connection carries HTTP/2 as far as its handshake shows without
/// the back end: the ServerHello selected `h2`, or (selection hidden by TLS 1.3 or not
/// captured) the ClientHello offered `h2`, which an ALB HTTPS listener always selects when
/// offered (a TLS 1.2 ServerHello that selected nothing rules it out). Its application-data
/// exchanges are then not requests (one connection carries many concurrent streams).
pub fn front_http2(rec: &ClosedConn) -> bool {
    h2_offer(rec).is_some()
}

/// What the handshake and records show about HTTP/2: `Some(Some(e))` shown, `Some(None)`
/// offered among others with the selection hidden and no sign in the records, `None` not
/// offered (or another protocol selected, or a TLS 1.2 ServerHello selected none).
fn h2_offer(rec: &ClosedConn) -> Option<Option<Http2Evidence>> {
    h2_offer_tls(rec.tls.as_ref()?)
}

/// [`h2_offer`] of a connection's TLS facts.
fn h2_offer_tls(tls: &crate::protocol::TlsInfo) -> Option<Option<Http2Evidence>> {
    let offered = tls.client_hello.as_ref().map(|c| &c.alpn);
    let server_hello = tls.server_hello.as_ref();
    match server_hello.and_then(|s| s.alpn.as_deref()) {
        Some("h2") => return Some(Some(Http2Evidence::Selected)),
        Some(_) => return None,
        None => {}
    }
    // TLS 1.2 and older: the selection is in the clear, and HTTP/2 over TLS needs it.
    let clear = |v: &str| matches!(v, "SSLv3" | "TLSv1.0" | "TLSv1.1" | "TLSv1.2");
    let hidden = server_hello.map_or(true, |s| !clear(&s.version));
    if !hidden {
        return None;
    }
    let offered = offered?;
    if !offered.iter().any(|p| p == "h2") {
        return None;
    }
    if offered.iter().all(|p| p == "h2") {
        Some(Some(Http2Evidence::OnlyOffered))
    } else if h2_framing(&tls.h2_signs) {
        Some(Some(Http2Evidence::SettingsAck))
    } else {
        Some(None)
    }
}

/// Smallest client connection preface: the 24-byte magic and an empty SETTINGS frame.
const H2_PREFACE_MIN: u16 = 24 + 9;

/// True when a TLS 1.3 connection's record sizes show HTTP/2 framing (see
/// [`Http2Evidence::SettingsAck`]): a SETTINGS acknowledgement of the client's, or of the
/// server's, in a record of its own. An HTTP/1.1 client's record of exactly 9 bytes right
/// after the server's answer can be a request body sent after an interim `100 Continue` or
/// an early answer: it is not counted where that answer could be one (see
/// `crate::protocol::Http2Signs::client_settings_acks`). A connection whose two sides
/// send their acknowledgements together with other frames shows no sign: it stays a
/// candidate.
fn h2_framing(signs: &crate::protocol::Http2Signs) -> bool {
    signs.client_first >= H2_PREFACE_MIN
        && (signs.client_settings_acks > 0 || signs.server_settings_acks > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(shown: Option<Http2Evidence>, bursts: usize) -> Http2Fronts {
        let client: Endpoint = Endpoint {
            ip: "198.51.100.7".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            port: 40000,
        };
        Http2Fronts {
            conns: vec![Candidate {
                conn: ConnId(1),
                node: IpAddr::from([10, 0, 1, 25]),
                client,
                server: Endpoint {
                    ip: IpAddr::from([10, 0, 1, 25]),
                    port: 443,
                },
                opened: Timestamp(0),
                closed: Some(Timestamp(10_000_000_000)),
                shown,
                bursts,
            }],
            by_client: HashMap::new(),
        }
    }

    fn req(start_ms: i64, end_ms: i64) -> Attribution {
        Attribution {
            conn: 0,
            start: Timestamp(start_ms * 1_000_000),
            end: Some(Timestamp(end_ms * 1_000_000)),
        }
    }

    #[test]
    fn hidden_selection_needs_concurrent_requests() {
        let one_at_a_time = [req(0, 10), req(20, 30)];
        assert!(conn(None, 2).decide(&one_at_a_time).is_empty());
        let overlapping = [req(0, 10), req(1, 12)];
        assert_eq!(
            conn(None, 2).decide(&overlapping).get(&0),
            Some(&Http2Evidence::Concurrent)
        );
        // More requests than client bursts: several requests per burst.
        let many = [req(0, 10), req(20, 30), req(40, 50)];
        assert!(conn(None, 1).decide(&many).contains_key(&0));
    }

    fn tls(
        offered: &[&str],
        version: Option<&str>,
        selected: Option<&str>,
        signs: crate::protocol::Http2Signs,
    ) -> crate::protocol::TlsInfo {
        use crate::protocol::{ClientHelloInfo, ServerHelloInfo};
        crate::protocol::TlsInfo {
            client_hello: Some(ClientHelloInfo {
                ts: Timestamp(0),
                pos: Default::default(),
                legacy_version: "TLSv1.2".into(),
                supported_versions: Vec::new(),
                ciphers: Vec::new(),
                sni: None,
                alpn: offered.iter().map(|p| p.to_string()).collect(),
            }),
            server_hello: version.map(|v| ServerHelloInfo {
                ts: Timestamp(0),
                pos: Default::default(),
                version: v.into(),
                cipher: String::new(),
                alpn: selected.map(str::to_string),
            }),
            h2_signs: signs,
            ..Default::default()
        }
    }

    #[test]
    fn what_the_handshake_and_records_show() {
        use crate::protocol::Http2Signs;
        let none = Http2Signs::default();
        let ack = Http2Signs {
            client_first: 64,
            client_settings_acks: 1,
            server_settings_acks: 0,
        };
        let both = ["h2", "http/1.1"];
        // TLS 1.2: the selection is in the clear, either way.
        let t = tls(&both, Some("TLSv1.2"), Some("h2"), none);
        assert_eq!(h2_offer_tls(&t), Some(Some(Http2Evidence::Selected)));
        let t = tls(&both, Some("TLSv1.2"), Some("http/1.1"), ack);
        assert_eq!(h2_offer_tls(&t), None);
        // a TLS 1.2 ServerHello that selected nothing: no HTTP/2 (it needs ALPN)
        let t = tls(&["h2"], Some("TLSv1.2"), None, ack);
        assert_eq!(h2_offer_tls(&t), None);
        // TLS 1.3 (or no ServerHello): hidden
        let t = tls(&["h2"], Some("TLSv1.3"), None, none);
        assert_eq!(h2_offer_tls(&t), Some(Some(Http2Evidence::OnlyOffered)));
        let t = tls(&both, Some("TLSv1.3"), None, none);
        assert_eq!(h2_offer_tls(&t), Some(None));
        let t = tls(&both, Some("TLSv1.3"), None, ack);
        assert_eq!(h2_offer_tls(&t), Some(Some(Http2Evidence::SettingsAck)));
        let t = tls(&both, None, None, ack);
        assert_eq!(h2_offer_tls(&t), Some(Some(Http2Evidence::SettingsAck)));
        // a first record too small for the preface, or no acknowledgement: no sign
        let small = Http2Signs {
            client_first: 32,
            client_settings_acks: 1,
            server_settings_acks: 0,
        };
        assert_eq!(h2_offer_tls(&tls(&both, None, None, small)), Some(None));
        let no_ack = Http2Signs {
            client_first: 64,
            client_settings_acks: 0,
            server_settings_acks: 0,
        };
        assert_eq!(h2_offer_tls(&tls(&both, None, None, no_ack)), Some(None));
        // the server's own acknowledgement alone is a sign too
        let server_ack = Http2Signs {
            server_settings_acks: 1,
            ..no_ack
        };
        assert_eq!(
            h2_offer_tls(&tls(&both, None, None, server_ack)),
            Some(Some(Http2Evidence::SettingsAck))
        );
        // not offered: never
        assert_eq!(h2_offer_tls(&tls(&["http/1.1"], None, None, ack)), None);
    }

    #[test]
    fn record_sizes_give_way_to_concurrent_requests() {
        let overlapping = [req(0, 10), req(1, 12)];
        assert_eq!(
            conn(Some(Http2Evidence::SettingsAck), 2)
                .decide(&overlapping)
                .get(&0),
            Some(&Http2Evidence::Concurrent)
        );
        // shown without any back-end request: still decided (a bare attempt may be its)
        assert_eq!(
            conn(Some(Http2Evidence::SettingsAck), 2)
                .decide(&[])
                .get(&0),
            Some(&Http2Evidence::SettingsAck)
        );
        assert!(conn(None, 2).decide(&[]).is_empty());
    }

    #[test]
    fn a_shown_selection_is_enough() {
        let one = [req(0, 10)];
        assert_eq!(
            conn(Some(Http2Evidence::Selected), 1).decide(&one).get(&0),
            Some(&Http2Evidence::Selected)
        );
    }
}
