//! How a queued message leaves the building: over SMTP (lettre) when `smtp_url` is set, or as
//! an RFC 5322 `.eml` file under `DATA/mail` otherwise. Errors are classified (retry later or
//! give up now) and scrubbed of credentials before anyone logs or stores them.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use lettre::message::header::ContentType;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;

/// An SMTP conversation (connect, TLS, auth, send) gives up after this long.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// A message as the worker claimed it from the outbox.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct QueuedMail {
    pub id: i64,
    pub message_id: String,
    pub to_addr: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub attempts: i64,
    pub created_at: i64,
    /// Extra headers (a JSON object of name → value, e.g. `List-Unsubscribe`), or `None`.
    pub extra_headers: Option<String>,
    /// The tenant whose files the attachments are.
    pub tenant_id: Option<i64>,
    /// Ids of stored files to attach, space-separated ("" for none).
    pub attachment_file_ids: String,
}

/// A file attached to a message, read from the file store when the message is sent.
#[derive(Clone, Debug)]
pub struct MailAttachment {
    pub name: String,
    pub content_type: String,
    pub bytes: bytes::Bytes,
}

/// Why a delivery failed, already free of secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth trying again later (server down, timeout, greylisting...).
    Temporary(String),
    /// Will never work (invalid recipient address): fail the message now.
    Permanent(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Temporary(m) | Failure::Permanent(m) => m,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: plain connection upgraded with STARTTLS, which is required.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://…?tls=none`: no encryption, for a relay on the same machine or network.
    None,
}

/// What `smtp_url` says, credentials decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Parses `smtp://user:pass@host:port`, `smtps://…` or `smtp://host:25?tls=none`. The error
/// never repeats the password.
pub fn parse_smtp_url(raw: &str) -> Result<SmtpSettings, String> {
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("adresse SMTP invalide ({e})"))?;
    let tls = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.to_string());
    let security = match (url.scheme(), tls.as_deref()) {
        ("smtp", None | Some("required" | "starttls")) => SmtpSecurity::StartTls,
        ("smtp", Some("none")) => SmtpSecurity::None,
        ("smtps", None | Some("required" | "implicit")) => SmtpSecurity::Implicit,
        ("smtp" | "smtps", Some(other)) => {
            return Err(format!(
                "paramètre tls={other} inconnu dans l'adresse SMTP (valeurs possibles : required, none)"
            ));
        }
        (scheme, _) => {
            return Err(format!("l'adresse SMTP doit commencer par smtp:// ou smtps:// (et non {scheme}://)"));
        }
    };
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or("l'adresse SMTP n'indique pas de serveur")?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = url.port().unwrap_or(match security {
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Implicit => 465,
        SmtpSecurity::None => 25,
    });
    let username = (!url.username().is_empty())
        .then(|| percent_decode(url.username()))
        .transpose()
        .map_err(|_| "identifiant SMTP mal encodé".to_string())?;
    let password =
        url.password().map(percent_decode).transpose().map_err(|_| "mot de passe SMTP mal encodé".to_string())?;
    Ok(SmtpSettings { host, port, security, username, password })
}

/// Decodes `%XX` escapes (a `+` stays a `+`: this is a URL's user info, not a form).
fn percent_decode(s: &str) -> Result<String, ()> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(())?;
            let hex = std::str::from_utf8(hex).map_err(|_| ())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

/// Where messages go.
#[derive(Clone)]
pub enum Transport {
    Smtp { transport: AsyncSmtpTransport<Tokio1Executor>, secrets: Vec<String> },
    Files { dir: PathBuf },
}

