//! `--allow-host`'s proxy. The sandbox's first process makes a listening socket on its own
//! loopback and hands it to jail, which serves it from outside, in the caller's network: HTTP
//! CONNECT, plain HTTP (absolute URIs) and SOCKS5 on the same port. A request names a host;
//! the name is checked against the allow list first and resolved outside only when allowed.
//! A refusal is an HTTP 403 (or SOCKS5 "not allowed") and a line on jail's stderr. The proxy's
//! threads live in jail, so it ends with the sandbox.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Result};

use crate::cgroup::stats::RefusedHost;
use crate::spec::network::Proxy;
use crate::sys::errno_text;

/// The sandbox's side: listens on 127.0.0.1:`port` of its own network and hands the socket
/// to jail over `sock`.
pub fn hand_listener(sock: &OwnedFd, port: u16) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| anyhow!("--allow-host: listen on 127.0.0.1:{port} in the sandbox: {e}"))?;
    crate::sys::linux::send_fd(sock, b"P", Some(listener.as_raw_fd()))
        .map_err(|e| anyhow!("--allow-host: sendmsg(proxy socket): {}", errno_text(e)))
}

/// jail's side: the listening socket, or None when the sandbox failed before handing it over.
pub fn receive_listener(sock: &OwnedFd) -> Option<TcpListener> {
    let mut byte = [0u8; 1];
    let (_, fd) = crate::sys::linux::recv_fd(sock, &mut byte).ok()?;
    fd.map(TcpListener::from)
}

/// The running proxy: what it refused so far.
pub struct Running {
    refused: Arc<Mutex<Vec<RefusedHost>>>,
}

impl Running {
    pub fn refused(&self) -> Vec<RefusedHost> {
        self.refused.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// Serves `listener` on threads of jail's own, for as long as jail runs.
pub fn start(listener: TcpListener, plan: Proxy) -> Running {
    let refused: Arc<Mutex<Vec<RefusedHost>>> = Arc::default();
    let plan = Arc::new(plan);
    let r = refused.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (plan, r) = (plan.clone(), r.clone());
            std::thread::spawn(move || serve(conn, &plan, &r));
        }
    });
    Running { refused }
}

/// How long a client may take to say where it wants to go.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Request heads larger than this are refused.
const MAX_HEAD: usize = 64 * 1024;

fn serve(mut client: TcpStream, plan: &Proxy, refused: &Mutex<Vec<RefusedHost>>) {
    let _ = client.set_read_timeout(Some(REQUEST_TIMEOUT));
    let mut first = [0u8; 1];
    if client.read_exact(&mut first).is_err() {
        return;
    }
    let _ = if first[0] == 5 { socks5(client, plan, refused) } else { http(client, first[0], plan, refused) };
}

/// Checks `host:port`; on refusal records it and says so.
fn check(plan: &Proxy, refused: &Mutex<Vec<RefusedHost>>, host: &str, port: u16) -> bool {
    if plan.allows(host, port).is_some() {
        return true;
    }
    crate::say::warn(&format!("--allow-host: refused a connection to {host}:{port}: not in the allow list"));
    if let Ok(mut v) = refused.lock() {
        match v.iter_mut().find(|r| r.host == host && r.port == port) {
            Some(r) => r.count += 1,
            None => v.push(RefusedHost { host: host.to_string(), port, count: 1, rule: "--allow-host" }),
        }
    }
    false
}

/// Resolves outside the sandbox and connects to the first address that answers.
fn connect(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, REQUEST_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Copies both ways until each side is done.
fn relay(client: TcpStream, upstream: TcpStream) {
    let _ = client.set_read_timeout(None);
    let (Ok(mut c2), Ok(mut u2)) = (client.try_clone(), upstream.try_clone()) else { return };
    let (mut c, mut u) = (client, upstream);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut u2);
        let _ = u2.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut u, &mut c);
    let _ = c.shutdown(Shutdown::Write);
    let _ = up.join();
}

/// `host:port` (or `[v6]:port`) with `default` when the port is left out.
fn split_host_port(s: &str, default: u16) -> Option<(String, u16)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default,
        };
        return Some((h.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((s.to_string(), default)),
    }
}

