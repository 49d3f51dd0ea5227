//! Zeek-style connection state and history: the per-endpoint TCP state, the history letters
//! with Zeek's rules for repeating them, and the final `conn_state` (S0, SF, REJ, RSTO...).

use super::segment::Conn;
use super::Dir;

/// Zeek's per-endpoint TCP state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum EpState {
    /// Nothing sent yet.
    Inactive,
    /// Sent a SYN.
    SynSent,
    /// Sent a SYN-ACK.
    SynAckSent,
    /// Sent packets without a handshake seen (a connection caught mid-stream).
    Partial,
    /// Handshake done.
    Established,
    /// Sent a FIN.
    Closed,
    /// Sent a RST.
    Reset,
}

/// One letter of Zeek's connection history, as sent in one direction.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum HistoryLetter {
    /// `S`: a SYN without ACK, with its sequence number.
    Syn { seq: u32 },
    /// `H`: a SYN-ACK, with its sequence number.
    SynAck { seq: u32 },
    /// `A`: a pure ACK (no payload, SYN, FIN or RST).
    Ack,
    /// `D`: a packet with payload.
    Data,
    /// `F`: a FIN, with its sequence number.
    Fin { seq: u32 },
    /// `R`: a RST, with its sequence number.
    Rst { seq: u32 },
    /// `C`: a packet with a bad checksum.
    BadChecksum,
    /// `G`: a content gap.
    Gap,
    /// `T`: a retransmission (payload all seen before).
    Retransmission,
    /// `W`: a zero window.
    ZeroWindow,
    /// `I`: an inconsistent packet (FIN and RST).
    Inconsistent,
    /// `Q`: a multi-flag packet (SYN with FIN or RST).
    MultiFlag,
}

impl HistoryLetter {
    /// The history character: upper case for the originator ([`Dir::ToServer`]), lower case for
    /// the responder.
    pub(super) fn char(self, dir: Dir) -> char {
        let c = match self {
            HistoryLetter::Syn { .. } => 's',
            HistoryLetter::SynAck { .. } => 'h',
            HistoryLetter::Ack => 'a',
            HistoryLetter::Data => 'd',
            HistoryLetter::Fin { .. } => 'f',
            HistoryLetter::Rst { .. } => 'r',
            HistoryLetter::BadChecksum => 'c',
            HistoryLetter::Gap => 'g',
            HistoryLetter::Retransmission => 't',
            HistoryLetter::ZeroWindow => 'w',
            HistoryLetter::Inconsistent => 'i',
            HistoryLetter::MultiFlag => 'q',
        };
        match dir {
            Dir::ToServer => c.to_ascii_uppercase(),
            Dir::ToClient => c,
        }
    }
}

/// What one direction already put in the history, for Zeek's rules on repeating a letter:
/// S/H, F and R again only for a new sequence number; C, G, T and W again each time their count
/// reaches a power of 10; A, D, I and Q once.
#[derive(Clone, Debug, Default)]
pub(super) struct HistoryMarks {
    /// Sequence number of the last S or H recorded (one for both).
    syn_seq: Option<u32>,
    /// Sequence number of the last F recorded.
    fin_seq: Option<u32>,
    /// Sequence number of the last R recorded.
    rst_seq: Option<u32>,
    bad_checksums: u64,
    gaps: u64,
    retransmissions: u64,
    zero_windows: u64,
    ack: bool,
    data: bool,
    inconsistent: bool,
    multi_flag: bool,
}

impl HistoryMarks {
    /// True once the endpoint sent anything but a SYN: an ACK, data, a FIN or a RST.
    pub(super) fn past_syn(&self) -> bool {
        self.ack || self.data || self.fin_seq.is_some() || self.rst_seq.is_some()
    }