impl Transport {
    pub fn from_config(config: &Config) -> Result<Transport, String> {
        let Some(raw) = config.smtp_url.as_deref() else {
            return Ok(Transport::Files { dir: config.mail_dir() });
        };
        let s = parse_smtp_url(raw)?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone())
            .port(s.port)
            .timeout(Some(SMTP_TIMEOUT));
        let tls = || {
            TlsParameters::new(s.host.clone())
                .map_err(|e| format!("configuration TLS impossible pour {} : {}", s.host, describe(&e)))
        };
        builder = match s.security {
            SmtpSecurity::StartTls => builder.tls(Tls::Required(tls()?)),
            SmtpSecurity::Implicit => builder.tls(Tls::Wrapper(tls()?)),
            SmtpSecurity::None => builder.tls(Tls::None),
        };
        if let Some(user) = &s.username {
            builder = builder.credentials(Credentials::new(user.clone(), s.password.clone().unwrap_or_default()));
        }
        // Every form in which the password could show up in an error text.
        let mut secrets = Vec::new();
        if let Some(p) = s.password.as_ref().filter(|p| !p.is_empty()) {
            secrets.push(p.clone());
        }
        if let Ok(url) = url::Url::parse(raw.trim())
            && let Some(p) = url.password().filter(|p| !p.is_empty())
        {
            secrets.push(p.to_string());
        }
        secrets.push(raw.trim().to_string());
        Ok(Transport::Smtp { transport: builder.build(), secrets })
    }

    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp { .. } => "SMTP".into(),
            Transport::Files { dir } => format!("fichiers .eml dans {}", dir.display()),
        }
    }

    /// Delivers one message. `Ok` means the server accepted it (or the file is in place).
    pub async fn deliver(&self, from: &str, mail: &QueuedMail, attachments: &[MailAttachment]) -> Result<(), Failure> {
        let message = build_message(from, mail, attachments)?;
        match self {
            Transport::Smtp { transport, secrets } => match transport.send(message).await {
                Ok(_) => Ok(()),
                Err(e) => Err(Failure::Temporary(sanitize(&format!("envoi SMTP : {}", describe(&e)), secrets))),
            },
            Transport::Files { dir } => write_eml(dir, mail.id, &message.formatted())
                .await
                .map_err(|e| Failure::Temporary(format!("écriture du fichier .eml dans {} : {e}", dir.display()))),
        }
    }
}

/// The RFC 5322 message for a queued mail: its text (and HTML) alone, or in a multipart/mixed
/// message followed by the attachments.
pub fn build_message(from: &str, mail: &QueuedMail, attachments: &[MailAttachment]) -> Result<Message, Failure> {
    let from: Mailbox = from.parse().map_err(|e| {
        Failure::Temporary(format!("adresse d'expéditeur invalide « {from} » ({e}) : corrigez mail_from"))
    })?;
    let to: Mailbox = mail
        .to_addr
        .trim()
        .parse()
        .map_err(|_| Failure::Permanent(format!("adresse du destinataire invalide : « {} »", mail.to_addr)))?;
    let subject: String = mail.subject.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let date = SystemTime::UNIX_EPOCH + Duration::from_millis(mail.created_at.max(0) as u64);
    let mut builder =
        Message::builder().from(from).to(to).subject(subject).message_id(Some(mail.message_id.clone())).date(date);
    for (name, value) in extra_headers(mail.extra_headers.as_deref())? {
        builder = builder.raw_header(value_of(name, value)?);
    }
    let built = if attachments.is_empty() {
        match &mail.body_html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(mail.body_text.clone(), html.clone())),
            None => builder.singlepart(SinglePart::plain(mail.body_text.clone())),
        }
    } else {
        let mut mixed = match &mail.body_html {
            Some(html) => {
                MultiPart::mixed().multipart(MultiPart::alternative_plain_html(mail.body_text.clone(), html.clone()))
            }
            None => MultiPart::mixed().singlepart(SinglePart::plain(mail.body_text.clone())),
        };
        for a in attachments {
            let content_type = ContentType::parse(&a.content_type)
                .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("a valid media type"));
            mixed = mixed.singlepart(Attachment::new(a.name.clone()).body(a.bytes.to_vec(), content_type));
        }
        builder.multipart(mixed)
    };
    built.map_err(|e| Failure::Permanent(format!("message impossible à construire : {e}")))
}

/// Headers the message builder sets itself: an extra header may never replace or double them.
const RESERVED_HEADERS: &[&str] =
    &["from", "to", "cc", "bcc", "reply-to", "sender", "subject", "date", "message-id", "mime-version", "return-path"];

/// The stored extra headers, in a stable order (JSON object → name/value pairs).
fn extra_headers(stored: Option<&str>) -> Result<Vec<(String, String)>, Failure> {
    let Some(raw) = stored.map(str::trim).filter(|s| !s.is_empty() && *s != "null") else {
        return Ok(Vec::new());
    };
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw)
        .map_err(|e| Failure::Permanent(format!("en-têtes supplémentaires illisibles : {e}")))?;
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        let serde_json::Value::String(value) = value else {
            return Err(Failure::Permanent(format!("en-tête « {name} » : la valeur doit être un texte")));
        };
        out.push((name, value));
    }
    Ok(out)
}

