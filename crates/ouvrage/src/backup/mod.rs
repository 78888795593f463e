//! `ouvrage backup PATH` and `ouvrage restore PATH`: a consistent copy of the database and of
//! the stored files, taken while the server runs, and its restoration into an empty database.
//!
//! A backup is a directory:
//!
//! ```text
//! PATH/database.sqlite        SQLite: the snapshot written by VACUUM INTO
//! PATH/database.pgdump        PostgreSQL: pg_dump's custom format
//! PATH/files/ab/abcd…         every stored object a `files` row points to, named by its SHA-256
//! PATH/manifest.json          written last: what the backup holds, with the checksums
//! ```
//!
//! The database snapshot is taken first and the objects its `files` rows name are copied after,
//! so every row's bytes are in the backup (bytes are stored before their row is committed, and
//! the orphan sweep only deletes bytes no row points to). Restore checks every checksum before
//! writing anything, then writes the objects, then the database in one step.

mod postgres;
mod sqlite;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cli::InputError;
use crate::config::Config;
use crate::db::Engine;
use crate::features::files::FileStore;
use crate::features::files::storage::sha256_hex;

/// Tells a backup directory from anything else.
pub const FORMAT: &str = "ouvrage-backup";
/// Raised when the layout or the manifest changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
pub const SQLITE_DUMP: &str = "database.sqlite";
pub const POSTGRES_DUMP: &str = "database.pgdump";
pub const FILES_DIR: &str = "files";

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// `sqlite` or `postgres`.
    pub engine: String,
    /// When the snapshot was taken, RFC 3339 (UTC).
    pub created_at: String,
    pub app_version: String,
    /// The latest migration applied in the snapshot.
    pub schema_version: i64,
    pub database: DumpInfo,
    /// PostgreSQL: the schema the application's tables live in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres_schema: Option<String>,
    /// Rows per table in the snapshot.
    pub tables: BTreeMap<String, i64>,
    pub files: FilesInfo,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct DumpInfo {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct FilesInfo {
    pub count: usize,
    pub total_bytes: u64,
    pub objects: Vec<StoredObject>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct StoredObject {
    pub sha256: String,
    pub bytes: u64,
}

/// What a snapshot of the database holds, read from the snapshot itself.
pub(crate) struct Snapshot {
    pub schema_version: i64,
    pub tables: BTreeMap<String, i64>,
    /// The distinct SHA-256 of the `files` rows: the stored objects to copy.
    pub objects: Vec<String>,
    pub postgres_schema: Option<String>,
}

/// The engine a database URL names.
pub fn engine_of(url: &str) -> Result<Engine, InputError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Engine::Postgres)
    } else if url.starts_with("sqlite:") {
        Ok(Engine::Sqlite)
    } else {
        Err(InputError(
            "adresse de base de données non reconnue : elle doit commencer par sqlite: ou postgres://".into(),
        ))
    }
}

/// Backs up the database and the files of `config` into the directory `path`, which must not
/// exist or be empty. Returns the manifest written.
pub async fn backup(config: &Config, path: &Path) -> anyhow::Result<Manifest> {
    let engine = engine_of(&config.database_url)?;
    let created = prepare_backup_dir(path)?;
    match write_backup(config, engine, path).await {
        Ok(manifest) => Ok(manifest),
        Err(e) => {
            // No manifest, no backup: remove what was written so the directory is not mistaken
            // for one (and can be used again).
            clean_backup_dir(path, created);
            Err(e)
        }
    }
}

