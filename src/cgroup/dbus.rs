//! Just enough of the D-Bus wire protocol for jail's one conversation with the systemd user
//! manager: authenticate, (on a bus) say Hello and subscribe to one signal, make calls, read
//! the answers. The manager's own socket takes the same protocol peer to peer.
//!
//! Why not a general client: the request is pipelined, so it costs one write and the bus's
//! single round trip, with no thread and no executor, right after the sandbox is cloned. A
//! general client authenticates, negotiates and calls in turns (five round trips before the
//! job even starts; 45 to 270 ms in the test VM) and starts threads.
//!
//! Encoding follows the specification's marshalling rules: little-endian, every value aligned
//! to its size from the message's start, arrays prefixed with their byte length (the padding
//! to the first element counted out even when empty), structs and dict entries on 8 bytes.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};

use crate::spec::limits::Prop;

/// A unit property's value goes on the wire as a variant of its own type.
fn signature(v: &Prop) -> &'static str {
    match v {
        Prop::U64(_) => "t",
        Prop::Bool(_) => "b",
        Prop::Str(_) => "s",
        Prop::Pids(_) => "au",
        Prop::Bytes(_) => "ay",
    }
}

/// A message body (or header) under construction. Offsets count from the message's start;
/// a body starts on an 8-byte boundary, so its alignment is the same counted from its own.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }

    pub fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.pad(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    fn signature(&mut self, s: &str) {
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    /// An array whose elements align on `align`, written by `elements`.
    pub fn array(&mut self, align: usize, elements: impl FnOnce(&mut Writer)) {
        self.pad(4);
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        self.pad(align);
        let start = self.buf.len();
        elements(self);
        let len = (self.buf.len() - start) as u32;
        self.buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }

    /// A struct or dict entry: aligned on 8.
    pub fn open_struct(&mut self) {
        self.pad(8);
    }

    pub fn variant(&mut self, v: &Prop) {
        self.signature(signature(v));
        match v {
            Prop::U64(n) => self.u64(*n),
            Prop::Bool(b) => self.u32(u32::from(*b)),
            Prop::Str(s) => self.str(s),
            Prop::Pids(v) => self.array(4, |w| v.iter().for_each(|n| w.u32(*n))),
            Prop::Bytes(b) => self.array(1, |w| w.buf.extend_from_slice(b)),
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;
const SIGNAL: u8 = 4;

/// One method call to `destination`, with `body` marshalled for `signature`.
pub struct Call<'a> {
    pub destination: &'a str,
    pub path: &'a str,
    pub interface: &'a str,
    pub member: &'a str,
    pub signature: &'a str,
    pub body: Vec<u8>,
}

impl Call<'_> {
    fn encode(&self, serial: u32) -> Vec<u8> {
        let mut w = Writer::default();
        w.buf.extend_from_slice(&[b'l', METHOD_CALL, 0, 1]);
        w.u32(self.body.len() as u32);
        w.u32(serial);
        // Header fields: a(yv) of (code, value).
        let field = |w: &mut Writer, code: u8, sig: &str, value: &str| {
            w.open_struct();
            w.buf.push(code);
            w.signature(sig);
            if sig == "g" {
                w.signature(value);
            } else {
                w.str(value);
            }
        };
        w.array(8, |w| {
            field(w, 1, "o", self.path);
            field(w, 2, "s", self.interface);
            field(w, 3, "s", self.member);
            field(w, 6, "s", self.destination);
            if !self.signature.is_empty() {
                field(w, 8, "g", self.signature);
            }
        });
        w.pad(8);
        w.buf.extend_from_slice(&self.body);
        w.buf
    }
}

/// A message received: its kind, the header fields jail uses, and the body.
#[derive(Debug)]
pub struct Message {
    kind: u8,
    pub reply_serial: Option<u32>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub signature: String,
    body: Vec<u8>,
    little: bool,
}

impl Message {
    pub fn is_reply(&self) -> bool {
        self.kind == METHOD_RETURN || self.kind == ERROR
    }

    pub fn is_signal(&self, member: &str) -> bool {
        self.kind == SIGNAL && self.member.as_deref() == Some(member)
    }

    /// The error as `Name: message`, when this is one.
    pub fn error(&self) -> Option<String> {
        if self.kind != ERROR {
            return None;
        }
        let name = self.error_name.clone().unwrap_or_else(|| "(unnamed error)".into());
        let text = if self.signature.starts_with('s') { self.body().str().ok() } else { None };
        Some(text.map_or(name.clone(), |t| format!("{name}: {t}")))
    }

    pub fn body(&self) -> Reader<'_> {
        Reader { buf: &self.body, pos: 0, little: self.little }
    }

    /// Splits one whole message off the front of `buf`, if it holds one.
    fn parse(buf: &[u8]) -> Result<Option<(Message, usize)>> {
        if buf.len() < 16 {
            return Ok(None);
        }
        let little = match buf[0] {
            b'l' => true,
            b'B' => false,
            e => bail!("the bus sent a message with byte order {e:#x}"),
        };
        let mut head = Reader { buf, pos: 4, little };
        let body_len = head.u32()? as usize;
        let _serial = head.u32()?;
        let fields_len = head.u32()? as usize;
        if body_len > 1 << 26 || fields_len > 1 << 26 {
            bail!("the bus sent an oversized message");
        }
        let body_start = (16 + fields_len).div_ceil(8) * 8;
        let total = body_start + body_len;
        if buf.len() < total {
            return Ok(None);
        }
        let mut m = Message {
            kind: buf[1],
            reply_serial: None,
            member: None,
            error_name: None,
            signature: String::new(),
            body: buf[body_start..total].to_vec(),
            little,
        };
        let mut f = Reader { buf: &buf[..16 + fields_len], pos: 16, little };
        while f.pos < 16 + fields_len {
            f.align(8)?;
            let code = f.byte()?;
            let sig = f.signature()?;
            match sig.as_str() {
                "s" | "o" => {
                    let v = f.str()?;
                    match code {
                        3 => m.member = Some(v),
                        4 => m.error_name = Some(v),
                        _ => {}
                    }
                }
                "u" => {
                    let v = f.u32()?;
                    if code == 5 {
                        m.reply_serial = Some(v);
                    }
                }
                "g" => {
                    let v = f.signature()?;
                    if code == 8 {
                        m.signature = v;
                    }
                }
                other => bail!("the bus sent a header field of type {other:?}"),
            }
        }
        Ok(Some((m, total)))
    }
}

/// Reads values from a body, in order.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    little: bool,
}

