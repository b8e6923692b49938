//! Outgoing mail: the [`Mailer`] seam, an SMTP sender (lettre over tokio and rustls), and the development
//! default that writes each message as an `.eml` file under `<data dir>/mail/`, so the offline default works
//! and a developer can open the links. The messages themselves (reset, verification, change of address) are
//! built here too, as plain text plus simple HTML.

use std::path::PathBuf;
use std::sync::Arc;

use lettre::message::header::ContentTransferEncoding;
use lettre::message::{Mailbox, MultiPart, SinglePart, header};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// One message to one person.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Something that delivers mail. Sending is slow and may fail; callers send in the background and log.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: Mail) -> anyhow::Result<()>;
}

/// Builds the mailer the settings ask for: SMTP when `smtp_url` is set, else files in `mail_dir`.
pub fn from_settings(smtp_url: Option<&str>, from: &str, mail_dir: PathBuf) -> anyhow::Result<Arc<dyn Mailer>> {
    let from: Mailbox =
        from.parse().map_err(|e| anyhow::anyhow!("TASKCHAT_MAIL_FROM {from:?} is not a mail address ({e})"))?;
    match smtp_url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => Ok(Arc::new(SmtpMailer::new(url, from)?)),
        None => Ok(Arc::new(FileMailer { dir: mail_dir, from })),
    }
}

/// Sends through an SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// `smtp://` (plain), `smtp://…?tls=starttls|required|opportunistic`, `smtps://` (TLS from the start).
    pub fn new(url: &str, from: Mailbox) -> anyhow::Result<SmtpMailer> {
        // lettre spells STARTTLS `tls=required`; accept the name people know too.
        let url = url.replacen("tls=starttls", "tls=required", 1);
        // The URL holds the password: say what is wrong without repeating it.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map_err(|e| anyhow::anyhow!("TASKCHAT_SMTP_URL is not usable: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        Ok(SmtpMailer { transport, from })
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        let message = build_message(&self.from, &mail)?;
        self.transport.send(message).await.map_err(|e| anyhow::anyhow!("SMTP: {e}"))?;
        Ok(())
    }
}

/// Writes each message to `<dir>/<time>-<id>.eml` (development: nothing leaves the machine).
pub struct FileMailer {
    dir: PathBuf,
    from: Mailbox,
}

#[async_trait::async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        let message = build_message(&self.from, &mail)?;
        tokio::fs::create_dir_all(&self.dir).await?;
        let stamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second].[subsecond digits:3]Z"
            ))
            .unwrap_or_default();
        let name = format!("{stamp}-{}.eml", crate::auth::crypto::generate_id());
        let path = self.dir.join(&name);
        // Written under a temporary name and renamed, so a reader never sees half a message.
        let partial = self.dir.join(format!(".{name}.part"));
        tokio::fs::write(&partial, message.formatted()).await?;
        tokio::fs::rename(&partial, &path).await?;
        tracing::info!(path = %path.display(), "mail written to a file (no TASKCHAT_SMTP_URL)");
        Ok(())
    }
}

fn build_message(from: &Mailbox, mail: &Mail) -> anyhow::Result<Message> {
    let to: Mailbox = mail.to.parse().map_err(|e| anyhow::anyhow!("recipient is not a mail address ({e})"))?;
    // Quoted-printable whatever the content, so long links survive every relay (no line over 76 characters).
    let part = |kind: header::ContentType, body: &str| {
        SinglePart::builder().header(kind).header(ContentTransferEncoding::QuotedPrintable).body(body.to_string())
    };
    Ok(Message::builder().from(from.clone()).to(to).subject(&mail.subject).multipart(
        MultiPart::alternative()
            .singlepart(part(header::ContentType::TEXT_PLAIN, &mail.text))
            .singlepart(part(header::ContentType::TEXT_HTML, &mail.html)),
    )?)
}