async fn write_backup(config: &Config, engine: Engine, dir: &Path) -> anyhow::Result<Manifest> {
    let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let dump_name = match engine {
        Engine::Sqlite => SQLITE_DUMP,
        Engine::Postgres => POSTGRES_DUMP,
    };
    let dump = dir.join(dump_name);
    // The snapshot first: the objects copied next are those its rows point to.
    let snapshot = match engine {
        Engine::Sqlite => sqlite::snapshot(&config.database_url, &dump).await?,
        Engine::Postgres => postgres::snapshot(&config.database_url, &dump).await?,
    };
    let (dump_bytes, dump_sha) = sha256_file(&dump)?;

    let store = FileStore::from_config(&config.storage)?;
    let mut objects = Vec::with_capacity(snapshot.objects.len());
    let mut total_bytes = 0u64;
    for sha in &snapshot.objects {
        if !is_sha256(sha) {
            anyhow::bail!("la base contient une empreinte de fichier invalide « {sha} » : sauvegarde interrompue");
        }
        let bytes = store.get(sha).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => anyhow::anyhow!(
                "le fichier {sha} est référencé par la base mais absent du stockage : sauvegarde interrompue"
            ),
            e => anyhow::anyhow!("lecture du fichier {sha} dans le stockage impossible : {e}"),
        })?;
        if sha256_hex(&bytes) != *sha {
            anyhow::bail!("le fichier {sha} du stockage ne correspond plus à son empreinte : sauvegarde interrompue");
        }
        let target = object_path(dir, sha);
        std::fs::create_dir_all(target.parent().expect("object paths have a parent"))?;
        write_synced(&target, &bytes).with_context(|| format!("écriture de {} impossible", target.display()))?;
        total_bytes += bytes.len() as u64;
        objects.push(StoredObject { sha256: sha.clone(), bytes: bytes.len() as u64 });
    }

    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        engine: engine.name().into(),
        created_at,
        app_version: env!("CARGO_PKG_VERSION").into(),
        schema_version: snapshot.schema_version,
        database: DumpInfo { file: dump_name.into(), bytes: dump_bytes, sha256: dump_sha },
        postgres_schema: snapshot.postgres_schema,
        tables: snapshot.tables,
        files: FilesInfo { count: objects.len(), total_bytes, objects },
    };
    sync_dirs(dir)?;
    // Written last, through a rename: a directory with a manifest is a complete backup.
    let staged = dir.join(".manifest.json.tmp");
    write_synced(&staged, &serde_json::to_vec_pretty(&manifest)?)?;
    std::fs::rename(&staged, dir.join(MANIFEST))?;
    sync_dir(dir)?;
    Ok(manifest)
}

/// Creates the backup directory, or accepts an existing empty one. Returns whether it was
/// created (so a failed backup removes it).
fn prepare_backup_dir(path: &Path) -> anyhow::Result<bool> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_dir() => Err(InputError(format!(
            "{} existe déjà et n'est pas un dossier : indiquez un dossier neuf ou vide pour la sauvegarde",
            path.display()
        ))
        .into()),
        Ok(_) => {
            let mut entries = std::fs::read_dir(path)
                .map_err(|e| anyhow::anyhow!("impossible de lire le dossier {} : {e}", path.display()))?;
            if entries.next().is_some() {
                return Err(InputError(format!(
                    "le dossier {} n'est pas vide : indiquez un dossier neuf ou vide pour la sauvegarde",
                    path.display()
                ))
                .into());
            }
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(path)
                .map_err(|e| anyhow::anyhow!("impossible de créer le dossier {} : {e}", path.display()))?;
            Ok(true)
        }
        Err(e) => Err(anyhow::anyhow!("impossible de lire {} : {e}", path.display())),
    }
}

fn clean_backup_dir(path: &Path, created: bool) {
    if created {
        let _ = std::fs::remove_dir_all(path);
    } else if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            let p = entry.path();
            let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
    }
}

/// What a restore did.
pub struct Restored {
    pub manifest: Manifest,
    pub replaced: bool,
}

