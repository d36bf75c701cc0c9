//! `--allow-host`: the sandbox keeps a network of its own with only loopback, and reaches the
//! named hosts through a proxy jail runs outside (HTTP CONNECT, plain HTTP and SOCKS5 on one
//! port of the sandbox's loopback). Names are matched here and resolved outside.

use anyhow::{bail, Result};
use serde::Serialize;

/// The proxy's port on the sandbox's own loopback (a fresh namespace: it is always free).
pub const PROXY_PORT: u16 = 3128;

/// One `--allow-host` entry: a name (or `*.domain` for every name below it, or an address)
/// and a port, or any port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostRule {
    pub host: String,
    pub port: Option<u16>,
}

impl HostRule {
    /// `example.org`, `example.org:443`, `*.example.org`, `[::1]:8080`, `127.0.0.1:80`.
    pub fn parse(s: &str) -> Result<HostRule> {
        let bad = |why: &str| anyhow::anyhow!("--allow-host {s}: {why}");
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(|| bad("an IPv6 address needs its closing ]"))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match s.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h.to_string(), Some(p)),
                _ => (s.to_string(), None),
            }
        };
        let port = port
            .map(|p| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad("not a port 1-65535")))
            .transpose()?;
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let name = host.strip_prefix("*.").unwrap_or(&host);
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '_');
        if name.is_empty() || !name.chars().all(valid) || name.contains('*') {
            bail!("--allow-host {s}: not a host name, *.domain or address");
        }
        Ok(HostRule { host, port })
    }

    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let name_ok = match self.host.strip_prefix("*.") {
            Some(domain) => {
                host.len() > domain.len() && host.ends_with(domain) && host[..host.len() - domain.len()].ends_with('.')
            }
            None => host == self.host,
        };
        name_ok && self.port.is_none_or(|p| p == port)
    }
}

impl std::fmt::Display for HostRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        match self.port {
            Some(p) => write!(f, "{host}:{p}"),
            None => write!(f, "{host}"),
        }
    }
}

/// The proxy the plan asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proxy {
    pub allow: Vec<HostRule>,
    pub port: u16,
}

impl Proxy {
    /// The variables that point programs at the proxy, both spellings.
    pub fn environment(&self) -> Vec<(String, Option<String>)> {
        let http = format!("http://127.0.0.1:{}", self.port);
        let socks = format!("socks5h://127.0.0.1:{}", self.port);
        let mut v = Vec::new();
        for (name, value) in [("HTTP_PROXY", &http), ("HTTPS_PROXY", &http), ("ALL_PROXY", &socks)] {
            v.push((name.to_string(), Some(value.clone())));
            v.push((name.to_ascii_lowercase(), Some(value.clone())));
        }
        v
    }

    pub fn allows(&self, host: &str, port: u16) -> Option<&HostRule> {
        self.allow.iter().find(|r| r.matches(host, port))
    }
}

/// The proxy for `--allow-host` entries, if any; it needs the sandbox's own network.
pub fn plan(entries: &[String], own_network: bool) -> Result<Option<Proxy>> {
    if entries.is_empty() {
        return Ok(None);
    }
    if !own_network {
        bail!("--allow-host needs the sandbox's own network: drop --share-net");
    }
    let allow = entries.iter().map(|e| HostRule::parse(e)).collect::<Result<Vec<_>>>()?;
    Ok(Some(Proxy { allow, port: PROXY_PORT }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_names_wildcards_and_ports() {
        let r = |s| HostRule::parse(s).unwrap();
        assert!(r("example.org").matches("EXAMPLE.org.", 443));
        assert!(!r("example.org").matches("www.example.org", 443));
        assert!(r("*.example.org").matches("a.b.example.org", 80));
        assert!(!r("*.example.org").matches("example.org", 80));
        assert!(!r("*.example.org").matches("badexample.org", 80));
        assert!(r("example.org:443").matches("example.org", 443));
        assert!(!r("example.org:443").matches("example.org", 80));
        assert!(r("[::1]:8080").matches("::1", 8080));
        assert!(r("127.0.0.1:8080").matches("127.0.0.1", 8080));
        for bad in ["", "a b", "x:0", "x:99999", "*.", "a*.b", "[::1"] {
            assert!(HostRule::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(r("[::1]:80").to_string(), "[::1]:80");
    }

    #[test]
    fn the_proxy_needs_its_own_network_and_sets_both_spellings() {
        assert!(plan(&["a.org".into()], false).unwrap_err().to_string().contains("drop --share-net"));
        let p = plan(&["a.org".into()], true).unwrap().unwrap();
        let env = p.environment();
        assert_eq!(env.len(), 6);
        assert!(env.contains(&("https_proxy".into(), Some("http://127.0.0.1:3128".into()))));
        assert!(env.contains(&("ALL_PROXY".into(), Some("socks5h://127.0.0.1:3128".into()))));
    }
}
