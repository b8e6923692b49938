//! The HTTP plumbing shared by the network providers: sending with bounded retries (429/5xx and network
//! errors, honouring `Retry-After`), and reading a `text/event-stream` body into its `data:` payloads with an
//! idle timeout, so a model that stops talking cannot hold a turn forever.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures::{Stream, StreamExt};

use super::{CallLease, CallPolicy, LlmError, backoff};

/// Sends the request built by `build`, retrying transient failures before any output has been read.
pub async fn send_with_retries(
    policy: &CallPolicy,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, LlmError> {
    let mut attempt = 0;
    loop {
        let result = match tokio::time::timeout(policy.connect_timeout, build().send()).await {
            Err(_) => Err(LlmError::Timeout),
            Ok(Err(e)) if e.is_timeout() => Err(LlmError::Timeout),
            Ok(Err(e)) => Err(LlmError::Network(e.without_url().to_string())),
            Ok(Ok(res)) => classify(res).await,
        };
        match result {
            Ok(res) => return Ok(res),
            Err(e) if e.is_transient() && attempt < policy.max_retries => {
                attempt += 1;
                let retry_after = match &e {
                    LlmError::RateLimited { retry_after } => *retry_after,
                    _ => None,
                };
                let wait = backoff(policy, attempt, retry_after);
                tracing::warn!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "model call failed; retrying");
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn classify(res: reqwest::Response) -> Result<reqwest::Response, LlmError> {
    let status = res.status();
    if status.is_success() {
        return Ok(res);
    }
    let retry_after = res
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64);
    let code = status.as_u16();
    if code == 429 {
        return Err(LlmError::RateLimited { retry_after });
    }
    if status.is_server_error() {
        return Err(LlmError::Server { status: code });
    }
    // A 4xx is our request's fault (or the key's): say what the service said, briefly.
    let body = res.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message").and_then(|m| m.as_str()).map(str::to_string).or_else(|| {
                v.as_array()
                    .and_then(|a| a.first())
                    .and_then(|e| e.pointer("/error/message"))
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
        })
        .unwrap_or_else(|| body.chars().take(200).collect());
    Err(LlmError::Rejected { status: code, message })
}

/// The `data:` payloads of a server-sent event stream, one item per event. The call keeps its `lease` on its
/// HTTP client until the stream is dropped.
pub fn data_events(
    res: reqwest::Response,
    idle_timeout: Duration,
    lease: CallLease,
) -> impl Stream<Item = Result<String, LlmError>> + Send + 'static {
    let body = res.bytes_stream();
    let events = futures::stream::unfold(
        (Box::pin(body), BytesMut::new(), false),
        move |(mut body, mut buf, done)| async move {
            if done {
                return None;
            }
            loop {
                if let Some(event) = take_event(&mut buf) {
                    match event {
                        Some(data) => return Some((Ok(data), (body, buf, false))),
                        None => continue,
                    }
                }
                match tokio::time::timeout(idle_timeout, body.next()).await {
                    Err(_) => return Some((Err(LlmError::Timeout), (body, buf, true))),
                    Ok(None) => {
                        // A last event without its blank line still counts.
                        buf.extend_from_slice(b"\n\n");
                        return match take_event(&mut buf) {
                            Some(Some(data)) => Some((Ok(data), (body, buf, true))),
                            _ => None,
                        };
                    }
                    Ok(Some(Err(e))) => {
                        let err = if e.is_timeout() {
                            LlmError::Timeout
                        } else {
                            LlmError::Network(e.without_url().to_string())
                        };
                        return Some((Err(err), (body, buf, true)));
                    }
                    Ok(Some(Ok(chunk))) => buf.extend_from_slice(&chunk),
                }
            }
        },
    );
    events.inspect(move |_| {
        let _held = &lease;
    })
}

/// Removes one complete event from the buffer: `Some(Some(data))` for an event with data, `Some(None)` for an
/// event without (comments, keep-alives), `None` when no complete event is buffered yet.
fn take_event(buf: &mut BytesMut) -> Option<Option<String>> {
    let text = &buf[..];
    let (end, sep) = [&b"\r\n\r\n"[..], b"\n\n", b"\r\r"]
        .iter()
        .filter_map(|sep| text.windows(sep.len()).position(|w| w == *sep).map(|p| (p, sep.len())))
        .min_by_key(|(p, _)| *p)?;
    let raw = String::from_utf8_lossy(&text[..end]).into_owned();
    buf.advance(end + sep);
    let data: Vec<&str> =
        raw.lines().filter_map(|l| l.strip_prefix("data:")).map(|d| d.strip_prefix(' ').unwrap_or(d)).collect();
    Some(if data.is_empty() { None } else { Some(data.join("\n")) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_on_blank_lines_in_any_line_ending() {
        let mut buf = BytesMut::from(&b"data: {\"a\":1}\n\n: ping\n\ndata: x\r\ndata: y\r\n\r\ndata: partial"[..]);
        assert_eq!(take_event(&mut buf), Some(Some("{\"a\":1}".into())));
        assert_eq!(take_event(&mut buf), Some(None));
        assert_eq!(take_event(&mut buf), Some(Some("x\ny".into())));
        assert_eq!(take_event(&mut buf), None);
        assert_eq!(&buf[..], b"data: partial");
    }
}