/// One extra header, checked so that nothing can inject another header or a second body: the
/// name is letters, digits and dashes only and not one the builder owns; the value holds no
/// control character at all (CR and LF included).
fn value_of(name: String, value: String) -> Result<HeaderValue, Failure> {
    let valid_name = !name.is_empty()
        && name.len() <= 76
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.to_ascii_lowercase().starts_with("content-")
        && !RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str());
    if !valid_name {
        return Err(Failure::Permanent(format!("nom d'en-tête refusé : « {} »", name.escape_debug())));
    }
    if value.chars().any(char::is_control) || value.len() > 900 {
        return Err(Failure::Permanent(format!("valeur refusée pour l'en-tête « {name} »")));
    }
    let header_name = HeaderName::new_from_ascii(name.clone())
        .map_err(|_| Failure::Permanent(format!("nom d'en-tête refusé : « {name} »")))?;
    Ok(HeaderValue::new(header_name, value))
}

/// Writes the message under a temporary name, then renames it: a reader never sees half a file.
async fn write_eml(dir: &std::path::Path, id: i64, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    tokio::fs::create_dir_all(dir).await?;
    let final_path = dir.join(format!("{id}.eml"));
    let tmp_path = dir.join(format!(".{id}.eml.{}.tmp", std::process::id()));
    let mut file = tokio::fs::File::create(&tmp_path).await?;
    let written = async {
        file.write_all(bytes).await?;
        file.sync_all().await
    }
    .await;
    drop(file);
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&tmp_path).await;
        return Err(e);
    }
    tokio::fs::rename(&tmp_path, &final_path).await
}

/// An error with its chain of causes, on one line.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let msg = s.to_string();
        if !text.contains(&msg) {
            text.push_str(" : ");
            text.push_str(&msg);
        }
        source = s.source();
    }
    text
}

