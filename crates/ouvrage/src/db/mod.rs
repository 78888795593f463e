//! The storage layer's connection handling: one `Db` for SQLite or PostgreSQL, chosen once from
//! the URL scheme. Queries are written once in portable SQL (`$1` placeholders work on both
//! engines) and run on whichever engine backs the pool through [`on_db!`] and [`on_tx!`].

pub mod conditions;
mod migrate;

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Postgres, Sqlite, Transaction};

pub use migrate::{MIGRATIONS, migrate};

/// Runs `$body` with `$c` bound to the engine's pool (`&SqlitePool` or `&PgPool`).
#[macro_export]
macro_rules! on_db {
    ($db:expr, |$c:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($c) => $body,
            $crate::db::Db::Postgres($c) => $body,
        }
    };
}

/// Runs `$body` with `$c` bound to the transaction's connection.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::Tx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// Like [`on_db!`] for statements run with `.execute(..)`: yields the number of rows affected.
#[macro_export]
macro_rules! exec_db {
    ($db:expr, |$c:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($c) => $body.map(|r| r.rows_affected()),
            $crate::db::Db::Postgres($c) => $body.map(|r| r.rows_affected()),
        }
    };
}

/// Like [`on_tx!`] for statements run with `.execute(..)`: yields the number of rows affected.
#[macro_export]
macro_rules! exec_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body.map(|r| r.rows_affected())
            }
            $crate::db::Tx::Postgres(t) => {
                let $c = &mut **t;
                $body.map(|r| r.rows_affected())
            }
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Pool acquire timeouts when the configuration sets none: a request waits this long for a
/// connection before answering 503. SQLite queues writers on its busy timeout, so it gets longer.
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
const SQLITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest pause between two connection attempts at start-up.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(10);