impl Reader<'_> {
    fn align(&mut self, n: usize) -> Result<()> {
        self.pos = self.pos.div_ceil(n) * n;
        if self.pos > self.buf.len() {
            bail!("a D-Bus message ended early");
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or_else(|| anyhow!("a D-Bus message ended early"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32> {
        self.align(4)?;
        let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| anyhow!("short u32"))?;
        Ok(if self.little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }

    /// A string or object path.
    pub fn str(&mut self) -> Result<String> {
        let n = self.u32()? as usize;
        let s = String::from_utf8_lossy(self.take(n)?).into_owned();
        self.take(1)?;
        Ok(s)
    }

    fn signature(&mut self) -> Result<String> {
        let n = self.byte()? as usize;
        let s = String::from_utf8_lossy(self.take(n)?).into_owned();
        self.take(1)?;
        Ok(s)
    }

    /// A variant holding a string.
    pub fn variant_str(&mut self) -> Result<String> {
        match self.signature()?.as_str() {
            "s" | "o" => self.str(),
            other => bail!("expected a string variant, got type {other:?}"),
        }
    }
}

/// A connection to a message bus, authenticated as this process's user.
pub struct Bus {
    sock: UnixStream,
    serial: u32,
    pending: Vec<u8>,
    inbox: Vec<u8>,
    authenticated: bool,
    /// A direct connection to the peer: no bus in between, so no Hello and no match rules.
    peer: bool,
    /// The authentication has been sent.
    began: bool,
}

impl Bus {
    /// Connects to the first usable `unix:` address in `address`; nothing is sent yet.
    pub fn connect(address: &str) -> Result<Bus> {
        let mut last = anyhow!("no unix: address in {address:?}");
        for one in address.split(';') {
            let Some(params) = one.strip_prefix("unix:") else { continue };
            let sock = params.split(',').find_map(|kv| match kv.split_once('=') {
                Some(("path", p)) => Some(UnixStream::connect(unescape(p))),
                Some(("abstract", name)) => Some(connect_abstract(&unescape(name))),
                _ => None,
            });
            match sock {
                Some(Ok(sock)) => return Ok(Bus::over(sock, false)),
                Some(Err(e)) => last = anyhow!("connect({one}): {e}"),
                None => {}
            }
        }
        Err(last)
    }

    /// A direct connection to the server listening at `path` (a peer, not a bus).
    pub fn connect_peer(path: &std::path::Path) -> Result<Bus> {
        let sock = UnixStream::connect(path).with_context(|| format!("connect({})", path.display()))?;
        Ok(Bus::over(sock, true))
    }

    pub fn is_peer(&self) -> bool {
        self.peer
    }

    /// A connection on a connected socket: the authentication, and on a bus the Hello, are
    /// queued at once (a bus takes messages right behind BEGIN; see [`Bus::flush`] for a peer).
    fn over(sock: UnixStream, peer: bool) -> Bus {
        let uid = nix::unistd::geteuid().as_raw().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        let mut bus =
            Bus { sock, serial: 0, pending: Vec::new(), inbox: Vec::new(), authenticated: false, peer, began: false };
        bus.pending.extend_from_slice(format!("\0AUTH EXTERNAL {hex}\r\nBEGIN\r\n").as_bytes());
        if peer {
            return bus;
        }
        bus.queue(&Call {
            destination: "org.freedesktop.DBus",
            path: "/org/freedesktop/DBus",
            interface: "org.freedesktop.DBus",
            member: "Hello",
            signature: "",
            body: Vec::new(),
        });
        bus
    }

    /// Queues `call`; returns its serial, which its reply names.
    pub fn queue(&mut self, call: &Call<'_>) -> u32 {
        self.serial += 1;
        self.pending.extend_from_slice(&call.encode(self.serial));
        self.serial
    }

    /// Queues a match rule for signals (a call to the bus itself).
    pub fn add_match(&mut self, rule: &str) -> u32 {
        let mut w = Writer::default();
        w.str(rule);
        self.queue(&Call {
            destination: "org.freedesktop.DBus",
            path: "/org/freedesktop/DBus",
            interface: "org.freedesktop.DBus",
            member: "AddMatch",
            signature: "s",
            body: w.into_bytes(),
        })
    }

    /// Sends everything queued, in one write. On a peer, what follows the authentication waits
    /// for the server's OK: sd-bus's server (the manager's own socket) may leave a message that
    /// arrives together with BEGIN unread until more comes, and its own clients wait for OK
    /// before their first message too. A bus takes messages right behind BEGIN.
    pub fn flush(&mut self, deadline: Instant) -> Result<()> {
        if self.peer && self.began && !self.authenticated {
            self.authenticate(deadline)?;
        }
        self.sock.write_all(&self.pending).context("writing to the bus")?;
        self.pending.clear();
        self.began = true;
        Ok(())
    }

    /// Reads the answer to the authentication: OK, or the refusal as the error.
    fn authenticate(&mut self, deadline: Instant) -> Result<()> {
        loop {
            if let Some(end) = self.inbox.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.inbox[..end]).into_owned();
                if !line.starts_with("OK ") {
                    bail!("the bus refused to authenticate uid {}: {line:?}", nix::unistd::geteuid());
                }
                self.inbox.drain(..end + 2);
                self.authenticated = true;
                return Ok(());
            }
            self.fill(deadline)?;
        }
    }

    /// The next message, waiting at most until `deadline`.
    pub fn next(&mut self, deadline: Instant) -> Result<Message> {
        if !self.authenticated {
            self.authenticate(deadline)?;
        }
        loop {
            if let Some((m, used)) = Message::parse(&self.inbox)? {
                self.inbox.drain(..used);
                return Ok(m);
            }
            self.fill(deadline)?;
        }
    }

    fn fill(&mut self, deadline: Instant) -> Result<()> {
        let ms = crate::sys::linux::poll_timeout(Some(deadline));
        match crate::sys::linux::poll_in(self.sock.as_raw_fd(), ms) {
            Ok(0) => bail!("no answer on the bus within the time limit"),
            // Interrupted: wait again (the deadline still holds); never read unready.
            Err(nix::errno::Errno::EINTR) => return Ok(()),
            Err(e) => bail!("poll(bus): {e}"),
            Ok(_) => {}
        }
        let mut chunk = [0u8; 8192];
        match self.sock.read(&mut chunk) {
            Ok(0) => bail!("the bus closed the connection"),
            Ok(n) => self.inbox.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(anyhow!("reading from the bus: {e}")),
        }
        Ok(())
    }
}

/// D-Bus addresses escape bytes as `%xx`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(Ok(v)) = s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn connect_abstract(name: &str) -> std::io::Result<UnixStream> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    UnixStream::connect_addr(&addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_count_their_bytes_and_pad_to_the_first_element_even_when_empty() {
        let mut w = Writer::default();
        w.buf.extend_from_slice(&[7; 5]);
        w.array(8, |_| {});
        // 5 bytes, 3 to align the length, length 0, 4 to reach the 8-byte element alignment.
        assert_eq!(w.into_bytes(), [7, 7, 7, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut w = Writer::default();
        w.variant(&Prop::Pids(vec![1, 2]));
        assert_eq!(w.into_bytes(), [2, b'a', b'u', 0, 8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]);
        let mut w = Writer::default();
        w.variant(&Prop::U64(5));
        assert_eq!(w.into_bytes(), [1, b't', 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn a_call_parses_back_with_its_fields_and_body() {
        let mut body = Writer::default();
        body.str("jail-1.scope");
        let call = Call {
            destination: "org.freedesktop.systemd1",
            path: "/org/freedesktop/systemd1",
            interface: "org.freedesktop.systemd1.Manager",
            member: "StartTransientUnit",
            signature: "s",
            body: body.into_bytes(),
        };
        let bytes = call.encode(3);
        let (m, used) = Message::parse(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(m.member.as_deref(), Some("StartTransientUnit"));
        assert_eq!(m.signature, "s");
        assert_eq!(m.body().str().unwrap(), "jail-1.scope");
        // A message split across reads is not parsed until it is whole.
        assert!(Message::parse(&bytes[..bytes.len() - 1]).unwrap().is_none());
    }

    #[test]
    fn addresses_unescape() {
        assert_eq!(unescape("/run/user/1000/bus"), "/run/user/1000/bus");
        assert_eq!(unescape("/tmp/a%20b"), "/tmp/a b");
        assert_eq!(unescape("x%2"), "x%2");
    }
}
