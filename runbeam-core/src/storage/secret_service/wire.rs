//! The D-Bus wire format (the D-Bus specification, "Message Protocol"): what the Secret Service
//! client writes, and a reader of what the bus sends back.
//!
//! Every byte read here comes from another process (the bus daemon, the Secret Service daemon,
//! or any process of the user that sends to our connection), so the reader is total: any input
//! gives a [`Message`] or a [`WireError`], never a panic. The limits are the specification's
//! (signatures of at most 255 bytes, 32 nested arrays and 32 nested structures, 64 containers
//! in all) plus ours: a message of at most [`MAX_MESSAGE`] bytes, and at most one value per two
//! of its bytes, so what the reader allocates stays within ~16 times the message's length.

use std::fmt;

/// The largest message read or written (a Secret Service answer is a few kilobytes).
pub(crate) const MAX_MESSAGE: usize = 1 << 20;
/// The specification's largest message: [`message_len`] refuses more (a longer one that is
/// not too long for the specification is read past, not parsed).
const SPEC_MAX_MESSAGE: usize = 128 << 20;
const MAX_SIGNATURE: usize = 255;
const MAX_ARRAY_DEPTH: usize = 32;
const MAX_STRUCT_DEPTH: usize = 32;
const MAX_DEPTH: usize = 64;

/// Message types.
pub(crate) const METHOD_CALL: u8 = 1;
pub(crate) const METHOD_RETURN: u8 = 2;
pub(crate) const ERROR: u8 = 3;
pub(crate) const SIGNAL: u8 = 4;

/// A message that breaks the wire format (or one of the limits above).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError(pub(crate) String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed D-Bus message: {}", self.0)
    }
}

impl std::error::Error for WireError {}

fn bad<T>(what: impl Into<String>) -> Result<T, WireError> {
    Err(WireError(what.into()))
}

/// A value read from a message, shaped by its signature.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Byte(u8),
    Bool(bool),
    /// Every other fixed-size integer (`n q i u x t h`), widened.
    Int(i128),
    /// `d`, as its bits.
    Double(u64),
    Str(String),
    Path(String),
    Signature(String),
    /// `ay`, kept as bytes.
    Bytes(Vec<u8>),
    /// Any other array; a dictionary's entries are [`Value::Entry`].
    Array(Vec<Value>),
    Struct(Vec<Value>),
    Entry(Box<Value>, Box<Value>),
    Variant(Box<Value>),
}

impl Value {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Signature(s) => Some(s),
            Value::Variant(inner) => inner.as_str(),
            _ => None,
        }
    }

    /// An object path (`o`) only.
    pub(crate) fn as_path(&self) -> Option<&str> {
        match self {
            Value::Path(p) => Some(p),
            Value::Variant(inner) => inner.as_path(),
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Variant(inner) => inner.as_bool(),
            _ => None,
        }
    }

    pub(crate) fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            Value::Variant(inner) => inner.as_bytes(),
            _ => None,
        }
    }

    /// The object paths of an `ao` (an empty array is `ay`-less, so also `Array`).
    pub(crate) fn as_paths(&self) -> Option<Vec<String>> {
        match self {
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::Path(p) => Some(p.clone()),
                    _ => None,
                })
                .collect(),
            Value::Variant(inner) => inner.as_paths(),
            _ => None,
        }
    }

    pub(crate) fn as_fields(&self) -> Option<&[Value]> {
        match self {
            Value::Struct(fields) => Some(fields),
            Value::Variant(inner) => inner.as_fields(),
            _ => None,
        }
    }

    /// The pairs of an `a{ss}`.
    #[cfg(test)]
    pub(crate) fn as_string_map(&self) -> Option<Vec<(String, String)>> {
        match self {
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::Entry(k, v) => Some((k.as_str()?.to_string(), v.as_str()?.to_string())),
                    _ => None,
                })
                .collect(),
            Value::Variant(inner) => inner.as_string_map(),
            _ => None,
        }
    }
}

