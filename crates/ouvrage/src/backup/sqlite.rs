//! SQLite: the snapshot is `VACUUM INTO` (one read transaction, so a consistent copy while the
//! server writes); restore checks the copy then renames it over the database file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection};

use super::{Snapshot, quote_ident};
use crate::cli::InputError;

fn database_file(url: &str) -> anyhow::Result<PathBuf> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| InputError(format!("adresse de base SQLite invalide : {e}")))?;
    Ok(options.get_filename().to_path_buf())
}

/// Opens a database file read-only; `immutable` for a file nothing else writes (a snapshot).
async fn open_read_only(file: &Path, immutable: bool) -> anyhow::Result<SqliteConnection> {
    let options = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .immutable(immutable)
        .busy_timeout(Duration::from_secs(10));
    SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| anyhow::anyhow!("impossible d'ouvrir la base SQLite {} : {e}", file.display()))
}

async fn tables(conn: &mut SqliteConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(conn)
    .await
}

async fn row_counts(conn: &mut SqliteConnection) -> anyhow::Result<BTreeMap<String, i64>> {
    let mut counts = BTreeMap::new();
    for table in tables(conn).await? {
        let sql = format!("SELECT COUNT(*) FROM {}", quote_ident(&table));
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut *conn).await?;
        counts.insert(table, n);
    }
    Ok(counts)
}

pub(super) async fn snapshot(url: &str, dump: &Path) -> anyhow::Result<Snapshot> {
    let file = database_file(url)?;
    if !file.is_file() {
        return Err(InputError(format!("aucune base SQLite à {} : rien à sauvegarder", file.display())).into());
    }
    // Like the server's connections (WAL, busy timeout), without creating anything.
    let options = SqliteConnectOptions::new().filename(&file).busy_timeout(Duration::from_secs(10));
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| anyhow::anyhow!("impossible d'ouvrir la base SQLite {} : {e}", file.display()))?;
    let target = std::path::absolute(dump)?;
    let target = target.to_str().ok_or_else(|| InputError("le chemin de la sauvegarde doit être en UTF-8".into()))?;
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(&mut conn)
        .await
        .map_err(|e| anyhow::anyhow!("copie de la base SQLite impossible (VACUUM INTO) : {e}"))?;
    conn.close().await?;
    std::fs::File::open(dump)?.sync_all()?;

    // Everything recorded about the snapshot is read from the snapshot.
    let mut snap = open_read_only(dump, true).await?;
    let tables = row_counts(&mut snap).await?;
    if !tables.contains_key("schema_migrations") || !tables.contains_key("files") {
        return Err(
            InputError(format!("{} n'est pas une base ouvrage (aucune migration appliquée)", file.display())).into()
        );
    }
    let schema_version: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetch_one(&mut snap).await?;
    let objects: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT sha256 FROM files ORDER BY sha256").fetch_all(&mut snap).await?;
    snap.close().await?;
    Ok(Snapshot { schema_version, tables, objects, postgres_schema: None })
}

/// The tables of the target database holding at least one row (the bookkeeping of migrations
/// aside): empty when the database does not exist yet.
pub(super) async fn tables_with_rows(url: &str) -> anyhow::Result<Vec<String>> {
    let file = database_file(url)?;
    match std::fs::metadata(&file) {
        Ok(meta) if meta.len() == 0 => return Ok(Vec::new()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(anyhow::anyhow!("impossible de lire {} : {e}", file.display())),
    }
    let mut conn = open_read_only(&file, false).await?;
    let mut filled = Vec::new();
    for table in tables(&mut conn).await? {
        if table == "schema_migrations" {
            continue;
        }
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", quote_ident(&table));
        let any: bool = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut conn).await?;
        if any {
            filled.push(table);
        }
    }
    conn.close().await?;
    Ok(filled)
}

/// Puts the snapshot in place of the database file. The copy is checked against the manifest's
/// row counts before it replaces anything; the rename is the one step that changes the target.
pub(super) async fn restore(url: &str, dump: &Path, expected: &BTreeMap<String, i64>) -> anyhow::Result<()> {
    let file = database_file(url)?;
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("impossible de créer {} : {e}", dir.display()))?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "ouvrage.db".into());
    let staged = dir.join(format!(".{name}.restauration"));
    let result = async {
        std::fs::copy(dump, &staged)
            .map_err(|e| anyhow::anyhow!("copie de la sauvegarde vers {} impossible : {e}", staged.display()))?;
        std::fs::File::open(&staged)?.sync_all()?;
        let mut conn = open_read_only(&staged, true).await?;
        let counts = row_counts(&mut conn).await?;
        conn.close().await?;
        anyhow::ensure!(
            counts == *expected,
            "la base copiée ne contient pas les lignes notées dans le manifeste : restauration abandonnée"
        );
        // A journal left by the replaced database would be replayed into the restored one.
        for suffix in ["-wal", "-shm", "-journal"] {
            let side = dir.join(format!("{name}{suffix}"));
            match std::fs::remove_file(&side) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => anyhow::bail!("impossible de supprimer {} : {e}", side.display()),
            }
        }
        std::fs::rename(&staged, &file)
            .map_err(|e| anyhow::anyhow!("impossible de mettre la base en place ({}) : {e}", file.display()))?;
        super::sync_dir(&dir)?;
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    result
}
