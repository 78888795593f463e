//! PostgreSQL: the snapshot is `pg_dump` run on a snapshot exported by a repeatable-read
//! transaction, in which the row counts and the stored objects are read too, so the manifest
//! describes exactly what the dump holds. Restore pipes `pg_restore`'s script into `psql` as a
//! single transaction that first empties the schema and ends by checking the row counts: it
//! either replaces everything or changes nothing.
//!
//! The password never appears on a command line (where `ps` shows it) nor in a message: the
//! tools get the URL without it and the password through `PGPASSWORD`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::{Snapshot, quote_ident};
use crate::cli::InputError;
use crate::config::redact_url;

/// Query parameters of the URL that libpq understands; the others (sqlx's own) are dropped.
const LIBPQ_PARAMETERS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "connect_timeout",
    "client_encoding",
    "options",
    "application_name",
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslcrl",
    "sslsni",
    "gssencmode",
    "channel_binding",
    "target_session_attrs",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
];

/// The connection the PostgreSQL tools are given: the URL without its password, and the
/// password apart for `PGPASSWORD`.
struct ToolConnection {
    url: String,
    password: Option<String>,
}

impl ToolConnection {
    fn from_url(raw: &str) -> anyhow::Result<ToolConnection> {
        let mut url = url::Url::parse(raw)
            .map_err(|_| InputError(format!("adresse PostgreSQL illisible : {}", redact_url(raw))))?;
        let password = url.password().map(percent_decode);
        let _ = url.set_password(None);
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| LIBPQ_PARAMETERS.contains(&k.as_ref()))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        if !kept.is_empty() {
            url.query_pairs_mut().extend_pairs(kept);
        }
        Ok(ToolConnection { url: url.to_string(), password })
    }

    fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        if let Some(p) = &self.password {
            c.env("PGPASSWORD", p);
        }
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true);
        c
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i + 1..i + 3) {
            Some(&[h, l]) if bytes[i] == b'%' && h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                u8::from_str_radix(std::str::from_utf8(&[h, l]).unwrap_or("00"), 16).ok()
            }
            _ => None,
        };
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Finds a PostgreSQL client program: on PATH first, then in the newest
/// /usr/lib/postgresql/<version>/bin (Debian and Ubuntu install them there).
fn find_tool(name: &str) -> anyhow::Result<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let candidate = e.path().join("bin").join(name);
            candidate.is_file().then_some((version, candidate))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p).ok_or_else(|| {
        anyhow::anyhow!(
            "le programme {name} est introuvable (ni dans le PATH, ni dans /usr/lib/postgresql/*/bin) : installez \
             les outils clients de PostgreSQL (paquet postgresql-client), dans une version au moins égale à celle \
             du serveur"
        )
    })
}

/// Runs a prepared command and turns a failure into a message with the tool's own words.
async fn run(mut command: Command, what: &str) -> anyhow::Result<()> {
    let output = command.output().await.map_err(|e| anyhow::anyhow!("impossible de lancer {what} : {e}"))?;
    if !output.status.success() {
        anyhow::bail!("{what} a échoué ({}) : {}", output.status, tool_message(&output.stderr));
    }
    Ok(())
}

/// The last lines a tool wrote on its standard error (enough to say why it failed).
fn tool_message(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(5)..];
    if tail.is_empty() { "aucun message".into() } else { tail.join(" / ") }
}

async fn connect(url: &str) -> anyhow::Result<PgConnection> {
    PgConnection::connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("connexion à PostgreSQL ({}) impossible : {e}", redact_url(url)))
}

pub(super) async fn snapshot(url: &str, dump: &Path) -> anyhow::Result<Snapshot> {
    let pg_dump = find_tool("pg_dump")?;
    let tool = ToolConnection::from_url(url)?;
    let mut conn = connect(url).await?;
    // The transaction's snapshot, shared with pg_dump: what is counted here is what it dumps.
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut conn).await?;
    let snapshot_id: String = sqlx::query_scalar("SELECT pg_export_snapshot()").fetch_one(&mut conn).await?;
    let schema: String = sqlx::query_scalar("SELECT current_schema()::text").fetch_one(&mut conn).await?;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY tablename")
            .bind(&schema)
            .fetch_all(&mut conn)
            .await?;
    if !names.iter().any(|t| t == "schema_migrations") || !names.iter().any(|t| t == "files") {
        return Err(InputError(format!(
            "la base {} n'est pas une base ouvrage (aucune migration appliquée)",
            redact_url(url)
        ))
        .into());
    }
    let mut tables = BTreeMap::new();
    for table in names {
        let sql = format!("SELECT COUNT(*) FROM {}.{}", quote_ident(&schema), quote_ident(&table));
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut conn).await?;
        tables.insert(table, n);
    }
    let schema_version: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetch_one(&mut conn).await?;
    let objects: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT sha256 FROM files ORDER BY sha256").fetch_all(&mut conn).await?;

    let mut command = tool.command(&pg_dump);
    command
        .arg("--format=custom")
        .arg(format!("--snapshot={snapshot_id}"))
        .arg("--file")
        .arg(dump)
        .arg("--dbname")
        .arg(&tool.url);
    let dumped = run(command, "pg_dump").await;
    // The exported snapshot lives as long as this transaction: closed only once pg_dump is done.
    let _ = sqlx::query("COMMIT").execute(&mut conn).await;
    let _ = conn.close().await;
    dumped?;
    std::fs::File::open(dump)?.sync_all()?;
    Ok(Snapshot { schema_version, tables, objects, postgres_schema: Some(schema) })
}