fn http(mut client: TcpStream, first: u8, plan: &Proxy, refused: &Mutex<Vec<RefusedHost>>) -> std::io::Result<()> {
    let mut head = vec![first];
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            return client.write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n");
        }
        let n = client.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let end = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(head.len()) + 4;
    let (head, body) = head.split_at(end);
    let text = String::from_utf8_lossy(head).into_owned();
    let mut lines = text.split("\r\n");
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ');
    let (method, target, version) =
        (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or("HTTP/1.1"));
    let bad = |c: &mut TcpStream| c.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    if method.eq_ignore_ascii_case("CONNECT") {
        let Some((host, port)) = split_host_port(target, 443) else { return bad(&mut client) };
        if !check(plan, refused, &host, port) {
            return forbidden(&mut client, &host, port);
        }
        let upstream = match connect(&host, port) {
            Ok(u) => u,
            Err(e) => return gateway_error(&mut client, &host, port, &e),
        };
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        relay(client, upstream);
        return Ok(());
    }
    // Plain HTTP through a proxy: an absolute URI.
    let Some(rest) = target.strip_prefix("http://") else { return bad(&mut client) };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Some((host, port)) = split_host_port(authority, 80) else { return bad(&mut client) };
    if !check(plan, refused, &host, port) {
        return forbidden(&mut client, &host, port);
    }
    let mut upstream = match connect(&host, port) {
        Ok(u) => u,
        Err(e) => return gateway_error(&mut client, &host, port, &e),
    };
    // To the origin: the path alone, and no proxy headers.
    let mut out = format!("{method} {path} {version}\r\n");
    for l in lines.filter(|l| !l.is_empty()) {
        let name = l.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        if !name.starts_with("proxy-") {
            out.push_str(l);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    upstream.write_all(out.as_bytes())?;
    upstream.write_all(body)?;
    relay(client, upstream);
    Ok(())
}

fn forbidden(client: &mut TcpStream, host: &str, port: u16) -> std::io::Result<()> {
    let body = format!("jail: {host}:{port} is not in the sandbox's --allow-host list\n");
    let resp = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(resp.as_bytes())
}

fn gateway_error(client: &mut TcpStream, host: &str, port: u16, e: &std::io::Error) -> std::io::Result<()> {
    let body = format!("jail: cannot reach {host}:{port}: {e}\n");
    let resp = format!(
        "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(resp.as_bytes())
}

/// SOCKS5 (RFC 1928), CONNECT only, no authentication.
fn socks5(mut client: TcpStream, plan: &Proxy, refused: &Mutex<Vec<RefusedHost>>) -> std::io::Result<()> {
    let mut n = [0u8; 1];
    client.read_exact(&mut n)?;
    let mut methods = vec![0u8; n[0] as usize];
    client.read_exact(&mut methods)?;
    if !methods.contains(&0) {
        return client.write_all(&[5, 0xff]);
    }
    client.write_all(&[5, 0])?;
    let mut req = [0u8; 4];
    client.read_exact(&mut req)?;
    let reply = |c: &mut TcpStream, code: u8| c.write_all(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
    if req[0] != 5 || req[1] != 1 {
        return reply(&mut client, 7);
    }
    let host = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            client.read_exact(&mut a)?;
            std::net::Ipv4Addr::from(a).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len)?;
            let mut name = vec![0u8; len[0] as usize];
            client.read_exact(&mut name)?;
            String::from_utf8_lossy(&name).into_owned()
        }
        4 => {
            let mut a = [0u8; 16];
            client.read_exact(&mut a)?;
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => return reply(&mut client, 8),
    };
    let mut p = [0u8; 2];
    client.read_exact(&mut p)?;
    let port = u16::from_be_bytes(p);
    if !check(plan, refused, &host, port) {
        return reply(&mut client, 2);
    }
    match connect(&host, port) {
        Ok(upstream) => {
            reply(&mut client, 0)?;
            relay(client, upstream);
            Ok(())
        }
        Err(_) => reply(&mut client, 5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_host_and_port() {
        assert_eq!(split_host_port("example.org:8443", 443), Some(("example.org".into(), 8443)));
        assert_eq!(split_host_port("example.org", 443), Some(("example.org".into(), 443)));
        assert_eq!(split_host_port("[::1]:80", 443), Some(("::1".into(), 80)));
        assert_eq!(split_host_port("[::1]", 80), Some(("::1".into(), 80)));
        assert_eq!(split_host_port("x:notaport", 80), None);
    }
}
