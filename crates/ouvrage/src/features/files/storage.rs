//! Where file bytes live: one interface over a local directory (default) or an S3-compatible
//! bucket, content-addressed by SHA-256 so the same bytes are stored once and a stored object
//! can be checked against its name.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use sha2::{Digest, Sha256};

use crate::config::StorageConfig;

#[derive(Clone)]
pub struct FileStore {
    inner: Arc<dyn ObjectStore>,
    /// Set for the local directory backend: written files are synced to disk from there.
    local_root: Option<PathBuf>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileStore({})", self.inner)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn key(sha: &str) -> ObjectPath {
    ObjectPath::from(format!("sha256/{}/{}/{}", &sha[0..2], &sha[2..4], sha))
}

/// Bytes written less than this many seconds ago are not written again by an upload of the same
/// content; the orphan sweep's grace period must be longer (it is 15 minutes by default).
const FRESH_SECS: i64 = 60;

impl FileStore {
    pub fn from_config(config: &StorageConfig) -> anyhow::Result<FileStore> {
        let mut local_root = None;
        let inner: Arc<dyn ObjectStore> = match config {
            StorageConfig::Local { root } => {
                std::fs::create_dir_all(root).map_err(|e| {
                    anyhow::anyhow!("impossible de créer le dossier de fichiers {} : {e}", root.display())
                })?;
                local_root = Some(root.clone());
                Arc::new(LocalFileSystem::new_with_prefix(root)?)
            }
            StorageConfig::S3 { bucket, endpoint, region } => {
                let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket).with_region(region);
                if let Some(ep) = endpoint {
                    b = b
                        .with_endpoint(ep)
                        .with_allow_http(ep.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                Arc::new(b.build()?)
            }
        };
        Ok(FileStore { inner, local_root })
    }

    /// Stores the bytes (if not already there) and returns their SHA-256. Returns only once the
    /// store has them durably, so the caller may then commit the row that points to them.
    pub async fn put(&self, bytes: Bytes) -> Result<String, object_store::Error> {
        let sha = sha256_hex(&bytes);
        let path = key(&sha);
        match self.inner.head(&path).await {
            // The same bytes written moments ago: nothing to do. Older ones are written again, so
            // that they are recent: the orphan sweep only deletes objects older than its grace
            // period (and checks again just before deleting), so it cannot delete, under a row
            // about to be committed, bytes that an upload found already there.
            Ok(meta)
                if meta.size as usize == bytes.len()
                    && chrono::Utc::now().signed_duration_since(meta.last_modified).num_seconds() < FRESH_SECS =>
            {
                return Ok(sha);
            }
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        self.inner.put(&path, PutPayload::from_bytes(bytes)).await?;
        self.sync_local(&path).await?;
        Ok(sha)
    }

    /// The local backend writes a temporary file and renames it, without fsync: flush the file
    /// and its directory so the bytes survive a power cut before the row pointing to them is
    /// committed. (S3 acknowledges a PUT only once the object is durable.)
    async fn sync_local(&self, path: &ObjectPath) -> Result<(), object_store::Error> {
        let Some(root) = &self.local_root else { return Ok(()) };
        let file = root.join(path.as_ref());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&file)?.sync_all()?;
            #[cfg(unix)]
            if let Some(dir) = file.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .map_err(|e| object_store::Error::Generic { store: "LocalFileSystem", source: Box::new(e) })?
        .map_err(|e| object_store::Error::Generic { store: "LocalFileSystem", source: Box::new(e) })
    }

    pub async fn get(&self, sha: &str) -> Result<Bytes, object_store::Error> {
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(object_store::Error::NotFound { path: sha.to_string(), source: "not a sha256".into() });
        }
        self.inner.get(&key(sha)).await?.bytes().await
    }

    pub async fn exists(&self, sha: &str) -> bool {
        self.inner.head(&key(sha)).await.is_ok()
    }

    /// Every stored object: its SHA-256 and when it was last written (ms).
    pub async fn list(&self) -> Result<Vec<(String, i64)>, object_store::Error> {
        use futures::TryStreamExt;
        let prefix = ObjectPath::from("sha256");
        let metas: Vec<object_store::ObjectMeta> = self.inner.list(Some(&prefix)).try_collect().await?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let name = m.location.filename()?.to_string();
                let valid = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
                valid.then(|| (name, m.last_modified.timestamp_millis()))
            })
            .collect())
    }

    /// When the object was last written (ms), `None` when there is none.
    pub async fn written_at(&self, sha: &str) -> Result<Option<i64>, object_store::Error> {
        match self.inner.head(&key(sha)).await {
            Ok(meta) => Ok(Some(meta.last_modified.timestamp_millis())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn delete(&self, sha: &str) -> Result<(), object_store::Error> {
        match self.inner.delete(&key(sha)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes the local backend's half-written temporary files (`<name>#<n>`, left by a
    /// process killed while writing) older than `before_ms`. Returns how many went.
    pub fn remove_stale_staging(&self, before_ms: i64) -> std::io::Result<usize> {
        fn walk(dir: &std::path::Path, before_ms: i64, removed: &mut usize) -> std::io::Result<()> {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let path = entry.path();
                let meta = entry.metadata()?;
                if meta.is_dir() {
                    walk(&path, before_ms, removed)?;
                } else if entry.file_name().to_string_lossy().contains('#') {
                    let modified = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_millis() as i64)
                        .unwrap_or(0);
                    if modified <= before_ms {
                        std::fs::remove_file(&path)?;
                        *removed += 1;
                    }
                }
            }
            Ok(())
        }
        let Some(root) = &self.local_root else { return Ok(0) };
        let dir = root.join("sha256");
        let mut removed = 0;
        if dir.exists() {
            walk(&dir, before_ms, &mut removed)?;
        }
        Ok(removed)
    }
}
