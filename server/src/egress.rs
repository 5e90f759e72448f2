//! Where the server may connect on a tenant's behalf (webhooks). A webhook URL is chosen by
//! whoever holds an API key, so without this the server is a proxy into its own network: it
//! posted to its own port, to `127.1`, `2130706433`, `0x7f000001` (all 127.0.0.1), and would
//! have posted to 169.254.169.254 (cloud metadata) or any 10.x host, and told the tenant each
//! attempt's connection error (a port scanner).
//!
//! Two gates: [`check_webhook_url`] at session creation (IP literals and names that can only
//! mean an internal host), and [`GuardedResolver`] at connect time, which resolves the name
//! and drops every address in a forbidden range before the connector sees it, so a name that
//! resolves (or rebinds) to an internal address cannot pass either. Loopback is allowed only
//! behind an explicit development setting (`allow_loopback_webhooks`: the demo and tests).
//! Redirects are never followed (see the HTTP client in `server.rs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// Why a webhook destination is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    #[error("the webhook URL is not a valid absolute URL")]
    Invalid,
    #[error(
        "the webhook URL points to a loopback, private, link-local or otherwise internal address"
    )]
    Internal,
}

/// Whether the server may connect to `ip` for a tenant.
pub fn allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => allowed_v4(v4, allow_loopback),
        IpAddr::V6(v6) => {
            // Addresses that carry an IPv4 address are judged by it.
            if let Some(v4) = embedded_v4(v6) {
                return allowed_v4(v4, allow_loopback);
            }
            if v6.is_loopback() {
                return allow_loopback;
            }
            let first = v6.segments()[0];
            !(v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
                || first == 0x0100 && v6.segments()[1..4] == [0, 0, 0]) // discard 100::/64
        }
    }
}

fn allowed_v4(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network" 0/8
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18/15
        || a >= 240) // reserved 240/4
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`),
/// NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) address.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified() {
        return Some(tail);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

/// Names that only ever mean an internal host, whatever a resolver says.
fn internal_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name == "metadata.google.internal"
        || name.ends_with(".internal")
        || name.ends_with(".local")
        || !name.contains('.')
}

/// The session-creation gate. (The protocol crate already demands https, or http to a
/// loopback host.) The URL parser has already turned `2130706433`, `0x7f000001` and `127.1`
/// into 127.0.0.1.
pub fn check_webhook_url(text: &str, allow_loopback: bool) -> Result<Url, EgressError> {
    let url = Url::parse(text).map_err(|_| EgressError::Invalid)?;
    let ok = match url.host() {
        Some(Host::Ipv4(ip)) => allowed(IpAddr::V4(ip), allow_loopback),
        Some(Host::Ipv6(ip)) => allowed(IpAddr::V6(ip), allow_loopback),
        Some(Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => allow_loopback,
        Some(Host::Domain(d)) => !internal_name(d),
        None => return Err(EgressError::Invalid),
    };
    if ok {
        Ok(url)
    } else {
        Err(EgressError::Internal)
    }
}

/// Resolves webhook hosts and keeps only addresses the server may connect to. An IP literal
/// never reaches a resolver, so [`check_webhook_url`] runs again before each delivery.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_loopback: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allowed(a.ip(), allow_loopback))
                .collect();
            if usable.is_empty() {
                return Err(Box::new(EgressError::Internal) as Box<_>);
            }
            Ok(Box::new(usable.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What a tenant is told about a failed attempt: a class, never a connection error's text
/// (which tells a refused port from a filtered one).
pub fn error_class(e: &reqwest::Error) -> &'static str {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<EgressError>().is_some() {
            return "refused_destination";
        }
        source = s.source();
    }
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection_failed"
    } else {
        "request_failed"
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn internal_destinations_are_refused_in_every_spelling() {
        for url in [
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "http://2130706433/x",
            "http://0x7f000001/x",
            "http://127.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://10.1.2.3/x",
            "https://172.16.0.1/x",
            "https://192.168.1.1/x",
            "https://100.64.0.1/x",
            "https://0.0.0.0/x",
            "https://[::]/x",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://[::ffff:a9fe:a9fe]/x",
            "https://[64:ff9b::a00:1]/x",
            "https://[2002:7f00:1::]/x",
            "https://[fd00::1]/x",
            "https://[fe80::1]/x",
            "https://[ff02::1]/x",
            "https://224.0.0.1/x",
            "https://255.255.255.255/x",
            "https://metadata.google.internal/computeMetadata/v1/",
            "https://db.internal/x",
            "https://printer.local/x",
            "https://intranet/x",
            "https://foo.localhost/x",
        ] {
            assert_eq!(
                check_webhook_url(url, false),
                Err(EgressError::Internal),
                "{url}"
            );
        }
    }

    #[test]
    fn public_destinations_pass_and_loopback_only_in_development() {
        for url in [
            "https://example.com/hook",
            "https://93.184.215.14/hook",
            "https://[2606:4700::1111]/hook",
        ] {
            assert!(check_webhook_url(url, false).is_ok(), "{url}");
        }
        for url in [
            "http://127.0.0.1:9/x",
            "http://localhost:9/x",
            "http://[::1]/x",
        ] {
            assert!(check_webhook_url(url, true).is_ok(), "{url}");
        }
        // Development loopback does not open private networks.
        assert_eq!(
            check_webhook_url("https://10.0.0.1/x", true),
            Err(EgressError::Internal)
        );
        assert_eq!(
            check_webhook_url("not a url", true),
            Err(EgressError::Invalid)
        );
    }

    /// The connect-time gate: a name is judged by what it resolves to, so a public-looking
    /// name pointed (or rebound) at an internal address gets no address at all.
    #[tokio::test]
    async fn the_resolver_drops_internal_addresses() {
        use reqwest::dns::Resolve;
        let name = |n: &str| reqwest::dns::Name::from_str(n).unwrap();
        let strict = GuardedResolver {
            allow_loopback: false,
        };
        assert!(strict.resolve(name("localhost")).await.is_err());
        let dev = GuardedResolver {
            allow_loopback: true,
        };
        let addrs: Vec<SocketAddr> = dev.resolve(name("localhost")).await.unwrap().collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
