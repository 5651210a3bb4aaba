//! A blocking connection to the D-Bus session bus: its address, the EXTERNAL authentication,
//! method calls and the signals a Secret Service prompt answers with. One connection per store,
//! used by one thread at a time (the store's lock). Each operation has one deadline that every
//! read and write counts against (the socket's timeouts set to what is left), so neither a
//! daemon that stops answering nor a peer that keeps sending costs more than an error.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::wire::{self, Call, Header, Message, WireError};

/// Watched signals kept while a call waits for its answer (the oldest dropped first).
const MAX_QUEUED_SIGNALS: usize = 8;

/// What went wrong on the bus.
#[derive(Debug)]
pub(crate) enum BusError {
    /// No session bus to connect to, or the connection broke: the service is unreachable.
    Unreachable(String),
    /// The operation's time ran out.
    TimedOut,
    /// The peer broke the protocol.
    Protocol(String),
    /// An error reply: its D-Bus error name and message.
    Reply { name: String, message: String },
}

impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BusError::Unreachable(why) => write!(f, "the D-Bus session bus is unreachable: {why}"),
            BusError::TimedOut => f.write_str("no answer on the D-Bus session bus in time"),
            BusError::Protocol(why) => write!(f, "the D-Bus session bus broke the protocol: {why}"),
            BusError::Reply { name, message } => write!(f, "{name}: {message}"),
        }
    }
}

impl std::error::Error for BusError {}

impl From<WireError> for BusError {
    fn from(e: WireError) -> Self {
        BusError::Protocol(e.to_string())
    }
}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> BusError + '_ {
    move |e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => BusError::TimedOut,
        _ => BusError::Unreachable(format!("{what}: {e}")),
    }
}

/// Where the session bus listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Address {
    Path(String),
    Abstract(String),
}

/// The session bus's addresses: `DBUS_SESSION_BUS_ADDRESS` (its `unix:path=` and
/// `unix:abstract=` entries, in order), else `$XDG_RUNTIME_DIR/bus` when it exists.
pub(crate) fn session_addresses() -> Result<Vec<Address>, BusError> {
    if let Some(value) = std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
        let Some(value) = value.to_str() else {
            return Err(BusError::Unreachable(
                "DBUS_SESSION_BUS_ADDRESS is not UTF-8".into(),
            ));
        };
        return parse_addresses(value);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        let path = std::path::Path::new(&dir).join("bus");
        if let (true, Some(path)) = (path.exists(), path.to_str()) {
            return Ok(vec![Address::Path(path.to_string())]);
        }
    }
    Err(BusError::Unreachable(
        "no session bus (DBUS_SESSION_BUS_ADDRESS is not set and there is no $XDG_RUNTIME_DIR/bus)"
            .into(),
    ))
}

/// Parses a server address list (`transport:key=value,...;...`, values percent-escaped); the
/// unix entries this client can connect to, in order.
pub(crate) fn parse_addresses(list: &str) -> Result<Vec<Address>, BusError> {
    let mut found = Vec::new();
    for entry in list.split(';').filter(|e| !e.is_empty()) {
        let Some(("unix", params)) = entry.split_once(':') else {
            continue;
        };
        for param in params.split(',') {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let value = unescape(value).ok_or_else(|| {
                BusError::Unreachable(format!(
                    "DBUS_SESSION_BUS_ADDRESS has a bad escape in '{key}'"
                ))
            })?;
            match key {
                "path" => found.push(Address::Path(value)),
                "abstract" => found.push(Address::Abstract(value)),
                _ => {}
            }
        }
    }
    if found.is_empty() {
        return Err(BusError::Unreachable(
            "DBUS_SESSION_BUS_ADDRESS names no unix:path= or unix:abstract= socket".into(),
        ));
    }
    Ok(found)
}

