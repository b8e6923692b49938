//! Client ID metadata documents: a `client_id` that is an https URL names a JSON document, fetched here,
//! that describes the client (its name and redirect URIs) without any registration. The fetch is bounded in
//! time and size, follows no redirects, and goes only to the address that was checked: a host that resolves
//! to a loopback, private or otherwise non-public address is refused before any connection is made (unless
//! the operator allows it), so a client id cannot make the server probe its own network.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;

/// The document's size limit (the draft suggests 5 KB; a little room for long redirect lists).
const MAX_BYTES: usize = 16 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);

/// The parts of a metadata document we use.
#[derive(Debug, Clone, Deserialize)]
pub struct Document {
    pub client_id: String,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub client_uri: Option<String>,
    #[serde(default)]
    pub logo_uri: Option<String>,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
}

/// Whether a client id names a metadata document (rather than a registered client).
pub fn is_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://")
}

/// Whether connecting to `ip` reaches the public internet: not loopback, private, link-local, shared,
/// documentation, multicast or unspecified space (IPv4 inside IPv6 judged as IPv4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 192 && b == 0 && v4.octets()[2] == 0))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && v6.segments()[1] == 0x0db8)
                || (first == 0x0064 && v6.segments()[1] == 0xff9b))
        }
    }
}

/// Checks the URL and where its host resolves to; the address to connect to, or why not.
pub async fn resolve(url: &url::Url, allow_private: bool) -> Result<SocketAddr, String> {
    if url.scheme() != "https" || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("a client_id URL must be https, without credentials or a fragment".into());
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err("a client_id URL must have a path".into());
    }
    let host = url.host_str().ok_or("a client_id URL needs a host")?;
    let port = url.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| "the client_id host did not resolve in time".to_string())?
            .map_err(|_| "the client_id host does not resolve".to_string())?
            .collect(),
    };
    let first = *addrs.first().ok_or("the client_id host does not resolve")?;
    // Every address must pass: a name that also resolves inward could be answered from either.
    if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
        return Err("the client_id host resolves to a loopback or private address".into());
    }
    Ok(first)
}

/// Fetches and checks the document at `client_id`.
pub async fn fetch(client_id: &str, allow_private: bool) -> Result<Document, String> {
    let url = url::Url::parse(client_id).map_err(|_| "the client_id is not a valid URL".to_string())?;
    let addr = resolve(&url, allow_private).await?;
    let host = url.host_str().unwrap_or_default().to_string();
    // Pinned to the checked address, so a second lookup (DNS rebinding) cannot send us elsewhere.
    let client = reqwest::Client::builder()
        .resolve(&host, addr)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .build()
        .map_err(|_| "cannot fetch the client metadata document".to_string())?;
    let mut res = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|_| "the client metadata document could not be fetched".to_string())?;
    if !res.status().is_success() {
        return Err(format!("the client metadata document answered {}", res.status().as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) =
        res.chunk().await.map_err(|_| "the client metadata document could not be read".to_string())?
    {
        if body.len() + chunk.len() > MAX_BYTES {
            return Err("the client metadata document is too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    let doc: Document =
        serde_json::from_slice(&body).map_err(|_| "the client metadata document is not valid JSON".to_string())?;
    if doc.client_id != client_id {
        return Err("the client metadata document names another client_id".into());
    }
    if doc.redirect_uris.is_empty() {
        return Err("the client metadata document lists no redirect_uris".into());
    }
    if doc.token_endpoint_auth_method.as_deref().is_some_and(|m| m != "none") {
        return Err("a metadata-document client must use token_endpoint_auth_method none".into());
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn names_that_resolve_inward_are_refused_before_connecting() {
        for url in ["https://localhost/client.json", "https://127.0.0.1:9/c.json", "https://[::1]/c.json"] {
            let err = resolve(&url::Url::parse(url).unwrap(), false).await.unwrap_err();
            assert!(err.contains("private"), "{url}: {err}");
        }
        assert!(resolve(&url::Url::parse("https://127.0.0.1/c.json").unwrap(), true).await.is_ok());
        assert!(resolve(&url::Url::parse("http://example.com/c.json").unwrap(), true).await.is_err());
        assert!(resolve(&url::Url::parse("https://example.com/").unwrap(), true).await.is_err());
    }
}