/// The tables of `schema` holding at least one row (the bookkeeping of migrations aside).
pub(super) async fn tables_with_rows(url: &str, schema: &str) -> anyhow::Result<Vec<String>> {
    let mut conn = connect(url).await?;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY tablename")
            .bind(schema)
            .fetch_all(&mut conn)
            .await?;
    let mut filled = Vec::new();
    for table in names {
        if table == "schema_migrations" {
            continue;
        }
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {}.{})", quote_ident(schema), quote_ident(&table));
        let any: bool = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut conn).await?;
        if any {
            filled.push(table);
        }
    }
    let _ = conn.close().await;
    Ok(filled)
}

/// `pg_restore` and `psql`, found before anything is written.
pub(super) struct RestoreTools {
    pg_restore: PathBuf,
    psql: PathBuf,
}

impl RestoreTools {
    pub fn find() -> anyhow::Result<RestoreTools> {
        Ok(RestoreTools { pg_restore: find_tool("pg_restore")?, psql: find_tool("psql")? })
    }

    pub async fn restore(
        &self,
        url: &str,
        dump: &Path,
        schema: &str,
        expected: &BTreeMap<String, i64>,
    ) -> anyhow::Result<()> {
        let tool = ToolConnection::from_url(url)?;
        let mut script = tool.command(&self.pg_restore);
        // A script on standard output, without owners or grants: the objects belong to the
        // target URL's user.
        script.arg("--no-owner").arg("--no-privileges").arg("--file=-").arg(dump).stdout(Stdio::piped());
        let mut script = script.spawn().map_err(|e| anyhow::anyhow!("impossible de lancer pg_restore : {e}"))?;
        let mut psql = tool.command(&self.psql);
        psql.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", "-", "--dbname"])
            .arg(&tool.url)
            .stdin(Stdio::piped());
        let mut psql = psql.spawn().map_err(|e| anyhow::anyhow!("impossible de lancer psql : {e}"))?;

        let mut input = psql.stdin.take().expect("piped stdin");
        let mut output = script.stdout.take().expect("piped stdout");
        let fed = async {
            input.write_all(empty_schema_sql(schema).as_bytes()).await?;
            tokio::io::copy(&mut output, &mut input).await?;
            input.write_all(check_counts_sql(schema, expected).as_bytes()).await?;
            input.shutdown().await
        }
        .await;
        drop(input);
        drop(output);
        let script = script.wait_with_output().await?;
        let psql = psql.wait_with_output().await?;
        if !psql.status.success() {
            anyhow::bail!(
                "la restauration dans PostgreSQL a échoué, la base cible est inchangée : {}",
                tool_message(&psql.stderr)
            );
        }
        if !script.status.success() {
            anyhow::bail!("pg_restore a échoué ({}) : {}", script.status, tool_message(&script.stderr));
        }
        fed.map_err(|e| anyhow::anyhow!("envoi du script de restauration à psql interrompu : {e}"))?;
        Ok(())
    }
}

/// Drops what the schema holds (tables with their triggers and sequences, views, functions), in
/// the restore's transaction: the target ends up exactly as the backup, with nothing left over.
fn empty_schema_sql(schema: &str) -> String {
    let body = format!(
        "DECLARE statement text; BEGIN FOR statement IN \
         SELECT format('DROP VIEW IF EXISTS %I.%I CASCADE', schemaname, viewname) \
           FROM pg_views WHERE schemaname = {s} \
         UNION ALL SELECT format('DROP TABLE IF EXISTS %I.%I CASCADE', schemaname, tablename) \
           FROM pg_tables WHERE schemaname = {s} \
         UNION ALL SELECT format('DROP SEQUENCE IF EXISTS %I.%I CASCADE', schemaname, sequencename) \
           FROM pg_sequences WHERE schemaname = {s} \
         UNION ALL SELECT format('DROP FUNCTION IF EXISTS %s CASCADE', p.oid::regprocedure) FROM pg_proc p \
           JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = {s} AND p.prokind = 'f' \
         LOOP EXECUTE statement; END LOOP; END",
        s = quote_literal(schema)
    );
    // Quiet: the notices of the cascading drops would only fill psql's error output.
    format!("SET client_min_messages = warning;\nDO {};\n", quote_literal(&body))
}

/// Fails the restore's transaction unless every table has the rows the manifest counted.
fn check_counts_sql(schema: &str, expected: &BTreeMap<String, i64>) -> String {
    let mut body = String::from("DECLARE n bigint; BEGIN ");
    for (table, rows) in expected {
        body.push_str(&format!(
            "SELECT COUNT(*) INTO n FROM {}.{}; IF n <> {rows} THEN RAISE EXCEPTION 'table %: % lignes restaurées, % \
             attendues', {}, n, {rows}; END IF; ",
            quote_ident(schema),
            quote_ident(table),
            quote_literal(table)
        ));
    }
    body.push_str("END");
    format!("\nDO {};\n", quote_literal(&body))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_goes_apart_and_sqlx_options_are_dropped() {
        let c = ToolConnection::from_url(
            "postgres://app:p%40ss%3Aw0rd@db.local:6543/ouvrage?sslmode=require&statement-cache-capacity=10",
        )
        .unwrap();
        assert_eq!(c.url, "postgres://app@db.local:6543/ouvrage?sslmode=require");
        assert_eq!(c.password.as_deref(), Some("p@ss:w0rd"));
        let c = ToolConnection::from_url("postgres://app@db/ouvrage").unwrap();
        assert_eq!((c.url.as_str(), c.password), ("postgres://app@db/ouvrage", None));
    }

    #[test]
    fn names_are_quoted_in_the_generated_sql() {
        let sql = check_counts_sql("public", &BTreeMap::from([("users".to_string(), 3)]));
        assert!(sql.contains("FROM \"public\".\"users\"; IF n <> 3"), "{sql}");
        assert!(empty_schema_sql("public").contains("schemaname = ''public''"));
    }
}
