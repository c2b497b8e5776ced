//! Which receivers a subscription may name, and where a delivery may connect.
//!
//! A subscription URL is a partner's instruction to make this deployment send HTTP requests, so it is
//! checked twice: when the subscription is made (scheme, shape, an address literal) and before every
//! attempt, on the addresses the host name resolves to then. The dispatcher connects to the address it
//! vetted, not to a name looked up again, so a name that resolves to a public address at the check and
//! to an internal one a moment later (DNS rebinding) cannot steer a delivery inside. Unless the
//! deployment allows private addresses (`identity.webhooks.allow_private_addresses`, or `haven up`),
//! loopback, private, link-local, shared, multicast and unspecified addresses are refused.
//!
//! `https` receivers are verified by rustls ([`super::tls`]); `http` stays allowed for receivers behind a
//! partner's own TLS terminator and for `haven up`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use haven_platform::ServiceError;
use http::Uri;

const MAX_URL_CHARS: usize = 2000;

/// A receiver URL that passed the subscription checks.
#[derive(Debug, Clone)]
pub(crate) struct Receiver {
    pub(crate) uri: Uri,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) https: bool,
}

/// Checks a subscription URL: an absolute `http` or `https` URL with a host, no user info, no fragment, and (when
/// the host is an address literal) an address the deployment allows.
pub(crate) fn parse(url: &str, allow_private: bool) -> Result<Receiver, ServiceError> {
    let invalid = |why: &str| ServiceError::invalid("url", why);
    if url.is_empty() {
        return Err(invalid("is required"));
    }
    if url.chars().count() > MAX_URL_CHARS {
        return Err(invalid("must be at most 2000 characters"));
    }
    if url.contains('#') {
        return Err(invalid("must not carry a fragment"));
    }
    let uri: Uri = url
        .parse()
        .map_err(|_| invalid("must be an absolute http(s) URL"))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(invalid("must be an http or https URL")),
    };
    let authority = uri.authority().ok_or_else(|| invalid("must name a host"))?;
    if authority.as_str().contains('@') {
        return Err(invalid("must not carry user info"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err(invalid("must name a host"));
    }
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    if !allow_private {
        if let Ok(ip) = host.parse::<IpAddr>()
            && !is_public(ip)
        {
            return Err(invalid(
                "must not name a loopback, private or link-local address",
            ));
        }
        if host.eq_ignore_ascii_case("localhost")
            || host.to_ascii_lowercase().ends_with(".localhost")
        {
            return Err(invalid("must not name a loopback host"));
        }
    }
    Ok(Receiver {
        host: host.to_owned(),
        port,
        https,
        uri,
    })
}

/// The address to connect to for this attempt: the first resolved address the deployment allows.
pub(crate) async fn resolve(
    receiver: &Receiver,
    allow_private: bool,
) -> Result<SocketAddr, String> {
    let addresses: Vec<SocketAddr> =
        tokio::net::lookup_host((receiver.host.as_str(), receiver.port))
            .await
            .map_err(|e| format!("could not resolve the host: {e}"))?
            .collect();
    if addresses.is_empty() {
        return Err("the host resolves to no address".into());
    }
    addresses
        .into_iter()
        .find(|a| allow_private || is_public(a.ip()))
        .ok_or_else(|| "the host resolves only to addresses this deployment refuses".into())
}

/// Whether an address is on the public internet (not loopback, private, link-local, shared,
/// documentation, multicast, broadcast or unspecified).
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b);
    let this_network = a == 0;
    let benchmarking = a == 198 && (b == 18 || b == 19);
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || shared
        || this_network
        || benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = (first & 0xfe00) == 0xfc00;
    let link_local = (first & 0xffc0) == 0xfe80;
    let documentation = first == 0x2001 && ip.segments()[1] == 0x0db8;
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || unique_local
        || link_local
        || documentation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> bool {
        parse(url, false).is_err()
    }

    #[test]
    fn only_http_urls_with_a_host_are_accepted() {
        assert!(parse("http://hooks.example.org/haven", false).is_ok());
        assert!(parse("http://hooks.example.org:8080/a?b=c", false).is_ok());
        let secure = parse("https://hooks.example.org/haven", false).expect("https");
        assert!(secure.https && secure.port == 443);
        for url in [
            "",
            "ftp://hooks.example.org/",
            "file:///etc/passwd",
            "hooks.example.org/haven",
            "/haven",
            "http://user:pw@hooks.example.org/",
            "http://hooks.example.org/#frag",
        ] {
            assert!(refused(url), "{url} must be refused");
        }
    }

    #[test]
    fn internal_addresses_are_refused_unless_the_deployment_allows_them() {
        for url in [
            "http://127.0.0.1/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://172.16.5.4/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost:8080/",
            "http://api.localhost/",
        ] {
            assert!(refused(url), "{url} must be refused");
            assert!(parse(url, true).is_ok(), "{url} is allowed when configured");
        }
        assert!(!refused("http://93.184.216.34/"));
    }
}
