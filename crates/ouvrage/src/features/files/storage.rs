//! Where file bytes live: one interface over a local directory (default) or an S3-compatible
//! bucket, content-addressed by SHA-256 so the same bytes are stored once and a stored object
//! can be checked against its name.

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

impl FileStore {
    pub fn from_config(config: &StorageConfig) -> anyhow::Result<FileStore> {
        let inner: Arc<dyn ObjectStore> = match config {
            StorageConfig::Local { root } => {
                std::fs::create_dir_all(root).map_err(|e| {
                    anyhow::anyhow!("impossible de créer le dossier de fichiers {} : {e}", root.display())
                })?;
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
        Ok(FileStore { inner })
    }

    /// Stores the bytes (if not already there) and returns their SHA-256. Returns only once the
    /// store has them durably, so the caller may then commit the row that points to them.
    pub async fn put(&self, bytes: Bytes) -> Result<String, object_store::Error> {
        let sha = sha256_hex(&bytes);
        let path = key(&sha);
        match self.inner.head(&path).await {
            Ok(meta) if meta.size as usize == bytes.len() => return Ok(sha),
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        self.inner.put(&path, PutPayload::from_bytes(bytes)).await?;
        Ok(sha)
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
}
