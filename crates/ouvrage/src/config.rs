//! Configuration: command-line flags, then `OUVRAGE_*` / `DATABASE_URL` environment variables
//! (clap reads both), then an optional TOML file, then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

/// Options shared by every subcommand.
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// TOML configuration file; its keys are the option names below in snake_case
    /// (addr, data, database_url, base_url, smtp_url, mail_from, max_upload_mb, s3_bucket,
    /// s3_endpoint, s3_region, metrics_token, orphan_grace_secs, db_wait_secs,
    /// db_acquire_timeout_secs, header_read_timeout_secs, request_timeout_secs).
    #[arg(long, env = "OUVRAGE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address the web server listens on [default: 127.0.0.1:8080].
    #[arg(long, env = "OUVRAGE_ADDR", global = true)]
    pub addr: Option<SocketAddr>,
    /// Directory for the SQLite database, stored files and e-mails written without SMTP
    /// [default: ./data].
    #[arg(long, env = "OUVRAGE_DATA", global = true)]
    pub data: Option<PathBuf>,
    /// Database to use: postgres://user:pass@host/db for PostgreSQL
    /// [default: SQLite file ouvrage.db in the data directory].
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Public address of the site, used in links sent by e-mail [default: http://ADDR].
    #[arg(long, env = "OUVRAGE_BASE_URL", global = true)]
    pub base_url: Option<String>,
    /// SMTP server for outgoing mail: smtp://user:pass@host:587 (STARTTLS), smtps://… (TLS) or
    /// smtp://host:25?tls=none for a local relay. Without it, mails are written as .eml files
    /// under DATA/mail.
    #[arg(long, env = "OUVRAGE_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of outgoing mail [default: ouvrage <no-reply@localhost>].
    #[arg(long, env = "OUVRAGE_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,
    /// Largest accepted upload, in megabytes [default: 25].
    #[arg(long, env = "OUVRAGE_MAX_UPLOAD_MB", global = true)]
    pub max_upload_mb: Option<u64>,
    /// Store files in this S3-compatible bucket instead of DATA/files (credentials from
    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).
    #[arg(long, env = "OUVRAGE_S3_BUCKET", global = true)]
    pub s3_bucket: Option<String>,
    /// Endpoint of the S3-compatible service (e.g. http://127.0.0.1:9000 for MinIO).
    #[arg(long, env = "OUVRAGE_S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,
    /// Region of the S3 bucket [default: us-east-1].
    #[arg(long, env = "OUVRAGE_S3_REGION", global = true)]
    pub s3_region: Option<String>,
    /// Bearer token required to read /metrics; without it /metrics answers only on loopback.
    #[arg(long, env = "OUVRAGE_METRICS_TOKEN", global = true, hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Stored bytes no file points to are deleted once older than this many seconds (at
    /// start-up and hourly): an upload whose row was never written, after a crash. Long enough
    /// for another instance's upload in flight [default: 900].
    #[arg(long, env = "OUVRAGE_ORPHAN_GRACE_SECS", global = true)]
    pub orphan_grace_secs: Option<u64>,
    /// At start-up, how long to keep retrying a PostgreSQL server that does not answer (it may
    /// be starting too) before giving up, in seconds [default: 60].
    #[arg(long, env = "OUVRAGE_DB_WAIT_SECS", global = true)]
    pub db_wait_secs: Option<u64>,
    /// How long a request waits for a database connection before answering 503, in seconds
    /// [default: 5 for PostgreSQL, 10 for SQLite].
    #[arg(long, env = "OUVRAGE_DB_ACQUIRE_TIMEOUT_SECS", global = true)]
    pub db_acquire_timeout_secs: Option<u64>,
    /// A client that has not sent a request's headers within this many seconds is disconnected
    /// (slow-client attacks) [default: 30].
    #[arg(long, env = "OUVRAGE_HEADER_READ_TIMEOUT_SECS", global = true)]
    pub header_read_timeout_secs: Option<u64>,
    /// Longest time to receive a request's body and answer it, in seconds; past it the client
    /// gets 408 [default: 300, so that a full-size upload from a site's mobile link (25 MB at
    /// 1 Mbit/s) still arrives].
    #[arg(long, env = "OUVRAGE_REQUEST_TIMEOUT_SECS", global = true)]
    pub request_timeout_secs: Option<u64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    addr: Option<SocketAddr>,
    data: Option<PathBuf>,
    database_url: Option<String>,
    base_url: Option<String>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    max_upload_mb: Option<u64>,
    s3_bucket: Option<String>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    metrics_token: Option<String>,
    orphan_grace_secs: Option<u64>,
    db_wait_secs: Option<u64>,
    db_acquire_timeout_secs: Option<u64>,
    header_read_timeout_secs: Option<u64>,
    request_timeout_secs: Option<u64>,
}

#[derive(Clone, Debug)]
pub enum StorageConfig {
    Local { root: PathBuf },
    S3 { bucket: String, endpoint: Option<String>, region: String },
}