impl Db {
    /// Opens the database named by `url` (`sqlite://…` or `postgres://…`), once.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        Db::connect_with(url, None, Duration::ZERO).await
    }

    /// Opens the database with the pool's `acquire_timeout` (the engine's default when `None`).
    /// A PostgreSQL server that does not answer is retried, with growing pauses, for up to
    /// `patience`: at boot the application may well start before its database. Each retry is
    /// said on standard error. Wrong credentials or a missing database fail at once.
    pub async fn connect_with(url: &str, acquire_timeout: Option<Duration>, patience: Duration) -> anyhow::Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            connect_postgres(url, acquire_timeout.unwrap_or(POSTGRES_ACQUIRE_TIMEOUT), patience).await
        } else if url.starts_with("sqlite:") {
            connect_sqlite(url, acquire_timeout.unwrap_or(SQLITE_ACQUIRE_TIMEOUT)).await
        } else {
            anyhow::bail!("adresse de base de données non reconnue : elle doit commencer par sqlite: ou postgres://")
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            // BEGIN IMMEDIATE takes the write lock up front, so two writers queue on the busy
            // timeout instead of failing with SQLITE_BUSY when they upgrade a read lock.
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A cheap round trip, for `/healthz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        exec_db!(self, |p| sqlx::query("SELECT 1").execute(p).await).map(|_| ())
    }

    pub async fn close(&self) {
        on_db!(self, |p| p.close().await)
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Tx::Sqlite(_) => Engine::Sqlite,
            Tx::Postgres(_) => Engine::Postgres,
        }
    }
}

async fn connect_postgres(url: &str, acquire_timeout: Duration, patience: Duration) -> anyhow::Result<Db> {
    let shown = crate::config::redact_url(url);
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("adresse de base de données PostgreSQL invalide ({shown}) : {e}"))?;
    let started = Instant::now();
    let mut pause = Duration::from_secs(1);
    let mut retried = false;
    loop {
        let attempt = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(acquire_timeout)
            .connect_with(options.clone())
            .await;
        let e = match attempt {
            Ok(pool) => {
                if retried {
                    eprintln!("ouvrage : la base de données PostgreSQL répond ; démarrage.");
                }
                return Ok(Db::Postgres(pool));
            }
            Err(e) => e,
        };
        if !is_unavailable(&e) {
            return Err(refused_connection(&shown, &e));
        }
        let remaining = patience.saturating_sub(started.elapsed());
        if remaining.is_zero() {
            let waited = if patience.is_zero() {
                "ne répond pas".to_string()
            } else {
                format!("ne répond toujours pas après {} s d'attente", patience.as_secs())
            };
            anyhow::bail!(
                "la base de données PostgreSQL ({shown}) {waited} : {e}. \
                 Vérifiez qu'elle est démarrée et joignable à cette adresse."
            );
        }
        let wait = pause.min(remaining);
        eprintln!(
            "ouvrage : la base de données PostgreSQL ({shown}) ne répond pas ({e}) ; nouvel essai dans {} s \
             (abandon après {} s).",
            wait.as_millis().div_ceil(1000),
            patience.as_secs()
        );
        tokio::time::sleep(wait).await;
        pause = (pause * 2).min(MAX_RETRY_PAUSE);
        retried = true;
    }
}

/// The server answered but refused us: no point in retrying.
fn refused_connection(shown: &str, e: &sqlx::Error) -> anyhow::Error {
    let code = match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.to_string()),
        _ => None,
    };
    let why = match code.as_deref() {
        Some("28P01" | "28000") => "l'utilisateur ou le mot de passe est refusé",
        Some("3D000") => "cette base de données n'existe pas sur le serveur",
        _ => "le serveur refuse la connexion",
    };
    anyhow::anyhow!("impossible d'ouvrir la base de données PostgreSQL ({shown}) : {why} ({e}).")
}

async fn connect_sqlite(url: &str, acquire_timeout: Duration) -> anyhow::Result<Db> {
    let unopenable = |e: sqlx::Error| {
        let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
        anyhow::anyhow!(
            "impossible d'ouvrir la base de données SQLite {path} : {e}. Vérifiez que son dossier existe et \
             que ce compte peut y écrire."
        )
    };
    let options = SqliteConnectOptions::from_str(url)
        .map_err(unopenable)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        .pragma("temp_store", "memory")
        // The log file is cut back to this size when it restarts (features::workers checkpoints).
        .pragma("journal_size_limit", "67108864");
    // SQLite has one writer at a time; a handful of readers is plenty.
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .min_connections(1)
        .acquire_timeout(acquire_timeout)
        .after_connect(|conn, _| Box::pin(async move { stable_query_plans(conn).await }))
        .connect_with(options)
        .await
        .map_err(unopenable)?;
    Ok(Db::Sqlite(pool))
}

/// Turns on SQLite's query planner stability guarantee for the connection. Without it, a
/// statement whose plan could depend on a bound value (a bound `LIMIT`, for one) is compiled
/// again at every execution, which cost list pages a fifth of their time; our queries are
/// written for their indexes, not for the values bound to them.
async fn stable_query_plans(conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is the live handle of this connection, held locked for the call; the option
    // takes an int and an optional out-pointer, which may be null.
    let rc = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1i32,
            std::ptr::null_mut::<i32>(),
        )
    };
    if rc == libsqlite3_sys::SQLITE_OK {
        Ok(())
    } else {
        Err(sqlx::Error::Configuration(format!("sqlite3_db_config(ENABLE_QPSG) returned {rc}").into()))
    }
}

/// True when the database cannot be reached right now (server down, connection lost, pool
/// exhausted), as opposed to a wrong query: requests answer 503 and may be retried.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL's connection exceptions (08…), shutdown and start-up (57P01–57P03), and
        // too many connections (53300).
        sqlx::Error::Database(d) => {
            d.code().is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300"))
        }
        _ => false,
    }
}

/// True when PostgreSQL refused text it cannot store (a NUL byte: 22021, or a character outside
/// the database's encoding: 22P05): bad input, not a fault of ours.
pub fn is_unstorable_text(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(d) if d.code().is_some_and(|c| c == "22021" || c == "22P05"))
}

/// True when the error is a unique-constraint violation (on either engine).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}