/// Removes every secret (password, whole URL) from an error text and bounds its length.
pub fn sanitize(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    // Longest first, so the URL is replaced before the password inside it.
    let mut secrets: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets {
        out = out.replace(s.as_str(), "***");
    }
    if out.chars().count() > 1000 {
        out = out.chars().take(1000).collect::<String>() + "…";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_choose_security_and_decode_credentials() {
        let s = parse_smtp_url("smtp://contact%40firme.fr:p%40ss%2Bw%3Ard@mail.firme.fr:587").unwrap();
        assert_eq!(s.security, SmtpSecurity::StartTls);
        assert_eq!((s.host.as_str(), s.port), ("mail.firme.fr", 587));
        assert_eq!(s.username.as_deref(), Some("contact@firme.fr"));
        assert_eq!(s.password.as_deref(), Some("p@ss+w:rd"));
        assert!(!format!("{s:?}").contains("p@ss"), "Debug never shows the password");

        let s = parse_smtp_url("smtps://u:p@smtp.exemple.fr").unwrap();
        assert_eq!((s.security, s.port), (SmtpSecurity::Implicit, 465));
        let s = parse_smtp_url("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!((s.security, s.port, s.username), (SmtpSecurity::None, 2525, None));
        assert_eq!(parse_smtp_url("smtp://relais").unwrap().port, 587);

        assert!(parse_smtp_url("http://x").unwrap_err().contains("smtp://"));
        assert!(parse_smtp_url("smtp://x?tls=peut-etre").unwrap_err().contains("tls=peut-etre"));
        assert!(parse_smtp_url("pas une adresse").is_err());
    }

    #[test]
    fn error_texts_lose_the_password() {
        let secrets = vec!["s3cr3t".to_string(), "smtp://u:s3cr3t@h:587".to_string()];
        let text = sanitize("connexion à smtp://u:s3cr3t@h:587 refusée (mot de passe s3cr3t)", &secrets);
        assert_eq!(text, "connexion à *** refusée (mot de passe ***)");
        assert!(sanitize(&"x".repeat(5000), &secrets).chars().count() <= 1001);
    }

    fn mail(to: &str, html: Option<&str>) -> QueuedMail {
        QueuedMail {
            id: 7,
            message_id: "<abc@ouvrage>".into(),
            to_addr: to.into(),
            subject: "Réinitialisation\r\nBcc: intrus@exemple.fr".into(),
            body_text: "Bonjour,\nvoici le lien.".into(),
            body_html: html.map(str::to_string),
            attempts: 0,
            created_at: 1_782_907_200_000,
            extra_headers: None,
            tenant_id: None,
            attachment_file_ids: String::new(),
        }
    }

    #[test]
    fn extra_headers_are_added_and_cannot_inject() {
        let mut m = mail("jean@exemple.fr", None);
        m.extra_headers = Some(
            serde_json::json!({
                "List-Unsubscribe": "<https://ouvrage.example/desabonnement/42.abcdef>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            })
            .to_string(),
        );
        let text = String::from_utf8(build_message("no-reply@localhost", &m, &[]).unwrap().formatted()).unwrap();
        assert!(text.contains("\r\nList-Unsubscribe: <https://ouvrage.example/desabonnement/42.abcdef>\r\n"), "{text}");
        assert!(text.contains("\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"), "{text}");

        for bad in [
            serde_json::json!({"X-Test": "a\r\nBcc: intrus@exemple.fr"}),
            serde_json::json!({"X-Test\r\nBcc": "intrus@exemple.fr"}),
            serde_json::json!({"Bcc": "intrus@exemple.fr"}),
            serde_json::json!({"Content-Type": "text/html"}),
            serde_json::json!({"X Test": "valeur"}),
            serde_json::json!({"X-Test": 3}),
        ] {
            m.extra_headers = Some(bad.to_string());
            let err = build_message("no-reply@localhost", &m, &[]).unwrap_err();
            assert!(matches!(err, Failure::Permanent(_)), "{bad}: {err:?}");
        }
        m.extra_headers = Some("pas du JSON".into());
        assert!(matches!(build_message("no-reply@localhost", &m, &[]), Err(Failure::Permanent(_))));
        m.extra_headers = Some("null".into());
        assert!(build_message("no-reply@localhost", &m, &[]).is_ok());
    }

    #[test]
    fn messages_carry_the_stored_id_and_reject_bad_recipients() {
        let m = build_message("ouvrage <no-reply@localhost>", &mail("jean@exemple.fr", None), &[]).unwrap();
        let text = String::from_utf8(m.formatted()).unwrap();
        assert!(text.contains("Message-ID: <abc@ouvrage>"), "{text}");
        assert!(text.contains("To: jean@exemple.fr"));
        assert!(text.contains("Date: Wed, 01 Jul 2026 12:00:00"), "{text}");
        assert!(!text.contains("\r\nBcc:"), "a subject cannot inject headers: {text}");

        let m = build_message("no-reply@localhost", &mail("jean@exemple.fr", Some("<p>Bonjour</p>")), &[]).unwrap();
        let text = String::from_utf8(m.formatted()).unwrap();
        assert!(text.contains("multipart/alternative") && text.contains("text/html"));

        let err = build_message("no-reply@localhost", &mail("pas-une-adresse", None), &[]).unwrap_err();
        assert!(matches!(err, Failure::Permanent(ref m) if m.contains("pas-une-adresse")), "{err:?}");
        let err = build_message("n'importe quoi", &mail("jean@exemple.fr", None), &[]).unwrap_err();
        assert!(matches!(err, Failure::Temporary(_)));
    }

    #[test]
    fn attachments_make_a_mixed_message() {
        let pdf = MailAttachment {
            name: "Facture F2026-0042.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: bytes::Bytes::from_static(b"%PDF-1.4\n%%EOF\n"),
        };
        let m = build_message("no-reply@localhost", &mail("jean@exemple.fr", None), &[pdf]).unwrap();
        let text = String::from_utf8(m.formatted()).unwrap();
        assert!(text.contains("Content-Type: multipart/mixed"), "{text}");
        assert!(text.contains("Content-Type: text/plain"), "{text}");
        assert!(text.contains("Content-Type: application/pdf"), "{text}");
        assert!(text.contains("Content-Disposition: attachment; filename=\"Facture F2026-0042.pdf\""), "{text}");
    }

    #[tokio::test]
    async fn eml_files_appear_whole() {
        let dir = tempfile::tempdir().unwrap();
        let t = Transport::Files { dir: dir.path().join("mail") };
        t.deliver("no-reply@localhost", &mail("jean@exemple.fr", None), &[]).await.unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path().join("mail"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["7.eml".to_string()]);
    }
}