/// Restores the backup in `path` into the database and file store of `config`. Refuses a
/// database that already holds data unless `force`; checks every checksum before writing.
pub async fn restore(config: &Config, path: &Path, force: bool) -> anyhow::Result<Restored> {
    let manifest = read_manifest(path)?;
    let engine = engine_of(&config.database_url)?;
    if manifest.engine != engine.name() {
        return Err(InputError(format!(
            "cette sauvegarde vient d'une base {} et la base cible est {} : la restauration d'un moteur à \
             l'autre n'est pas prise en charge",
            engine_label(&manifest.engine),
            engine_label(engine.name())
        ))
        .into());
    }
    let pg_schema = manifest.postgres_schema.clone().unwrap_or_else(|| "public".into());
    let filled = match engine {
        Engine::Sqlite => sqlite::tables_with_rows(&config.database_url).await?,
        Engine::Postgres => postgres::tables_with_rows(&config.database_url, &pg_schema).await?,
    };
    if !filled.is_empty() && !force {
        return Err(InputError(format!(
            "la base cible contient déjà des données ({} tables non vides : {}{}) : restauration refusée. \
             Restaurez dans une base vide, ou relancez avec --force pour remplacer son contenu",
            filled.len(),
            filled.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
            if filled.len() > 5 { "…" } else { "" }
        ))
        .into());
    }
    let tools = match engine {
        Engine::Postgres => Some(postgres::RestoreTools::find()?),
        Engine::Sqlite => None,
    };

    // Everything is checked before anything is written.
    verify(path, &manifest)?;

    let store = FileStore::from_config(&config.storage)?;
    for object in &manifest.files.objects {
        let bytes = std::fs::read(object_path(path, &object.sha256))?;
        let stored = store
            .put(bytes::Bytes::from(bytes))
            .await
            .map_err(|e| anyhow::anyhow!("écriture du fichier {} dans le stockage impossible : {e}", object.sha256))?;
        anyhow::ensure!(stored == object.sha256, "le fichier {} a changé pendant la restauration", object.sha256);
    }
    let dump = path.join(&manifest.database.file);
    match (engine, tools) {
        (Engine::Sqlite, _) => sqlite::restore(&config.database_url, &dump, &manifest.tables).await?,
        (Engine::Postgres, Some(tools)) => {
            tools.restore(&config.database_url, &dump, &pg_schema, &manifest.tables).await?
        }
        (Engine::Postgres, None) => unreachable!("tools are found for PostgreSQL above"),
    }
    Ok(Restored { manifest, replaced: !filled.is_empty() })
}

fn engine_label(name: &str) -> &str {
    match name {
        "sqlite" => "SQLite",
        "postgres" => "PostgreSQL",
        other => other,
    }
}

/// Reads and checks the manifest: its format, and that every name in it is one this module
/// writes (a tampered manifest must not lead restore outside the backup directory).
pub fn read_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let file = path.join(MANIFEST);
    let text = match std::fs::read(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(InputError(format!(
                "{} n'est pas une sauvegarde ouvrage complète : {MANIFEST} est absent",
                path.display()
            ))
            .into());
        }
        Err(e) => return Err(anyhow::anyhow!("impossible de lire {} : {e}", file.display())),
    };
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| InputError(format!("{} illisible : {e}", file.display())))?;
    let invalid = |what: &str| InputError(format!("{} invalide : {what}", file.display()));
    if manifest.format != FORMAT {
        return Err(invalid("ce n'est pas le manifeste d'une sauvegarde ouvrage").into());
    }
    if manifest.format_version != FORMAT_VERSION {
        return Err(InputError(format!(
            "sauvegarde au format {} : cette version d'ouvrage ({}) lit le format {FORMAT_VERSION}",
            manifest.format_version,
            env!("CARGO_PKG_VERSION")
        ))
        .into());
    }
    let expected_dump = match manifest.engine.as_str() {
        "sqlite" => SQLITE_DUMP,
        "postgres" => POSTGRES_DUMP,
        _ => return Err(invalid("moteur de base inconnu").into()),
    };
    if manifest.database.file != expected_dump || !is_sha256(&manifest.database.sha256) {
        return Err(invalid("description de la base").into());
    }
    if manifest.files.objects.iter().any(|o| !is_sha256(&o.sha256)) {
        return Err(invalid("empreinte de fichier").into());
    }
    if manifest.files.count != manifest.files.objects.len() {
        return Err(invalid("nombre de fichiers").into());
    }
    if manifest.tables.keys().any(|t| !is_plain_identifier(t)) {
        return Err(invalid("nom de table").into());
    }
    if manifest.postgres_schema.as_deref().is_some_and(|s| !is_plain_identifier(s)) {
        return Err(invalid("schéma PostgreSQL").into());
    }
    Ok(manifest)
}