/// A message's header: what the connection needs to decide whether to read its body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Header {
    pub(crate) kind: u8,
    pub(crate) serial: u32,
    pub(crate) reply_serial: Option<u32>,
    pub(crate) path: Option<String>,
    pub(crate) interface: Option<String>,
    pub(crate) member: Option<String>,
    pub(crate) error_name: Option<String>,
    /// The sending connection's unique name (set by the bus daemon).
    pub(crate) sender: Option<String>,
    signature: String,
    body_start: usize,
}

/// A message read from the bus.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    pub(crate) header: Header,
    pub(crate) body: Vec<Value>,
}

impl Message {
    /// The first string of an error's body (its human-readable message), if any.
    pub(crate) fn error_text(&self) -> &str {
        self.body.first().and_then(Value::as_str).unwrap_or("")
    }
}

/// The length of the message whose first 16 bytes are `fixed`: how much to read in all (at
/// most the specification's 128 MiB; [`read_header`] refuses more than [`MAX_MESSAGE`]).
pub(crate) fn message_len(fixed: &[u8; 16]) -> Result<usize, WireError> {
    let little = match fixed[0] {
        b'l' => true,
        b'B' => false,
        _ => return bad("unknown byte order"),
    };
    let word = |at: usize| {
        let b = [fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]];
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let body = word(4) as usize;
    let fields = word(12) as usize;
    let total = 16usize
        .checked_add(fields)
        .and_then(|n| n.checked_next_multiple_of(8))
        .and_then(|n| n.checked_add(body))
        .filter(|&n| n <= SPEC_MAX_MESSAGE);
    match total {
        Some(n) => Ok(n),
        None => bad("longer than the specification's 128 MiB"),
    }
}

/// Reads a whole message (as [`message_len`] sized it), header and body (what the fuzz target
/// and the property tests drive; the connection reads a body only when it wants it).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn read_message(bytes: &[u8]) -> Result<Message, WireError> {
    let header = read_header(bytes)?;
    let body = read_body(bytes, &header)?;
    Ok(Message { header, body })
}

fn reader(bytes: &[u8]) -> Reader<'_> {
    Reader {
        bytes,
        pos: 0,
        little: bytes.first() == Some(&b'l'),
        depth: 0,
        // A value costs a `Value` (32 bytes) and no input byte at all when it is a structure:
        // this bounds what a message can make the reader allocate to ~16 times its length.
        budget: bytes.len() / 2 + 16,
    }
}

/// Reads a message's header (the body is checked only for its length).
pub(crate) fn read_header(bytes: &[u8]) -> Result<Header, WireError> {
    let Some(fixed) = bytes.first_chunk::<16>() else {
        return bad("shorter than its fixed header");
    };
    if message_len(fixed)? != bytes.len() {
        return bad("its length disagrees with its header");
    }
    if bytes.len() > MAX_MESSAGE {
        return bad(format!("longer than {MAX_MESSAGE} bytes"));
    }
    let mut r = reader(bytes);
    r.pos = 1;
    let kind = r.byte()?;
    let _flags = r.byte()?;
    if r.byte()? != 1 {
        return bad("protocol version is not 1");
    }
    let body_len = r.u32()? as usize;
    let serial = r.u32()?;
    if serial == 0 {
        return bad("serial 0");
    }
    let fields = r.value(b"a(yv)")?;
    let mut h = Header {
        kind,
        serial,
        reply_serial: None,
        path: None,
        interface: None,
        member: None,
        error_name: None,
        sender: None,
        signature: String::new(),
        body_start: 0,
    };
    let Value::Array(fields) = fields else {
        return bad("header fields are not an array");
    };
    for field in fields {
        let Some([Value::Byte(code), Value::Variant(v)]) = field.as_fields() else {
            return bad("a header field is not (yv)");
        };
        let text = || v.as_str().map(str::to_string);
        match (code, v.as_ref()) {
            (1, Value::Path(p)) => h.path = Some(p.clone()),
            (2, Value::Str(_)) => h.interface = text(),
            (3, Value::Str(_)) => h.member = text(),
            (4, Value::Str(_)) => h.error_name = text(),
            (5, Value::Int(n)) => h.reply_serial = u32::try_from(*n).ok(),
            (6, Value::Str(_)) => {}
            (7, Value::Str(_)) => h.sender = text(),
            (8, Value::Signature(s)) => h.signature = s.clone(),
            (9, Value::Int(_)) => {}
            (1..=9, _) => return bad(format!("header field {code} has the wrong type")),
            _ => {} // unknown fields are ignored (the specification says so)
        }
    }
    r.align(8)?;
    if bytes.len() - r.pos != body_len {
        return bad("its body length disagrees with its header");
    }
    h.body_start = r.pos;
    let missing = match kind {
        METHOD_CALL => h.path.is_none() || h.member.is_none(),
        METHOD_RETURN => h.reply_serial.is_none(),
        ERROR => h.reply_serial.is_none() || h.error_name.is_none(),
        SIGNAL => h.path.is_none() || h.interface.is_none() || h.member.is_none(),
        _ => false, // unknown types are ignored by the caller
    };
    if missing {
        return bad("a required header field is missing");
    }
    Ok(h)
}

