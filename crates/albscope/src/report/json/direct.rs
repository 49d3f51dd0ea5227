//! A pretty JSON writer into a byte buffer, byte for byte as `serde_json::to_writer_pretty`
//! writes (two-space indent, `"key": value`, `[]`/`{}` when empty, `serde_json`'s string
//! escapes and number forms), for the parts of the document written per kept request: no
//! output struct, no `String` per field, no `Serializer` state machine.
//!
//! [`Pretty::value`] writes any other `Serialize` value at the current depth through
//! `serde_json` itself (with [`PrettyAt`]), so rarely present sub-objects keep their derived
//! form.

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};
use std::io;

/// A pretty JSON writer appending to `buf`, at `depth` levels of indent.
pub(super) struct Pretty {
    /// The JSON written so far.
    pub buf: Vec<u8>,
    depth: usize,
    /// No value yet in the innermost open array or object.
    empty: bool,
}

impl Pretty {
    /// A writer whose first value sits at `depth` (0: a whole document).
    pub fn at(depth: usize) -> Self {
        Pretty {
            buf: Vec::with_capacity(8 * 1024),
            depth,
            empty: true,
        }
    }

    /// A writer inside an array whose values sit at `depth` and that holds a value already
    /// (the next item starts with `,`): where [`Pretty::at`] + `open_array` + an item leave it.
    pub fn within_array(depth: usize) -> Self {
        Pretty {
            buf: Vec::with_capacity(8 * 1024),
            depth,
            empty: false,
        }
    }

    fn newline(&mut self) {
        // `,\n` (or `\n` first) and the indent in one copy when the depth allows.
        let skip = usize::from(self.empty);
        match LEAD.get(skip..2 + 2 * self.depth) {
            Some(lead) => self.buf.extend_from_slice(lead),
            None => {
                self.buf.extend_from_slice(&LEAD[skip..2]);
                self.indent();
            }
        }
        self.empty = false;
    }

    fn indent(&mut self) {
        let mut n = 2 * self.depth;
        while n > 0 {
            let k = n.min(SPACES.len());
            self.buf.extend_from_slice(&SPACES[..k]);
            n -= k;
        }
    }

    /// Opens an object (`{`).
    pub fn open_object(&mut self) {
        self.open(b'{');
    }

    /// Opens an array (`[`).
    pub fn open_array(&mut self) {
        self.open(b'[');
    }

    fn open(&mut self, c: u8) {
        self.buf.push(c);
        self.depth += 1;
        self.empty = true;
    }

    /// Closes the innermost object.
    pub fn close_object(&mut self) {
        self.close(b'}');
    }

    /// Closes the innermost array.
    pub fn close_array(&mut self) {
        self.close(b']');
    }

    fn close(&mut self, c: u8) {
        self.depth = self.depth.saturating_sub(1);
        if !self.empty {
            self.buf.push(b'\n');
            self.indent();
        }
        self.buf.push(c);
        self.empty = false;
    }

    /// Starts an object member: its key (a plain ASCII name of the schema) and `": "`.
    pub fn key(&mut self, k: &str) {
        self.newline();
        self.buf.reserve(k.len() + 4);
        self.buf.push(b'"');
        self.buf.extend_from_slice(k.as_bytes());
        self.buf.extend_from_slice(b"\": ");
    }

    /// Starts an array element.
    pub fn item(&mut self) {
        self.newline();
    }

    /// A string value.
    pub fn str(&mut self, s: &str) {
        escape_into(&mut self.buf, s.as_bytes());
    }

    /// A string value written by `f` (which appends its UTF-8 text to the buffer it is given),
    /// escaped where needed.
    pub fn str_with(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        let start = self.buf.len();
        self.buf.push(b'"');
        f(&mut self.buf);
        if first_escape(&self.buf[start + 1..]).is_none() {
            self.buf.push(b'"');
        } else {
            let raw = self.buf.split_off(start + 1);
            self.buf.truncate(start);
            escape_into(&mut self.buf, &raw);
        }
    }

    /// A string value, or `null`.
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    /// `null`.
    pub fn null(&mut self) {
        self.buf.extend_from_slice(b"null");
    }

    /// `true` or `false`.
    pub fn bool(&mut self, b: bool) {
        self.buf
            .extend_from_slice(if b { b"true" } else { b"false" });
    }

    /// An unsigned integer.
    pub fn u64(&mut self, n: u64) {
        // Writing to a Vec cannot fail.
        let _ = CompactFormatter.write_u64(&mut self.buf, n);
    }

    /// An unsigned integer, or `null`.
    pub fn opt_u64(&mut self, n: Option<u64>) {
        match n {
            Some(n) => self.u64(n),
            None => self.null(),
        }
    }

    /// A float as `serde_json` writes it (`null` when not finite).
    pub fn f64(&mut self, x: f64) {
        if x.is_finite() {
            let _ = CompactFormatter.write_f64(&mut self.buf, x);
        } else {
            self.null();
        }
    }

    /// A float, or `null`.
    pub fn opt_f64(&mut self, x: Option<f64>) {
        match x {
            Some(x) => self.f64(x),
            None => self.null(),
        }
    }

    /// Any other value, through `serde_json` at the current depth.
    pub fn value<T: Serialize + ?Sized>(&mut self, v: &T) -> io::Result<()> {
        let mut ser = serde_json::Serializer::with_formatter(
            &mut self.buf,
            PrettyAt {
                depth: self.depth,
                has_value: false,
            },
        );
        v.serialize(&mut ser).map_err(io::Error::other)
    }
}

