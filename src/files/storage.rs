//! Where file bytes live: a folder in the data directory, or an S3-compatible bucket.
//! Both through `object_store`, so the rest of the code sees one interface. Objects
//! are named by their SHA-256 (`blobs/ab/<sha256>`), so the same bytes are stored once;
//! thumbnails sit beside them (`thumbs/ab/<sha256>`).

use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

use crate::config::Config;

/// Parts of a multipart upload; S3 wants at least 5 MiB per part but the last.
const PART: usize = 8 * 1024 * 1024;

#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
}

pub fn blob_key(sha256: &str) -> String {
    format!("blobs/{}/{sha256}", &sha256[..2])
}

pub fn thumb_key(sha256: &str) -> String {
    format!("thumbs/{}/{sha256}", &sha256[..2])
}

impl Storage {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let store: Arc<dyn ObjectStore> = match &config.s3_bucket {
            Some(bucket) => {
                let mut builder = AmazonS3Builder::new().with_bucket_name(bucket);
                if let Some(endpoint) = &config.s3_endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                if let Some(region) = &config.s3_region {
                    builder = builder.with_region(region);
                }
                if let Some(key) = &config.s3_access_key_id {
                    builder = builder.with_access_key_id(key);
                }
                if let Some(secret) = &config.s3_secret_access_key {
                    builder = builder.with_secret_access_key(secret);
                }
                Arc::new(builder.build().context("cannot set up S3 storage")?)
            }
            None => {
                let dir = config.data_dir.join("files");
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                Arc::new(LocalFileSystem::new_with_prefix(&dir)?)
            }
        };
        Ok(Self { store })
    }

    pub async fn exists(&self, key: &str) -> anyhow::Result<bool> {
        match self.store.head(&Path::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Copies a local file into storage in parts, never whole in memory.
    pub async fn put_file(&self, key: &str, file: &FsPath) -> anyhow::Result<()> {
        let upload = self.store.put_multipart(&Path::from(key)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut source = tokio::fs::File::open(file).await?;
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let n = source.read(&mut buffer).await?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(4).await?;
            writer.write(&buffer[..n]);
        }
        writer.finish().await?;
        Ok(())
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.store
            .put(&Path::from(key), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// The bytes of `key`, or of `range` of them, as a stream.
    pub async fn get(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> anyhow::Result<BoxStream<'static, std::io::Result<Bytes>>> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = self.store.get_opts(&Path::from(key), options).await?;
        Ok(result.into_stream().map_err(std::io::Error::other).boxed())
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }
}