/// Reads the body of the message `bytes` whose header is `header`.
pub(crate) fn read_body(bytes: &[u8], header: &Header) -> Result<Vec<Value>, WireError> {
    let mut r = reader(bytes);
    r.pos = header.body_start;
    let sig = header.signature.as_bytes();
    let mut body = Vec::new();
    let mut at = 0;
    while at < sig.len() {
        let end = single_type_end(sig, at)?;
        body.push(r.value(sig.get(at..end).unwrap_or_default())?);
        at = end;
    }
    if r.pos != bytes.len() {
        return bad("bytes left after its body");
    }
    Ok(body)
}

/// The end of the single complete type starting at `at` of `sig`, checking it (and the
/// signature's length and nesting limits).
fn single_type_end(sig: &[u8], at: usize) -> Result<usize, WireError> {
    if sig.len() > MAX_SIGNATURE {
        return bad("signature longer than 255 bytes");
    }
    type_end(sig, at, 0, 0)
}

fn type_end(sig: &[u8], at: usize, arrays: usize, structs: usize) -> Result<usize, WireError> {
    if arrays > MAX_ARRAY_DEPTH || structs > MAX_STRUCT_DEPTH {
        return bad("signature nested too deeply");
    }
    match sig.get(at) {
        Some(
            b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b'h' | b's' | b'o'
            | b'g' | b'v',
        ) => Ok(at + 1),
        Some(b'a') => match sig.get(at + 1) {
            Some(b'{') => {
                if !matches!(
                    sig.get(at + 2),
                    Some(
                        b'y' | b'b'
                            | b'n'
                            | b'q'
                            | b'i'
                            | b'u'
                            | b'x'
                            | b't'
                            | b'd'
                            | b'h'
                            | b's'
                            | b'o'
                            | b'g'
                    )
                ) {
                    return bad("dictionary key is not a basic type");
                }
                let end = type_end(sig, at + 3, arrays + 1, structs + 1)?;
                if sig.get(end) != Some(&b'}') {
                    return bad("dictionary entry is not two types");
                }
                Ok(end + 1)
            }
            _ => type_end(sig, at + 1, arrays + 1, structs),
        },
        Some(b'(') => {
            let mut end = at + 1;
            if sig.get(end) == Some(&b')') {
                return bad("empty structure");
            }
            while sig.get(end) != Some(&b')') {
                end = type_end(sig, end, arrays, structs + 1)?;
            }
            Ok(end + 1)
        }
        Some(c) => bad(format!("unknown type code {:?}", char::from(*c))),
        None => bad("signature ends inside a type"),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    little: bool,
    depth: usize,
    /// Values left to read (see [`reader`]).
    budget: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], WireError> {
        let Some(chunk) = self
            .pos
            .checked_add(n)
            .and_then(|end| self.bytes.get(self.pos..end))
        else {
            return bad("truncated");
        };
        self.pos += n;
        Ok(chunk)
    }

    fn align(&mut self, n: usize) -> Result<(), WireError> {
        let pad = self.pos.next_multiple_of(n) - self.pos;
        self.take(pad).map(drop)
    }

    fn byte(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        self.align(N)?;
        let mut b = [0; N];
        b.copy_from_slice(self.take(N)?);
        if self.little {
            b.reverse();
        }
        Ok(b) // big-endian from here on
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.fixed()?))
    }

    fn text(&mut self, len: usize) -> Result<String, WireError> {
        let bytes = self.take(len)?;
        let text =
            std::str::from_utf8(bytes).map_err(|_| WireError("string is not UTF-8".into()))?;
        if text.contains('\0') {
            return bad("string holds a NUL");
        }
        let text = text.to_string();
        if self.byte()? != 0 {
            return bad("string is not NUL-terminated");
        }
        Ok(text)
    }

    /// Reads one value of the single complete type `sig`.
    fn value(&mut self, sig: &[u8]) -> Result<Value, WireError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return bad("values nested too deeply");
        }
        let Some(budget) = self.budget.checked_sub(1) else {
            return bad("more values than its length allows");
        };
        self.budget = budget;
        let value = self.value_inner(sig);
        self.depth -= 1;
        value
    }

    fn value_inner(&mut self, sig: &[u8]) -> Result<Value, WireError> {
        let Some(&code) = sig.first() else {
            return bad("empty type");
        };
        Ok(match code {
            b'y' => Value::Byte(self.byte()?),
            b'b' => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => return bad(format!("boolean {n}")),
            },
            b'n' => Value::Int(i16::from_be_bytes(self.fixed()?).into()),
            b'q' => Value::Int(u16::from_be_bytes(self.fixed()?).into()),
            b'i' => Value::Int(i32::from_be_bytes(self.fixed()?).into()),
            b'u' | b'h' => Value::Int(self.u32()?.into()),
            b'x' => Value::Int(i64::from_be_bytes(self.fixed()?).into()),
            b't' => Value::Int(u64::from_be_bytes(self.fixed()?).into()),
            b'd' => Value::Double(u64::from_be_bytes(self.fixed()?)),
            b's' => {
                let len = self.u32()? as usize;
                Value::Str(self.text(len)?)
            }
            b'o' => {
                let len = self.u32()? as usize;
                let path = self.text(len)?;
                if !is_object_path(&path) {
                    return bad("invalid object path");
                }
                Value::Path(path)
            }
            b'g' => Value::Signature(self.signature()?),
            b'v' => {
                let sig = self.signature()?;
                let bytes = sig.as_bytes();
                if bytes.is_empty() || single_type_end(bytes, 0)? != bytes.len() {
                    return bad("variant signature is not one complete type");
                }
                Value::Variant(Box::new(self.value(bytes)?))
            }
            b'a' => self.array(sig.get(1..).unwrap_or_default())?,
            b'(' => {
                self.align(8)?;
                let inner = sig.get(1..sig.len().saturating_sub(1)).unwrap_or_default();
                let mut fields = Vec::new();
                let mut at = 0;
                while at < inner.len() {
                    let end = type_end(inner, at, 0, 0)?;
                    fields.push(self.value(inner.get(at..end).unwrap_or_default())?);
                    at = end;
                }
                Value::Struct(fields)
            }
            c => return bad(format!("unknown type code {:?}", char::from(c))),
        })
    }

    fn signature(&mut self) -> Result<String, WireError> {
        let len = usize::from(self.byte()?);
        let sig = self.text(len)?;
        let bytes = sig.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            at = single_type_end(bytes, at)?;
        }
        Ok(sig)
    }

    /// An array whose element type is `element` (for a dictionary, `{kv}`).
    fn array(&mut self, element: &[u8]) -> Result<Value, WireError> {
        let len = self.u32()? as usize;
        if len > 64 << 20 {
            return bad("array longer than 64 MiB");
        }
        let dict = element.first() == Some(&b'{');
        self.align(if dict { 8 } else { alignment(element) })?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len());
        let Some(end) = end else {
            return bad("array longer than the message");
        };
        if element == b"y" {
            return Ok(Value::Bytes(self.take(len)?.to_vec()));
        }
        let mut items = Vec::new();
        while self.pos < end {
            if dict {
                self.align(8)?;
                let inner = element
                    .get(1..element.len().saturating_sub(1))
                    .unwrap_or_default();
                let key_end = type_end(inner, 0, 0, 0)?;
                let (key, value) = inner.split_at_checked(key_end).unwrap_or_default();
                let key = self.value(key)?;
                let value = self.value(value)?;
                items.push(Value::Entry(Box::new(key), Box::new(value)));
            } else {
                items.push(self.value(element)?);
            }
        }
        if self.pos != end {
            return bad("array elements overrun its length");
        }
        Ok(Value::Array(items))
    }
}

