use super::*;
use crate::capture::Timestamp;
use crate::decode::MirrorSession;
use crate::flow::Endpoint;

fn ep(s: &str) -> Endpoint {
    let sa: std::net::SocketAddr = s.parse().unwrap();
    Endpoint {
        ip: sa.ip(),
        port: sa.port(),
    }
}

fn pos(file: u16, number: u64) -> PacketPos {
    PacketPos {
        file,
        number,
        offset: 0,
    }
}

fn conn(
    session: MirrorSession,
    c: &str,
    s: &str,
    first: PacketPos,
    last: Option<PacketPos>,
) -> ConnRef {
    ConnRef {
        session,
        client: ep(c),
        server: ep(s),
        start: Timestamp(0),
        end: last.map(|_| Timestamp(1)),
        first_packet: first,
        last_packet: last,
        reused: false,
        idle_before_s: None,
    }
}

fn session(encap: Encap, vni: Option<u32>) -> MirrorSession {
    MirrorSession {
        encap,
        vni,
        outer_src: Some("10.0.9.9".parse().unwrap()),
    }
}

#[test]
fn plain_ipv4_both_legs() {
    // Plain Ethernet, SLL and raw IP captures are alike: no tunnel, the addresses as seen.
    let conns = RequestConns {
        front: Some(conn(
            MirrorSession::DIRECT,
            "49.47.11.159:40017",
            "10.0.1.25:80",
            pos(0, 45),
            Some(pos(0, 56)),
        )),
        back: Some(conn(
            MirrorSession::DIRECT,
            "10.0.1.25:41000",
            "10.0.2.37:8080",
            pos(0, 12),
            Some(pos(0, 53)),
        )),
        cited: Vec::new(),
    };
    assert_eq!(
        display_filters(&conns),
        vec![FileFilter {
            file: 0,
            filter: "(ip.addr==49.47.11.159 && ip.addr==10.0.1.25 && tcp.port==40017 && \
                     tcp.port==80 && frame.number in {45..56}) || (ip.addr==10.0.1.25 && \
                     ip.addr==10.0.2.37 && tcp.port==41000 && tcp.port==8080 && \
                     frame.number in {12..53})"
                .into()
        }]
    );
}

#[test]
fn ipv6_uses_ipv6_addr() {
    let conns = RequestConns {
        front: None,
        back: Some(conn(
            MirrorSession::DIRECT,
            "[2001:db8::1]:5000",
            "[2001:db8::2]:443",
            pos(0, 3),
            Some(pos(0, 3)),
        )),
        cited: Vec::new(),
    };
    assert_eq!(
        display_filters(&conns)[0].filter,
        "ipv6.addr==2001:db8::1 && ipv6.addr==2001:db8::2 && tcp.port==5000 && tcp.port==443 \
         && frame.number==3"
    );
}

#[test]
fn vxlan_and_geneve_name_the_vni() {
    let v = RequestConns {
        front: Some(conn(
            session(Encap::Vxlan, Some(7)),
            "1.2.3.4:1000",
            "10.0.1.25:80",
            pos(0, 1),
            Some(pos(0, 9)),
        )),
        back: None,
        cited: Vec::new(),
    };
    assert!(display_filters(&v)[0]
        .filter
        .starts_with("vxlan.vni==7 && ip.addr==1.2.3.4 && "));
    let g = RequestConns {
        front: Some(conn(
            session(Encap::Geneve, Some(4242)),
            "1.2.3.4:1000",
            "10.0.1.25:80",
            pos(0, 1),
            Some(pos(0, 9)),
        )),
        back: None,
        cited: Vec::new(),
    };
    assert!(display_filters(&g)[0]
        .filter
        .starts_with("geneve.vni==4242 && ip.addr==1.2.3.4 && "));
}

#[test]
fn open_ended_and_multi_file_connections() {
    // Not seen to end: from its first packet on.
    let open = RequestConns {
        front: Some(conn(
            MirrorSession::DIRECT,
            "1.2.3.4:1000",
            "10.0.1.25:80",
            pos(0, 5),
            None,
        )),
        back: None,
        cited: Vec::new(),
    };
    assert!(display_filters(&open)[0]
        .filter
        .ends_with("frame.number>=5"));
    // Front end in one input, back end spanning two: one filter per file.
    let multi = RequestConns {
        front: Some(conn(
            MirrorSession::DIRECT,
            "1.2.3.4:1000",
            "10.0.1.25:80",
            pos(0, 5),
            Some(pos(0, 8)),
        )),
        back: Some(conn(
            MirrorSession::DIRECT,
            "10.0.1.25:2000",
            "10.0.2.3:80",
            pos(1, 2),
            Some(pos(2, 4)),
        )),
        cited: Vec::new(),
    };
    let f = display_filters(&multi);
    assert_eq!(f.iter().map(|x| x.file).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert!(f[1].filter.ends_with("frame.number>=2"));
    assert!(f[2].filter.ends_with("frame.number<=4"));
}

#[test]
fn shell_words_are_quoted_only_when_needed() {
    assert_eq!(shell_word("samples/a-b_c.pcap"), "samples/a-b_c.pcap");
    assert_eq!(shell_word("my capture.pcap"), "'my capture.pcap'");
    assert_eq!(shell_word("it's"), r"'it'\''s'");
    assert_eq!(shell_word(""), "''");
}