    /// Counts one more `letter`; true when it goes into the history.
    fn is_due(&mut self, letter: HistoryLetter) -> bool {
        match letter {
            HistoryLetter::Syn { seq } | HistoryLetter::SynAck { seq } => {
                new_seq(&mut self.syn_seq, seq)
            }
            HistoryLetter::Fin { seq } => new_seq(&mut self.fin_seq, seq),
            HistoryLetter::Rst { seq } => new_seq(&mut self.rst_seq, seq),
            HistoryLetter::BadChecksum => count_to_power_of_ten(&mut self.bad_checksums),
            HistoryLetter::Gap => count_to_power_of_ten(&mut self.gaps),
            HistoryLetter::Retransmission => count_to_power_of_ten(&mut self.retransmissions),
            HistoryLetter::ZeroWindow => count_to_power_of_ten(&mut self.zero_windows),
            HistoryLetter::Ack => first(&mut self.ack),
            HistoryLetter::Data => first(&mut self.data),
            HistoryLetter::Inconsistent => first(&mut self.inconsistent),
            HistoryLetter::MultiFlag => first(&mut self.multi_flag),
        }
    }
}

/// Is `seq` not the last one recorded? Remembers it.
fn new_seq(last: &mut Option<u32>, seq: u32) -> bool {
    if *last == Some(seq) {
        return false;
    }
    *last = Some(seq);
    true
}

/// Adds one to `count`; true when it reaches 1, 10, 100...
fn count_to_power_of_ten(count: &mut u64) -> bool {
    *count += 1;
    let mut p = 1u64;
    while p < *count {
        p = p.saturating_mul(10);
    }
    p == *count
}

/// Is this the first time? Marks `done`.
fn first(done: &mut bool) -> bool {
    !std::mem::replace(done, true)
}

impl Conn {
    /// Records `letter`, sent in direction `dir`, in the history when Zeek would.
    pub(super) fn record(&mut self, dir: Dir, letter: HistoryLetter) {
        if self.sides[dir.index()].marks.is_due(letter) {
            self.history.push(letter.char(dir));
        }
    }
}

/// Zeek's `conn_state` from the two endpoint states (base/protocols/conn/main.zeek).
pub(super) fn conn_state(conn: &Conn) -> &'static str {
    use EpState::*;
    let os = conn.sides[0].state;
    let rs = conn.sides[1].state;
    let o_inactive = matches!(os, Inactive | Partial);
    let r_inactive = matches!(rs, Inactive | Partial);
    let no_bytes = conn.sides[0].stats.payload_bytes == 0
        && conn.sides[0].stats.gap_bytes == 0
        && conn.sides[1].stats.payload_bytes == 0
        && conn.sides[1].stats.gap_bytes == 0;
    if rs == Reset {
        if matches!(os, SynSent | SynAckSent) || (os == Reset && no_bytes) {
            "REJ"
        } else if o_inactive {
            "RSTRH"
        } else {
            "RSTR"
        }
    } else if os == Reset {
        if r_inactive {
            if rstos0_history(&conn.history) {
                "RSTOS0"
            } else {
                "OTH"
            }
        } else {
            "RSTO"
        }
    } else if rs == Closed && os == Closed {
        "SF"
    } else if os == Closed {
        if r_inactive {
            "SH"
        } else {
            "S2"
        }
    } else if rs == Closed {
        if o_inactive {
            "SHR"
        } else {
            "S3"
        }
    } else if os == SynSent && rs == Inactive {
        "S0"
    } else if os == Established && rs == Established {
        "S1"
    } else {
        "OTH"
    }
}

/// Zeek's `/\^?S[^HAFGIQ]*R.*/` on the history.
fn rstos0_history(h: &str) -> bool {
    let h = h.strip_prefix('^').unwrap_or(h);
    let Some(rest) = h.strip_prefix('S') else {
        return false;
    };
    for c in rest.chars() {
        if c == 'R' {
            return true;
        }
        if "HAFGIQ".contains(c) {
            return false;
        }
    }
    false
}