/// Spaces for indents.
const SPACES: &[u8; 32] = b"                                ";

/// A member's or element's lead: `,\n` and an indent of up to 15 levels.
const LEAD: &[u8; 32] = b",\n                              ";

const UU: u8 = b'u';
const BB: u8 = b'b';
const TT: u8 = b't';
const NN: u8 = b'n';
const FF: u8 = b'f';
const RR: u8 = b'r';
const QU: u8 = b'"';
const BS: u8 = b'\\';

/// `serde_json`'s escapes: what follows the backslash for the bytes that need one (0: none).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = UU;
        i += 1;
    }
    t[0x08] = BB;
    t[0x09] = TT;
    t[0x0a] = NN;
    t[0x0c] = FF;
    t[0x0d] = RR;
    t[b'"' as usize] = QU;
    t[b'\\' as usize] = BS;
    t
};

/// The index of the first byte of `s` that JSON must escape, eight bytes at a time.
fn first_escape(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut i = 0;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let v = u64::from_le_bytes(w);
        // Some byte below 0x20 (the "hasless" bit trick: exact about whether there is one,
        // not always about which), a quote or a backslash; the bytes then say which.
        let low = v.wrapping_sub(ONES * 0x20) & !v & HIGHS;
        let quote = has_zero(v ^ (ONES * u64::from(b'"')));
        let slash = has_zero(v ^ (ONES * u64::from(b'\\')));
        if low | quote | slash != 0 {
            return c
                .iter()
                .position(|&b| ESCAPE[usize::from(b)] != 0)
                .map(|p| i + p)
                .or_else(|| first_escape(&s[i + 8..]).map(|p| i + 8 + p));
        }
        i += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| ESCAPE[usize::from(b)] != 0)
        .map(|p| i + p)
}

/// Appends `s` (UTF-8) as a quoted, escaped JSON string.
fn escape_into(buf: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.push(b'"');
    let mut start = 0;
    while let Some(at) = first_escape(&s[start..]) {
        let i = start + at;
        let b = s[i];
        let esc = ESCAPE[usize::from(b)];
        buf.extend_from_slice(&s[start..i]);
        if esc == UU {
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX[usize::from(b >> 4)]);
            buf.push(HEX[usize::from(b & 0xf)]);
        } else {
            buf.push(b'\\');
            buf.push(esc);
        }
        start = i + 1;
    }
    buf.extend_from_slice(&s[start..]);
    buf.push(b'"');
}

/// `serde_json`'s `PrettyFormatter` (two spaces) starting at `depth` levels of indent.
struct PrettyAt {
    depth: usize,
    has_value: bool,
}

impl PrettyAt {
    fn indent<W: ?Sized + io::Write>(&self, w: &mut W) -> io::Result<()> {
        for _ in 0..self.depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }
}

impl Formatter for PrettyAt {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            w.write_all(b"\n")?;
            self.indent(w)?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(w)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            w.write_all(b"\n")?;
            self.indent(w)?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(w)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_as_serde_json_does() {
        let all: String = (0u8..0x80).map(char::from).chain("é€😀".chars()).collect();
        let mut p = Pretty::at(0);
        p.str(&all);
        assert_eq!(p.buf, serde_json::to_vec(&all).unwrap());
        let mut q = Pretty::at(0);
        q.str_with(|b| b.extend_from_slice(all.as_bytes()));
        assert_eq!(q.buf, p.buf);
    }

    #[test]
    fn nesting_and_numbers_match_to_writer_pretty() {
        #[derive(Serialize)]
        struct Inner {
            a: Vec<u32>,
            b: Vec<u32>,
            c: f64,
        }
        let v = vec![Inner {
            a: vec![],
            b: vec![1, 2],
            c: 0.1 + 0.2,
        }];
        let want = serde_json::to_vec_pretty(&serde_json::json!({ "x": v, "y": -1.0, "z": null }))
            .unwrap();
        let mut p = Pretty::at(0);
        p.open_object();
        p.key("x");
        p.value(&v).unwrap();
        p.key("y");
        p.f64(-1.0);
        p.key("z");
        p.opt_u64(None);
        p.close_object();
        assert_eq!(
            String::from_utf8(p.buf).unwrap(),
            String::from_utf8(want).unwrap()
        );
        let mut e = Pretty::at(0);
        e.open_array();
        e.close_array();
        assert_eq!(e.buf, b"[]");
    }

    #[test]
    fn deep_nesting_indents_as_serde_json() {
        let mut want = serde_json::json!([1, 2]);
        for _ in 0..20 {
            want = serde_json::json!([want, 3]);
        }
        fn write(p: &mut Pretty, v: &serde_json::Value) {
            match v {
                serde_json::Value::Array(items) => {
                    p.open_array();
                    for i in items {
                        p.item();
                        write(p, i);
                    }
                    p.close_array();
                }
                serde_json::Value::Number(n) => p.u64(n.as_u64().unwrap()),
                _ => unreachable!(),
            }
        }
        let mut p = Pretty::at(0);
        write(&mut p, &want);
        assert_eq!(
            String::from_utf8(p.buf).unwrap(),
            serde_json::to_string_pretty(&want).unwrap()
        );
    }
}