fn alignment(sig: &[u8]) -> usize {
    match sig.first() {
        Some(b'y' | b'g' | b'v') => 1,
        Some(b'n' | b'q') => 2,
        Some(b'b' | b'i' | b'u' | b'h' | b's' | b'o' | b'a') => 4,
        _ => 8, // x t d ( {
    }
}

/// An object path: `/`, or `/` followed by non-empty elements of `[A-Za-z0-9_]` separated by `/`.
pub(crate) fn is_object_path(path: &str) -> bool {
    path == "/"
        || path.strip_prefix('/').is_some_and(|rest| {
            rest.split('/').all(|element| {
                !element.is_empty()
                    && element
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
        })
}

/// Writes a body (or a message), little-endian, aligned from its start.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) bytes: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, n: usize) {
        let len = self.bytes.len().next_multiple_of(n);
        self.bytes.resize(len, 0);
    }

    pub(crate) fn byte(&mut self, b: u8) {
        self.bytes.push(b);
    }

    pub(crate) fn u32(&mut self, n: u32) {
        self.pad(4);
        self.bytes.extend_from_slice(&n.to_le_bytes());
    }

    pub(crate) fn bool(&mut self, b: bool) {
        self.u32(u32::from(b));
    }

    /// A string or object path (`s`, `o`).
    pub(crate) fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
    }

    pub(crate) fn signature(&mut self, s: &str) {
        self.bytes.push(s.len() as u8);
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.bytes.extend_from_slice(b);
    }

    /// A structure or dictionary entry: aligned to 8, then `fields`.
    pub(crate) fn structure(&mut self, fields: impl FnOnce(&mut Writer)) {
        self.pad(8);
        fields(self);
    }

    /// An array whose elements align to `align` (8 for structures and dictionary entries).
    pub(crate) fn array(&mut self, align: usize, elements: impl FnOnce(&mut Writer)) {
        self.pad(4);
        let at = self.bytes.len();
        self.bytes.extend_from_slice(&[0; 4]);
        self.pad(align);
        let start = self.bytes.len();
        elements(self);
        let len = (self.bytes.len() - start) as u32;
        self.bytes[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }

    /// An `a{ss}`.
    pub(crate) fn string_map(&mut self, pairs: &[(&str, &str)]) {
        self.array(8, |w| {
            for (k, v) in pairs {
                w.structure(|w| {
                    w.str(k);
                    w.str(v);
                });
            }
        });
    }
}