/// Checks the database dump and every object against the manifest.
pub fn verify(path: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let altered = |name: &str| {
        InputError(format!(
            "sauvegarde altérée : {name} ne correspond pas à l'empreinte SHA-256 notée dans {MANIFEST}. Rien n'a \
             été restauré"
        ))
    };
    let missing = |name: &str| {
        let dir = path.display();
        InputError(format!("sauvegarde incomplète : {name} est absent de {dir}. Rien n'a été restauré"))
    };
    let dump = path.join(&manifest.database.file);
    match sha256_file(&dump) {
        Ok((bytes, sha)) if bytes == manifest.database.bytes && sha == manifest.database.sha256 => {}
        Ok(_) => return Err(altered(&manifest.database.file).into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing(&manifest.database.file).into()),
        Err(e) => return Err(anyhow::anyhow!("impossible de lire {} : {e}", dump.display())),
    }
    for object in &manifest.files.objects {
        let file = object_path(path, &object.sha256);
        let name = format!("{FILES_DIR}/{}/{}", &object.sha256[..2], object.sha256);
        match sha256_file(&file) {
            Ok((bytes, sha)) if bytes == object.bytes && sha == object.sha256 => {}
            Ok(_) => return Err(altered(&name).into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing(&name).into()),
            Err(e) => return Err(anyhow::anyhow!("impossible de lire {} : {e}", file.display())),
        }
    }
    Ok(())
}

/// Where a stored object lives in a backup.
pub fn object_path(dir: &Path, sha: &str) -> PathBuf {
    dir.join(FILES_DIR).join(&sha[..2]).join(sha)
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Table and schema names restore may put into SQL: the application's are all of this form.
fn is_plain_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

/// A name quoted for SQL (both engines).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(crate) fn sha256_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((total, hex::encode(hasher.finalize())))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Syncs the backup directory and the object directories under it, so the entries of the files
/// written are durable before the manifest says the backup is complete.
fn sync_dirs(dir: &Path) -> std::io::Result<()> {
    let files = dir.join(FILES_DIR);
    if files.is_dir() {
        for entry in std::fs::read_dir(&files)? {
            sync_dir(&entry?.path())?;
        }
        sync_dir(&files)?;
    }
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_are_refused() {
        assert!(is_sha256(&"ab".repeat(32)));
        assert!(!is_sha256(&"../".repeat(21)));
        assert!(!is_sha256(&"AB".repeat(32)));
        assert!(is_plain_identifier("signature_evidence"));
        assert!(!is_plain_identifier("users\"; DROP TABLE x; --"));
        assert!(!is_plain_identifier("1abc"));
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn a_non_empty_directory_is_refused_and_a_missing_one_created() {
        let tmp = tempfile::tempdir().unwrap();
        let fresh = tmp.path().join("neuf/sauvegarde");
        assert!(prepare_backup_dir(&fresh).unwrap());
        assert!(!prepare_backup_dir(&fresh).unwrap(), "an empty directory is accepted");
        std::fs::write(fresh.join("x"), b"x").unwrap();
        let err = prepare_backup_dir(&fresh).unwrap_err();
        assert!(err.downcast_ref::<InputError>().is_some());
        assert!(err.to_string().contains("n'est pas vide"), "{err}");
    }
}