/// The From address when none is configured: `taskchat <taskchat@HOST>` for the base URL's host (a dotless
/// host such as `localhost` gets `.localdomain`, since mailbox parsers want a domain).
pub fn default_from(base_url: &str) -> String {
    let host = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest)
        .split(['/', ':', '?', '#'])
        .next()
        .unwrap_or("localhost")
        .trim_matches(['[', ']']);
    let host = if host.is_empty() || host.parse::<std::net::IpAddr>().is_ok() { "localhost" } else { host };
    let host = if host.contains('.') { host.to_string() } else { format!("{host}.localdomain") };
    format!("taskchat <taskchat@{host}>")
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A message with one link: a greeting, what it is for, the button, and what to do if it wasn't you.
fn with_link(to: &str, name: &str, subject: &str, lead: &str, button: &str, url: &str, footer: &str) -> Mail {
    let hello = if name.trim().is_empty() { "Hello,".to_string() } else { format!("Hello {},", name.trim()) };
    let text = format!("{hello}\n\n{lead}\n\n{url}\n\n{footer}\n\n-- taskchat\n");
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">\
         <p>{}</p><p>{}</p>\
         <p><a href=\"{}\" style=\"display:inline-block;padding:.6em 1.2em;background:#2563eb;color:#fff;\
         border-radius:6px;text-decoration:none\">{}</a></p>\
         <p style=\"font-size:.9em;color:#555\">Or open this link: <br>{}</p>\
         <p style=\"font-size:.9em;color:#555\">{}</p></body></html>",
        escape_html(&hello),
        escape_html(lead),
        escape_html(url),
        escape_html(button),
        escape_html(url),
        escape_html(footer),
    );
    Mail { to: to.to_string(), subject: subject.to_string(), text, html }
}

pub fn password_reset(to: &str, name: &str, url: &str, valid_minutes: i64) -> Mail {
    with_link(
        to,
        name,
        "Reset your taskchat password",
        &format!(
            "Someone asked to reset the password of your taskchat account. The link below works once, within {valid_minutes} minutes."
        ),
        "Choose a new password",
        url,
        "If you did not ask for this, ignore this message: your password stays as it is.",
    )
}

pub fn verify_email(to: &str, name: &str, url: &str) -> Mail {
    with_link(
        to,
        name,
        "Confirm your email address for taskchat",
        "Please confirm that this address is yours by opening the link below.",
        "Confirm my address",
        url,
        "If you did not create a taskchat account, ignore this message.",
    )
}

pub fn change_email(to: &str, name: &str, url: &str) -> Mail {
    with_link(
        to,
        name,
        "Confirm your new email address for taskchat",
        "Someone asked to use this address for their taskchat account. Open the link below to confirm it; until then the account keeps its old address.",
        "Use this address",
        url,
        "If you did not ask for this, ignore this message.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_from_uses_the_base_url_host() {
        assert_eq!(default_from("https://tasks.example.com/app"), "taskchat <taskchat@tasks.example.com>");
        assert_eq!(default_from("http://127.0.0.1:8080"), "taskchat <taskchat@localhost.localdomain>");
        assert_eq!(default_from("http://localhost:3000"), "taskchat <taskchat@localhost.localdomain>");
        assert!(default_from("http://[::1]:80").parse::<Mailbox>().is_ok());
    }

    #[test]
    fn messages_escape_html_and_carry_the_link() {
        let m = password_reset("a@b.co", "<Bob>", "https://x.example/r?a=1&b=2", 60);
        assert!(m.text.contains("https://x.example/r?a=1&b=2"));
        assert!(m.html.contains("&lt;Bob&gt;"));
        assert!(m.html.contains("https://x.example/r?a=1&amp;b=2"));
        let from: Mailbox = "taskchat <t@x.example>".parse().unwrap();
        let eml = String::from_utf8(build_message(&from, &m).unwrap().formatted()).unwrap();
        assert!(eml.contains("quoted-printable"));
        assert!(eml.lines().all(|l| l.len() <= 998));
    }

    #[test]
    fn bad_smtp_urls_are_refused_without_echoing_the_password() {
        let from: Mailbox = "t@x.example".parse().unwrap();
        let err = SmtpMailer::new("ftp://u:hunter2@x", from.clone()).err().unwrap().to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(SmtpMailer::new("smtp://u:p@127.0.0.1:2525", from.clone()).is_ok());
        assert!(SmtpMailer::new("smtp://127.0.0.1:587?tls=starttls", from.clone()).is_ok());
        assert!(SmtpMailer::new("smtps://u:p@mail.example.com", from).is_ok());
    }
}