fn unescape(value: &str) -> Option<String> {
    let mut out = Vec::with_capacity(value.len());
    let mut bytes = value.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = char::from(bytes.next()?).to_digit(16)?;
            let lo = char::from(bytes.next()?).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// A signal a call is waiting for (a prompt's `Completed`): from `sender`, on `path`.
struct Watch {
    sender: String,
    path: String,
    interface: &'static str,
    member: &'static str,
}

impl Watch {
    fn matches(&self, h: &Header) -> bool {
        h.kind == wire::SIGNAL
            && h.sender.as_deref() == Some(self.sender.as_str())
            && h.path.as_deref() == Some(self.path.as_str())
            && h.interface.as_deref() == Some(self.interface)
            && h.member.as_deref() == Some(self.member)
    }
}

/// A connection to the session bus, authenticated and registered (`Hello`).
pub(crate) struct Bus {
    stream: UnixStream,
    serial: u32,
    /// When the current operation gives up (see [`Bus::begin`]).
    deadline: Instant,
    watch: Option<Watch>,
    /// Watched signals that arrived while a call waited for its answer.
    seen: VecDeque<Message>,
}

impl Bus {
    /// Connects to the first session bus address that answers, within `within`.
    pub(crate) fn session(within: Duration) -> Result<Bus, BusError> {
        let mut last = None;
        for address in session_addresses()? {
            match Bus::connect(&address, within) {
                Ok(bus) => return Ok(bus),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| BusError::Unreachable("no address".into())))
    }

    fn connect(address: &Address, within: Duration) -> Result<Bus, BusError> {
        let stream = match address {
            Address::Path(path) => UnixStream::connect(path).map_err(io(path))?,
            Address::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt as _;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                    .map_err(io(name))?;
                UnixStream::connect_addr(&addr).map_err(io(name))?
            }
        };
        let mut bus = Bus {
            stream,
            serial: 0,
            deadline: Instant::now(),
            watch: None,
            seen: VecDeque::new(),
        };
        bus.begin(within);
        bus.authenticate()?;
        bus.call(&Call {
            destination: "org.freedesktop.DBus",
            path: "/org/freedesktop/DBus",
            interface: "org.freedesktop.DBus",
            member: "Hello",
            signature: "",
            body: Vec::new(),
        })?;
        Ok(bus)
    }

    /// Starts an operation that must be done within `within`: every read and write after this
    /// fails once the time is up (however many unrelated messages arrive meanwhile).
    pub(crate) fn begin(&mut self, within: Duration) {
        self.deadline = Instant::now() + within;
        self.watch = None;
        self.seen.clear();
    }

    /// Sets the socket's timeouts to what is left of the operation's time.
    fn arm(&mut self) -> Result<(), BusError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(BusError::TimedOut);
        }
        self.stream
            .set_read_timeout(Some(left))
            .and_then(|()| self.stream.set_write_timeout(Some(left)))
            .map_err(io("setting the socket's timeouts"))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), BusError> {
        self.arm()?;
        self.stream
            .write_all(bytes)
            .map_err(io("writing to the session bus"))
    }

    /// SASL EXTERNAL with this process's effective user id (what every D-Bus client does).
    fn authenticate(&mut self) -> Result<(), BusError> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        let hex: String = uid
            .to_string()
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.write(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes())?;
        let line = self.auth_line()?;
        if !line.starts_with("OK ") {
            return Err(BusError::Unreachable(format!(
                "the bus refused EXTERNAL authentication ({})",
                printable(&line)
            )));
        }
        self.write(b"BEGIN\r\n")
    }

    /// One line of the authentication exchange (at most 512 bytes; nothing follows it until
    /// this side speaks again, so reading it byte by byte never takes a message's bytes).
    fn auth_line(&mut self) -> Result<String, BusError> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            if line.len() > 512 {
                return Err(BusError::Protocol("authentication line too long".into()));
            }
            self.arm()?;
            let n = self.stream.read(&mut byte).map_err(io("authenticating"))?;
            if n == 0 {
                return Err(BusError::Unreachable(
                    "the bus closed the connection while authenticating".into(),
                ));
            }
            line.push(byte[0]);
        }
        Ok(String::from_utf8_lossy(&line).trim_end().to_string())
    }

    /// From now on, the signal `member` of `interface` from `sender` on `path` is kept when it
    /// arrives during a call, for [`Bus::watched`]; every other signal is dropped unread.
    pub(crate) fn watch(
        &mut self,
        sender: &str,
        path: &str,
        interface: &'static str,
        member: &'static str,
    ) {
        self.watch = Some(Watch {
            sender: sender.to_string(),
            path: path.to_string(),
            interface,
            member,
        });
    }

    /// Calls a method and waits for its answer: the reply, or its error as
    /// [`BusError::Reply`].
    pub(crate) fn call(&mut self, call: &Call<'_>) -> Result<Message, BusError> {
        if !wire::is_object_path(call.path) {
            return Err(BusError::Protocol(format!(
                "'{}' is not an object path",
                printable(call.path)
            )));
        }
        self.serial = self.serial.checked_add(1).unwrap_or(1);
        let serial = self.serial;
        let bytes = wire::method_call(serial, call);
        if bytes.len() > wire::MAX_MESSAGE {
            return Err(BusError::Protocol("call too large".into()));
        }
        self.write(&bytes)?;
        loop {
            let Some(bytes) = self.read()? else {
                continue;
            };
            let header = wire::read_header(&bytes)?;
            let ours = header.reply_serial == Some(serial)
                && matches!(header.kind, wire::METHOD_RETURN | wire::ERROR);
            let watched = self.watch.as_ref().is_some_and(|w| w.matches(&header));
            if !ours && !watched {
                continue; // another call's answer, a call to us, a signal nobody waits for
            }
            let body = wire::read_body(&bytes, &header)?;
            let m = Message { header, body };
            if watched {
                if self.seen.len() == MAX_QUEUED_SIGNALS {
                    self.seen.pop_front();
                }
                self.seen.push_back(m);
            } else if m.header.kind == wire::ERROR {
                return Err(BusError::Reply {
                    name: printable(m.header.error_name.as_deref().unwrap_or_default()),
                    message: printable(m.error_text()),
                });
            } else {
                return Ok(m);
            }
        }
    }

    /// Waits for the watched signal (one that arrived during a call first).
    pub(crate) fn watched(&mut self) -> Result<Message, BusError> {
        if let Some(m) = self.seen.pop_front() {
            return Ok(m);
        }
        let Some(watch) = self.watch.take() else {
            return Err(BusError::Protocol("no signal is watched".into()));
        };
        let found = loop {
            let Some(bytes) = self.read()? else {
                continue;
            };
            let header = wire::read_header(&bytes)?;
            if watch.matches(&header) {
                let body = wire::read_body(&bytes, &header)?;
                break Message { header, body };
            }
        };
        self.watch = Some(watch);
        Ok(found)
    }

    /// Reads one message's bytes; `None` for one longer than [`wire::MAX_MESSAGE`], read past
    /// unparsed (nothing this client waits for is that long).
    fn read(&mut self) -> Result<Option<Vec<u8>>, BusError> {
        let mut fixed = [0u8; 16];
        self.arm()?;
        self.stream
            .read_exact(&mut fixed)
            .map_err(io("reading from the session bus"))?;
        let len = wire::message_len(&fixed)?;
        let rest = len.saturating_sub(fixed.len());
        if len > wire::MAX_MESSAGE {
            let mut skipped = 0;
            let mut chunk = [0u8; 8192];
            while skipped < rest {
                self.arm()?;
                let want = chunk.len().min(rest - skipped);
                let n = self
                    .stream
                    .read(&mut chunk[..want])
                    .map_err(io("reading from the session bus"))?;
                if n == 0 {
                    return Err(BusError::Unreachable(
                        "the session bus closed the connection".into(),
                    ));
                }
                skipped += n;
            }
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(len);
        bytes.extend_from_slice(&fixed);
        bytes.resize(len, 0);
        let mut at = fixed.len();
        while at < len {
            self.arm()?;
            let n = self
                .stream
                .read(&mut bytes[at..])
                .map_err(io("reading from the session bus"))?;
            if n == 0 {
                return Err(BusError::Unreachable(
                    "the session bus closed the connection".into(),
                ));
            }
            at += n;
        }
        Ok(Some(bytes))
    }
}

/// Text another process wrote, fit for an error message: at most 200 characters, control
/// characters escaped.
fn printable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(200)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(200).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_parsed_in_order_with_escapes() {
        assert_eq!(
            parse_addresses("unix:path=/run/user/1000/bus").unwrap(),
            vec![Address::Path("/run/user/1000/bus".into())]
        );
        assert_eq!(
            parse_addresses(
                "tcp:host=x,port=1;unix:abstract=/tmp/dbus-a%2cb,guid=00;unix:path=/p%20q"
            )
            .unwrap(),
            vec![
                Address::Abstract("/tmp/dbus-a,b".into()),
                Address::Path("/p q".into())
            ]
        );
    }

    #[test]
    fn unusable_addresses_are_errors() {
        for bad in [
            "",
            "tcp:host=x,port=1",
            "unix:path=%zz",
            "unix:path=%4",
            "unix:dir=/tmp",
        ] {
            assert!(parse_addresses(bad).is_err(), "{bad}");
        }
    }
}
