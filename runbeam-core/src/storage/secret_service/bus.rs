//! A blocking connection to the D-Bus session bus: its address, the EXTERNAL authentication,
//! method calls and the signals a Secret Service prompt answers with. One connection per store,
//! used by one thread at a time (the store's lock); every read and write has a deadline (the
//! socket's timeouts), so a daemon that stops answering costs an error, never a thread forever.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::wire::{self, Call, Message, WireError};

/// How long one read or write on the bus may wait (a prompt waits in several such reads).
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Signals kept while a call waits for its answer (the rest are dropped, oldest first).
const MAX_QUEUED_SIGNALS: usize = 64;

/// What went wrong on the bus.
#[derive(Debug)]
pub(crate) enum BusError {
    /// No session bus to connect to, or the connection broke: the service is unreachable.
    Unreachable(String),
    /// The peer broke the protocol.
    Protocol(String),
    /// An error reply: its D-Bus error name and message.
    Reply { name: String, message: String },
}

impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BusError::Unreachable(why) => write!(f, "the D-Bus session bus is unreachable: {why}"),
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
    move |e| BusError::Unreachable(format!("{what}: {e}"))
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

/// A connection to the session bus, authenticated and registered (`Hello`).
pub(crate) struct Bus {
    stream: UnixStream,
    serial: u32,
    signals: VecDeque<Message>,
}

impl Bus {
    /// Connects to the first session bus address that answers.
    pub(crate) fn session() -> Result<Bus, BusError> {
        let mut last = None;
        for address in session_addresses()? {
            match Bus::connect(&address) {
                Ok(bus) => return Ok(bus),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| BusError::Unreachable("no address".into())))
    }

    fn connect(address: &Address) -> Result<Bus, BusError> {
        let stream = match address {
            Address::Path(path) => UnixStream::connect(path).map_err(io(path))?,
            Address::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt as _;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                    .map_err(io(name))?;
                UnixStream::connect_addr(&addr).map_err(io(name))?
            }
        };
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(io("setting the socket's timeouts"))?;
        let mut bus = Bus {
            stream,
            serial: 0,
            signals: VecDeque::new(),
        };
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

    /// SASL EXTERNAL with this process's effective user id (what every D-Bus client does).
    fn authenticate(&mut self) -> Result<(), BusError> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        let hex: String = uid
            .to_string()
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.stream
            .write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes())
            .map_err(io("authenticating"))?;
        let line = self.auth_line()?;
        if !line.starts_with("OK ") {
            return Err(BusError::Unreachable(format!(
                "the bus refused EXTERNAL authentication ({})",
                line.chars().take(80).collect::<String>()
            )));
        }
        self.stream
            .write_all(b"BEGIN\r\n")
            .map_err(io("authenticating"))
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

    /// Calls a method and waits for its answer: the reply, or its error as
    /// [`BusError::Reply`]. Signals that arrive meanwhile are kept for [`Bus::signal`].
    pub(crate) fn call(&mut self, call: &Call<'_>) -> Result<Message, BusError> {
        self.serial = self.serial.checked_add(1).unwrap_or(1);
        let serial = self.serial;
        let bytes = wire::method_call(serial, call);
        if bytes.len() > wire::MAX_MESSAGE {
            return Err(BusError::Protocol("call too large".into()));
        }
        self.stream
            .write_all(&bytes)
            .map_err(io("writing to the bus"))?;
        loop {
            let m = self.read()?;
            match m.kind {
                wire::METHOD_RETURN if m.reply_serial == Some(serial) => return Ok(m),
                wire::ERROR if m.reply_serial == Some(serial) => {
                    return Err(BusError::Reply {
                        message: m.error_text().to_string(),
                        name: m.error_name.unwrap_or_default(),
                    });
                }
                wire::SIGNAL => {
                    if self.signals.len() == MAX_QUEUED_SIGNALS {
                        self.signals.pop_front();
                    }
                    self.signals.push_back(m);
                }
                _ => {} // another call's answer, or a call to us: not ours to answer
            }
        }
    }

    /// Waits for a signal `member` of `interface` from the object `path` (one kept by an
    /// earlier call first).
    pub(crate) fn signal(
        &mut self,
        path: &str,
        interface: &str,
        member: &str,
    ) -> Result<Message, BusError> {
        let wanted = |m: &Message| {
            m.path.as_deref() == Some(path)
                && m.interface.as_deref() == Some(interface)
                && m.member.as_deref() == Some(member)
        };
        let kept = self.signals.iter().position(wanted);
        if let Some(m) = kept.and_then(|at| self.signals.remove(at)) {
            return Ok(m);
        }
        loop {
            let m = self.read()?;
            if m.kind == wire::SIGNAL && wanted(&m) {
                return Ok(m);
            }
        }
    }

    /// Reads one message.
    fn read(&mut self) -> Result<Message, BusError> {
        let mut fixed = [0u8; 16];
        self.stream
            .read_exact(&mut fixed)
            .map_err(io("reading from the bus"))?;
        let len = wire::message_len(&fixed)?;
        let mut bytes = vec![0u8; len];
        bytes[..16].copy_from_slice(&fixed);
        self.stream
            .read_exact(&mut bytes[16..])
            .map_err(io("reading from the bus"))?;
        Ok(wire::read_message(&bytes)?)
    }
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