/// A method call to write.
pub(crate) struct Call<'a> {
    pub(crate) destination: &'a str,
    pub(crate) path: &'a str,
    pub(crate) interface: &'a str,
    pub(crate) member: &'a str,
    /// The body's signature and bytes (written by a [`Writer`] from offset 0).
    pub(crate) signature: &'a str,
    pub(crate) body: Vec<u8>,
}

/// A method call message, serial `serial`.
pub(crate) fn method_call(serial: u32, call: &Call<'_>) -> Vec<u8> {
    let mut w = Writer::default();
    w.byte(b'l');
    w.byte(METHOD_CALL);
    w.byte(0);
    w.byte(1);
    w.u32(call.body.len() as u32);
    w.u32(serial);
    w.array(8, |w| {
        let mut field = |code: u8, sig: &str, value: &str| {
            w.structure(|w| {
                w.byte(code);
                w.signature(sig);
                if sig == "g" {
                    w.signature(value);
                } else {
                    w.str(value);
                }
            });
        };
        field(1, "o", call.path);
        field(2, "s", call.interface);
        field(3, "s", call.member);
        field(6, "s", call.destination);
        if !call.signature.is_empty() {
            field(8, "g", call.signature);
        }
    });
    w.pad(8);
    w.bytes.extend_from_slice(&call.body);
    w.bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(serial: u32, signature: &str, body: Vec<u8>) -> Vec<u8> {
        // A method return built with the call writer's layout, then its type byte and fields
        // patched: REPLY_SERIAL (5) instead of PATH.
        let mut w = Writer::default();
        w.byte(b'l');
        w.byte(METHOD_RETURN);
        w.byte(0);
        w.byte(1);
        w.u32(body.len() as u32);
        w.u32(serial + 100);
        w.array(8, |w| {
            w.structure(|w| {
                w.byte(5);
                w.signature("u");
                w.u32(serial);
            });
            if !signature.is_empty() {
                w.structure(|w| {
                    w.byte(8);
                    w.signature("g");
                    w.signature(signature);
                });
            }
        });
        w.pad(8);
        w.bytes.extend_from_slice(&body);
        w.bytes
    }

    #[test]
    fn a_call_reads_back_with_its_fields_and_body() {
        let mut body = Writer::default();
        body.string_map(&[("service", "runbeam"), ("username", "gw/machine")]);
        let bytes = method_call(
            7,
            &Call {
                destination: "org.freedesktop.secrets",
                path: "/org/freedesktop/secrets",
                interface: "org.freedesktop.Secret.Service",
                member: "SearchItems",
                signature: "a{ss}",
                body: body.bytes,
            },
        );
        let fixed: &[u8; 16] = bytes.first_chunk().unwrap();
        assert_eq!(message_len(fixed).unwrap(), bytes.len());
        let m = read_message(&bytes).unwrap();
        assert_eq!((m.header.kind, m.header.serial), (METHOD_CALL, 7));
        assert_eq!(m.header.member.as_deref(), Some("SearchItems"));
        assert_eq!(m.header.path.as_deref(), Some("/org/freedesktop/secrets"));
        assert_eq!(
            m.body[0].as_string_map().unwrap(),
            vec![
                ("service".to_string(), "runbeam".to_string()),
                ("username".to_string(), "gw/machine".to_string())
            ]
        );
    }

    #[test]
    fn a_reply_of_structures_arrays_and_variants_reads_back() {
        let mut body = Writer::default();
        // (oayays) then ao then v(b)
        body.structure(|w| {
            w.str("/org/freedesktop/secrets/session/s1");
            w.bytes(&[1, 2, 3]);
            w.bytes(b"ciphertext");
            w.str("text/plain");
        });
        body.array(4, |w| {
            w.str("/a/b");
            w.str("/c");
        });
        body.signature("b");
        body.bool(true);
        let m = read_message(&reply(3, "(oayays)aov", body.bytes)).unwrap();
        assert_eq!(m.header.reply_serial, Some(3));
        let secret = m.body[0].as_fields().unwrap();
        assert_eq!(secret[1].as_bytes(), Some(&[1u8, 2, 3][..]));
        assert_eq!(secret[3].as_str(), Some("text/plain"));
        assert_eq!(m.body[1].as_paths().unwrap(), vec!["/a/b", "/c"]);
        assert_eq!(m.body[2].as_bool(), Some(true));
    }

    #[test]
    fn big_endian_messages_are_read() {
        // A method return, big-endian, body "s" = "hi", reply serial 9.
        let mut m = vec![b'B', METHOD_RETURN, 0, 1, 0, 0, 0, 7, 0, 0, 0, 1];
        let fields: Vec<u8> = [
            &[5u8, 1, b'u', 0, 0, 0, 0, 9][..],
            &[8, 1, b'g', 0, 1, b's', 0],
        ]
        .concat();
        m.extend_from_slice(&(fields.len() as u32).to_be_bytes());
        m.extend_from_slice(&fields);
        m.resize(m.len().next_multiple_of(8), 0);
        m.extend_from_slice(&[0, 0, 0, 2, b'h', b'i', 0]);
        let read = read_message(&m).unwrap();
        assert_eq!(read.header.reply_serial, Some(9));
        assert_eq!(read.body[0].as_str(), Some("hi"));
    }

    #[test]
    fn hostile_messages_are_errors() {
        let good = reply(1, "s", {
            let mut w = Writer::default();
            w.str("x");
            w.bytes
        });
        assert!(read_message(&good).is_ok());
        // Every truncation and every single-byte change is an error or a message, never a
        // panic (the property tests do this at random).
        for cut in 0..good.len() {
            assert!(read_message(&good[..cut]).is_err());
        }
        for at in 0..good.len() {
            for b in [0u8, 1, 0x7f, 0xff, b'a', b'(', b'{'] {
                let mut bad = good.clone();
                bad[at] = b;
                let _ = read_message(&bad);
            }
        }
        let fixed: [u8; 16] = [
            b'l', 2, 0, 1, 0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert!(message_len(&fixed).is_err());
    }

    /// The fuzz target's seeds (fuzz/make_seeds.py: what the Secret Service and the bus send)
    /// are read, and every one of them keeps its shape under random damage.
    fn seeds() -> Vec<Vec<u8>> {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/dbus_message");
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        seeds.sort();
        seeds
    }

    #[test]
    fn the_fuzz_seeds_are_messages() {
        let seeds = seeds();
        assert!(seeds.len() >= 6);
        for seed in &seeds {
            let m = read_message(seed).unwrap();
            assert!(matches!(m.header.kind, METHOD_RETURN | ERROR | SIGNAL));
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_are_a_message_or_an_error(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            crate::fuzzing::dbus_message(&bytes);
        }

        #[test]
        fn damaged_seeds_are_a_message_or_an_error(
            pick in 0usize..64,
            edits in proptest::collection::vec((0usize..512, proptest::prelude::any::<u8>()), 1..8),
            cut in proptest::option::of(0usize..512),
        ) {
            let seeds = seeds();
            let mut bytes = seeds[pick % seeds.len()].clone();
            for (at, b) in edits {
                let len = bytes.len();
                bytes[at % len] = b;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut);
            }
            crate::fuzzing::dbus_message(&bytes);
        }
    }

    #[test]
    fn values_that_take_no_bytes_are_bounded_by_the_length() {
        // Ten nested structures around one byte: 11 values per 8 bytes of body.
        let sig = format!("a{}y{}", "(".repeat(10), ")".repeat(10));
        let mut body = Writer::default();
        body.array(8, |w| {
            for _ in 0..1000 {
                w.structure(|w| w.byte(1));
            }
        });
        let e = read_message(&reply(1, &sig, body.bytes)).unwrap_err();
        assert!(e.0.contains("more values than its length allows"), "{e}");
    }

    #[test]
    fn signatures_are_checked() {
        for sig in ["a{ss}", "(oayays)", "aa{sv}", "v", "a(yv)"] {
            assert_eq!(single_type_end(sig.as_bytes(), 0), Ok(sig.len()), "{sig}");
        }
        for sig in ["a", "(", "()", "a{vs}", "a{s}", "a{sss}", "z", "(s"] {
            assert!(single_type_end(sig.as_bytes(), 0).is_err(), "{sig}");
        }
        let deep = format!("{}y", "a".repeat(40));
        assert!(single_type_end(deep.as_bytes(), 0).is_err());
    }

    #[test]
    fn object_paths_are_checked() {
        for p in ["/", "/a", "/org/freedesktop/secrets/collection/login/1"] {
            assert!(is_object_path(p), "{p}");
        }
        for p in ["", "a", "//", "/a/", "/a-b", "/é"] {
            assert!(!is_object_path(p), "{p}");
        }
    }
}