#[derive(Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub base_url: String,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub max_upload_bytes: u64,
    pub storage: StorageConfig,
    pub metrics_token: Option<String>,
    /// See [`ConfigArgs::orphan_grace_secs`].
    pub orphan_grace_secs: u64,
    /// Background workers (outbox, jobs) run in this process. Tests turn them off to stage work.
    pub workers: bool,
    /// How often idle workers look for due work.
    pub worker_poll_ms: u64,
    /// See [`ConfigArgs::db_wait_secs`].
    pub db_wait: Duration,
    /// See [`ConfigArgs::db_acquire_timeout_secs`]; `None` for the engine's default.
    pub db_acquire_timeout: Option<Duration>,
    /// See [`ConfigArgs::header_read_timeout_secs`].
    pub header_read_timeout: Duration,
    /// See [`ConfigArgs::request_timeout_secs`].
    pub request_timeout: Duration,
}

/// Written by hand so that secrets (SMTP and database passwords, the metrics token) never reach
/// a log line.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("base_url", &self.base_url)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("mail_from", &self.mail_from)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("storage", &self.storage)
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "***"))
            .field("orphan_grace_secs", &self.orphan_grace_secs)
            .field("workers", &self.workers)
            .field("db_wait", &self.db_wait)
            .field("db_acquire_timeout", &self.db_acquire_timeout)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// The URL with its password replaced by `***`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<adresse illisible>".into(),
    }
}

impl Config {
    pub fn load(args: &ConfigArgs) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let addr = args.addr.or(file.addr).unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid default"));
        let data_dir = args.data.clone().or(file.data).unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = args
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("ouvrage.db").display()));
        let base_url = args
            .base_url
            .clone()
            .or(file.base_url)
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_string();
        let storage = match args.s3_bucket.clone().or(file.s3_bucket) {
            Some(bucket) => StorageConfig::S3 {
                bucket,
                endpoint: args.s3_endpoint.clone().or(file.s3_endpoint),
                region: args.s3_region.clone().or(file.s3_region).unwrap_or_else(|| "us-east-1".into()),
            },
            None => StorageConfig::Local { root: data_dir.join("files") },
        };
        let at_least_a_second = |name: &str, value: u64| -> anyhow::Result<Duration> {
            anyhow::ensure!(value > 0, "{name} doit valoir au moins 1 seconde");
            Ok(Duration::from_secs(value))
        };
        let header_read_timeout = at_least_a_second(
            "header_read_timeout_secs",
            args.header_read_timeout_secs.or(file.header_read_timeout_secs).unwrap_or(30),
        )?;
        let request_timeout = at_least_a_second(
            "request_timeout_secs",
            args.request_timeout_secs.or(file.request_timeout_secs).unwrap_or(300),
        )?;
        let db_acquire_timeout = args
            .db_acquire_timeout_secs
            .or(file.db_acquire_timeout_secs)
            .map(|v| at_least_a_second("db_acquire_timeout_secs", v))
            .transpose()?;
        Ok(Config {
            addr,
            database_url,
            base_url,
            smtp_url: args.smtp_url.clone().or(file.smtp_url).filter(|s| !s.is_empty()),
            mail_from: args
                .mail_from
                .clone()
                .or(file.mail_from)
                .unwrap_or_else(|| "ouvrage <no-reply@localhost>".into()),
            max_upload_bytes: args.max_upload_mb.or(file.max_upload_mb).unwrap_or(25) * 1024 * 1024,
            storage,
            metrics_token: args.metrics_token.clone().or(file.metrics_token),
            orphan_grace_secs: args.orphan_grace_secs.or(file.orphan_grace_secs).unwrap_or(900),
            data_dir,
            workers: true,
            worker_poll_ms: 1000,
            db_wait: Duration::from_secs(args.db_wait_secs.or(file.db_wait_secs).unwrap_or(60)),
            db_acquire_timeout,
            header_read_timeout,
            request_timeout,
        })
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    /// Session cookies get `Secure` when the site is served over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("impossible de lire le fichier de configuration {} : {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("fichier de configuration {} invalide : {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file_and_defaults_fill_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ouvrage.toml");
        std::fs::write(&path, "addr = \"127.0.0.1:9000\"\nmail_from = \"Test <t@x.fr>\"\n").unwrap();
        let args = ConfigArgs { config: Some(path.clone()), data: Some(dir.path().join("d")), ..Default::default() };
        let c = Config::load(&args).unwrap();
        assert_eq!(c.addr.port(), 9000);
        assert_eq!(c.mail_from, "Test <t@x.fr>");
        assert!(c.database_url.starts_with("sqlite://") && c.database_url.ends_with("d/ouvrage.db"));
        assert_eq!(c.base_url, "http://127.0.0.1:9000");
        let mut secret = c.clone();
        secret.smtp_url = Some("smtp://user:motdepasse-secret@mail.exemple.fr:587".into());
        secret.database_url = "postgres://app:autre-secret@db/ouvrage".into();
        let shown = format!("{secret:?}");
        assert!(!shown.contains("motdepasse-secret") && !shown.contains("autre-secret"), "{shown}");
        std::fs::write(&path, "adresse = 1\n").unwrap();
        assert!(Config::load(&args).unwrap_err().to_string().contains("invalide"));
    }
}
