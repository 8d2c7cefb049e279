//! Where webhooks may post: `http` or `https` URLs, never to link-local or cloud metadata addresses, and —
//! when the operator says so (a SaaS control plane should) — never to loopback or private networks either.
//! The URL is checked when a webhook is saved, and every address its host resolves to is checked again at
//! each delivery, so a name that later points somewhere forbidden is not followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Host names of cloud metadata services.
const METADATA_HOSTS: &[&str] = &[
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
];

/// Which addresses deliveries may reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Also refuse loopback, private (RFC 1918, unique local) and shared (RFC 6598) addresses.
    pub deny_private: bool,
}

impl AddressPolicy {
    /// A webhook URL, if deliveries may go there.
    ///
    /// # Errors
    ///
    /// Why not, for a human.
    pub fn check_url(self, text: &str) -> Result<Url, String> {
        let url = Url::parse(text).map_err(|error| format!("{text:?} is not a URL: {error}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("the scheme {:?} is not http or https", url.scheme()));
        }
        let host = url.host_str().ok_or_else(|| "the URL has no host".to_owned())?;
        let Ok(host) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        else {
            let domain = host.trim_end_matches('.').to_ascii_lowercase();
            if METADATA_HOSTS.contains(&domain.as_str()) {
                return Err(format!("{domain} is a cloud metadata service"));
            }
            return Ok(url);
        };
        self.check_ip(host)?;
        Ok(url)
    }

    /// Whether deliveries may reach `ip`.
    ///
    /// # Errors
    ///
    /// Why not, for a human.
    pub fn check_ip(self, ip: IpAddr) -> Result<(), String> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        let refused = match ip {
            IpAddr::V4(v4) => refused_v4(v4, self.deny_private),
            IpAddr::V6(v6) => refused_v6(v6, self.deny_private),
        };
        match refused {
            Some(kind) => Err(format!("{ip} is {kind}: webhooks may not post there")),
            None => Ok(()),
        }
    }
}

fn refused_v4(ip: Ipv4Addr, deny_private: bool) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_link_local() {
        Some("a link-local address (cloud metadata services live there)")
    } else if ip == Ipv4Addr::new(100, 100, 100, 200) {
        Some("a cloud metadata address")
    } else if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
        Some("not a host's address")
    } else if deny_private && ip.is_loopback() {
        Some("a loopback address")
    } else if deny_private && (ip.is_private() || (a == 100 && (64..128).contains(&b))) {
        Some("a private address")
    } else {
        None
    }
}

fn refused_v6(ip: Ipv6Addr, deny_private: bool) -> Option<&'static str> {
    let first = ip.segments()[0];
    if (first & 0xffc0) == 0xfe80 {
        Some("a link-local address (cloud metadata services live there)")
    } else if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some("a cloud metadata address")
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some("not a host's address")
    } else if deny_private && ip.is_loopback() {
        Some("a loopback address")
    } else if deny_private && (first & 0xfe00) == 0xfc00 {
        Some("a private address")
    } else {
        None
    }
}

/// Resolves host names for deliveries, keeping only the addresses the policy allows.
#[derive(Debug, Clone, Copy)]
pub struct Resolver(pub AddressPolicy);

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .filter(|addr| match policy.check_ip(addr.ip()) {
                    Ok(()) => true,
                    Err(why) => {
                        refusal = Some(why);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let why = refusal.unwrap_or_else(|| "no address".to_owned());
                return Err(format!("{host} resolves to no address webhooks may post to ({why})").into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_and_metadata_addresses_are_refused() {
        let open = AddressPolicy::default();
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/hook",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:169.254.169.254]/",
            "http://100.100.100.200/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.GOOGLE.INTERNAL./",
            "http://0.0.0.0:8080/",
            "ftp://example.com/hook",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "not a url",
        ] {
            assert!(open.check_url(url).is_err(), "{url}");
        }
        for url in [
            "https://hooks.example.com/in",
            "http://127.0.0.1:9000/hook",
            "http://10.0.0.5/",
        ] {
            assert!(open.check_url(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn a_closed_policy_also_refuses_loopback_and_private_networks() {
        let closed = AddressPolicy { deny_private: true };
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://[::1]/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://[fd12::1]/",
            "http://[::ffff:10.0.0.1]/",
        ] {
            assert!(closed.check_url(url).is_err(), "{url}");
        }
        assert!(closed.check_url("https://hooks.example.com/in").is_ok());
        assert!(closed.check_url("http://8.8.8.8/").is_ok());
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        let closed = Resolver(AddressPolicy { deny_private: true });
        let name: Name = "localhost".parse().unwrap();
        let error = closed.resolve(name).await.err().unwrap();
        assert!(error.to_string().contains("loopback"), "{error}");
        let open = Resolver(AddressPolicy::default());
        let name: Name = "localhost".parse().unwrap();
        assert!(open.resolve(name).await.is_ok());
    }
}
