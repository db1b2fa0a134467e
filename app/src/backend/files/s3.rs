//! The file store on S3-compatible object storage, shared by every server instance.
//!
//! Keys, under the configured prefix:
//! - `files/<name>`: a finished file, one object.
//! - `partial/<name>/info.json`: the state of an upload in progress (`Info`).
//! - `partial/<name>/tail-<random>`: the bytes after its last whole part.
//!
//! An upload in progress is an S3 multipart upload of `files/<name>` (tusd's s3store does the
//! same). Its bytes are put as parts of exactly `PART_BYTES` (S3's smallest, save the last);
//! what is left over at a sync, less than a part, goes into a small tail object, which the
//! next writer (in this process or another) reads back and continues. The info object names
//! the multipart upload, its parts and the last two sync points: the service records an offset
//! in the database only after the sync that reached it, so a crash in between leaves the
//! database at the older point, and the upload resumes from there (parts after it are put again
//! under the same numbers, which replaces them). A tail object is deleted only once no sync
//! point names it. Completing the multipart upload makes `files/<name>` appear whole or not
//! at all; only then can its bytes be read.
//!
//! Incomplete multipart uploads that a crash left unnamed by any info object cannot be listed
//! here; a bucket lifecycle rule (`AbortIncompleteMultipartUpload`) removes them.

use super::{checked, Listed};
use crate::backend::config::S3Settings;
use crate::backend::tokens::random_token;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::time::SystemTime;

/// The size of every part but the last: S3's smallest, so a writer holds at most this much.
const PART_BYTES: usize = 5 * 1024 * 1024;

/// S3 takes at most this many parts in one upload.
const MAX_PARTS: usize = 10_000;

/// The largest file an upload can make: every part whole.
pub(super) const MAX_OBJECT_BYTES: u64 = (MAX_PARTS * PART_BYTES) as u64;

/// The state of an upload in progress, kept in `partial/<name>/info.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Info {
    /// The S3 multipart upload that becomes `files/<name>`.
    upload_id: String,
    /// The ids (ETags) of the parts put, in order; every sync point uses a prefix of them.
    parts: Vec<String>,
    /// The last two sync points, the older first.
    points: Vec<SyncPoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SyncPoint {
    /// The bytes held at this point.
    length: u64,
    /// How many of the info's parts hold them.
    parts: usize,
    /// The object with the bytes after those parts (fewer than a part), if any.
    tail: Option<String>,
}

impl Info {
    /// The sync point at `offset`; any other offset would make a wrong file.
    fn point_at(&self, offset: u64) -> io::Result<&SyncPoint> {
        self.points
            .iter()
            .find(|point| point.length == offset)
            .filter(|point| point.parts <= self.parts.len())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{offset} is not an offset the store synced"),
                )
            })
    }
}

#[derive(Clone, Debug)]
pub struct S3Store {
    pub(super) client: Arc<AmazonS3>,
    /// Every key begins with it (the empty path: the bucket's root).
    pub(super) prefix: Path,
}

/// A finished file in the bucket, as a download reads it.
#[derive(Clone, Debug)]
pub struct StoredObject {
    client: Arc<AmazonS3>,
    key: Path,
}

impl PartialEq for StoredObject {
    fn eq(&self, other: &StoredObject) -> bool {
        self.key == other.key
    }
}

impl Eq for StoredObject {}

impl StoredObject {
    /// The object's size in bytes.
    pub async fn size(&self) -> io::Result<u64> {
        Ok(self.client.head(&self.key).await.map_err(io_error)?.size)
    }

    /// The bytes `range` of the object, as they arrive from the bucket.
    pub async fn stream(
        &self,
        range: Range<u64>,
    ) -> io::Result<BoxStream<'static, io::Result<Bytes>>> {
        if range.is_empty() {
            return Ok(futures_util::stream::empty().boxed());
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..GetOptions::default()
        };
        let result = self
            .client
            .get_opts(&self.key, options)
            .await
            .map_err(io_error)?;
        Ok(result.into_stream().map_err(io_error).boxed())
    }
}

/// The writer of an upload in progress (see the module's description).
pub struct PartialWriter {
    store: S3Store,
    name: String,
    upload_id: String,
    /// The ids of the parts put, in order.
    parts: Vec<String>,
    /// The bytes after the last part: never a whole part.
    buffer: Vec<u8>,
    /// The last sync point: the database holds it, or will once the caller records it.
    synced: SyncPoint,
    /// The points the info object names now, whose tails must stay until it names others.
    stored_points: Vec<SyncPoint>,
    /// A write or sync failed: what the store holds is no longer known, so nothing more is
    /// written and the upload resumes from the offset the database has.
    failed: bool,
}

fn io_error(error: object_store::Error) -> io::Error {
    match error {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, error),
        other => io::Error::other(other),
    }
}

fn ignore_missing(result: object_store::Result<()>) -> io::Result<()> {
    match result {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(io_error(e)),
    }
}

fn failed_before() -> io::Error {
    io::Error::other("an earlier write of this upload failed")
}

impl S3Store {
    /// The store of the settings' bucket (nothing is asked of the server yet).
    pub fn new(settings: &S3Settings) -> io::Result<S3Store> {
        let mut builder = AmazonS3Builder::new()
            .with_endpoint(settings.endpoint.as_str().trim_end_matches('/'))
            .with_allow_http(settings.endpoint.scheme() == "http")
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region);
        if let (Some(key), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            builder = builder
                .with_access_key_id(key)
                .with_secret_access_key(secret);
        }
        let client = builder.build().map_err(io::Error::other)?;
        let prefix = Path::parse(&settings.prefix).map_err(io::Error::other)?;
        Ok(S3Store {
            client: Arc::new(client),
            prefix,
        })
    }

    fn under(&self, parts: &[&str]) -> Path {
        parts
            .iter()
            .fold(self.prefix.clone(), |path, part| path.child(*part))
    }

    fn final_key(&self, name: &str) -> Path {
        self.under(&["files", name])
    }

    fn partial_dir(&self, name: &str) -> Path {
        self.under(&["partial", name])
    }

    fn info_key(&self, name: &str) -> Path {
        self.partial_dir(name).child("info.json")
    }

    async fn read_info(&self, name: &str) -> io::Result<Option<Info>> {
        match self.client.get(&self.info_key(name)).await {
            Ok(result) => {
                let bytes = result.bytes().await.map_err(io_error)?;
                let info = serde_json::from_slice(&bytes)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                Ok(Some(info))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn put_info(&self, name: &str, info: &Info) -> io::Result<()> {
        let json = serde_json::to_vec(info).map_err(io::Error::other)?;
        self.client
            .put(&self.info_key(name), PutPayload::from(json))
            .await
            .map_err(io_error)?;
        Ok(())
    }

    /// The bytes of a sync point after its parts, read back from its tail object.
    async fn read_tail(&self, name: &str, point: &SyncPoint) -> io::Result<Vec<u8>> {
        let expected = point
            .length
            .checked_sub((point.parts * PART_BYTES) as u64)
            .filter(|rest| *rest < PART_BYTES as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "inconsistent sync point"))?;
        let mut buffer = Vec::new();
        if expected == 0 {
            return Ok(buffer);
        }
        let tail = point.tail.as_deref().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "sync point without its tail")
        })?;
        let bytes = self
            .client
            .get(&self.partial_dir(name).child(tail))
            .await
            .map_err(io_error)?
            .bytes()
            .await
            .map_err(io_error)?;
        if bytes.len() as u64 != expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "tail object of another length than its sync point",
            ));
        }
        buffer.reserve_exact(PART_BYTES);
        buffer.extend_from_slice(&bytes);
        Ok(buffer)
    }

    pub(super) async fn open_partial(&self, name: &str, offset: u64) -> io::Result<PartialWriter> {
        let info = match self.read_info(name).await? {
            Some(info) => info,
            None if offset == 0 => {
                let upload_id = self
                    .client
                    .create_multipart(&self.final_key(name))
                    .await
                    .map_err(io_error)?;
                let info = Info {
                    upload_id,
                    parts: Vec::new(),
                    points: vec![SyncPoint {
                        length: 0,
                        parts: 0,
                        tail: None,
                    }],
                };
                self.put_info(name, &info).await?;
                info
            }
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "partial upload missing from the bucket",
                ))
            }
        };
        let point = info.point_at(offset)?.clone();
        let buffer = self.read_tail(name, &point).await?;
        Ok(PartialWriter {
            store: self.clone(),
            name: name.to_string(),
            upload_id: info.upload_id,
            parts: info.parts[..point.parts].to_vec(),
            buffer,
            synced: point,
            stored_points: info.points,
            failed: false,
        })
    }

    /// Completes the multipart upload at the sync point `length`: its tail becomes the last
    /// part. Done before (a retry after a failure), it is found done.
    pub(super) async fn complete_partial(&self, name: &str, length: u64) -> io::Result<()> {
        let key = self.final_key(name);
        match self.client.head(&key).await {
            Ok(meta) if meta.size == length => return Ok(()),
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "completed object of another length",
                ))
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(io_error(e)),
        }
        let info = self.read_info(name).await?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "partial upload missing from the bucket",
            )
        })?;
        let point = info.point_at(length)?;
        let mut parts: Vec<PartId> = info.parts[..point.parts]
            .iter()
            .map(|id| PartId {
                content_id: id.clone(),
            })
            .collect();
        let tail = self.read_tail(name, point).await?;
        if !tail.is_empty() {
            let part = self
                .client
                .put_part(&key, &info.upload_id, parts.len(), PutPayload::from(tail))
                .await
                .map_err(io_error)?;
            parts.push(part);
        }
        self.client
            .complete_multipart(&key, &info.upload_id, parts)
            .await
            .map_err(io_error)?;
        Ok(())
    }

    /// Up to `max` first bytes of the object `files/<name>`: a finished file, or a completed
    /// upload.
    pub(super) async fn read(&self, name: &str, max: usize) -> io::Result<Vec<u8>> {
        let key = self.final_key(name);
        let size = self.client.head(&key).await.map_err(io_error)?.size;
        let end = size.min(max as u64);
        if end == 0 {
            return Ok(Vec::new());
        }
        let bytes = self
            .client
            .get_range(&key, 0..end)
            .await
            .map_err(io_error)?;
        Ok(bytes.to_vec())
    }

    /// The SHA-256 of a completed upload, hashed as its bytes stream back.
    pub(super) async fn completed_sha256(&self, name: &str) -> io::Result<String> {
        use sha2::{Digest, Sha256};
        let mut stream = self
            .client
            .get(&self.final_key(name))
            .await
            .map_err(io_error)?
            .into_stream();
        let mut hasher = Sha256::new();
        while let Some(chunk) = stream.next().await {
            hasher.update(chunk.map_err(io_error)?);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// The completed upload is a finished file now: its partial state goes.
    pub(super) async fn finish(&self, name: &str) -> io::Result<()> {
        self.client
            .head(&self.final_key(name))
            .await
            .map_err(io_error)?;
        self.delete_partial_objects(name).await
    }

    /// Everything under `partial/<name>/`, the info object last: until it goes, a sweep finds
    /// the partial upload again.
    async fn delete_partial_objects(&self, name: &str) -> io::Result<()> {
        let info = self.info_key(name);
        let mut keys: Vec<Path> = self
            .client
            .list(Some(&self.partial_dir(name)))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(io_error)?;
        keys.sort_by_key(|key| *key == info);
        for key in keys {
            ignore_missing(self.client.delete(&key).await)?;
        }
        Ok(())
    }

    pub(super) async fn delete_partial(&self, name: &str) -> io::Result<()> {
        if let Some(info) = self.read_info(name).await? {
            let key = self.final_key(name);
            // A multipart upload already completed is no longer there to abort.
            ignore_missing(self.client.abort_multipart(&key, &info.upload_id).await)?;
            // Completed but never a finished file (its type was refused, or a crash came first).
            ignore_missing(self.client.delete(&key).await)?;
        }
        self.delete_partial_objects(name).await
    }

    pub(super) async fn delete(&self, name: &str) -> io::Result<()> {
        ignore_missing(self.client.delete(&self.final_key(name)).await)
    }

    /// A small file the server made, under a new name: one PUT, whole or not at all.
    pub(super) async fn put(&self, bytes: Vec<u8>) -> io::Result<String> {
        let name = super::new_name();
        self.client
            .put(&self.final_key(&name), PutPayload::from(bytes))
            .await
            .map_err(io_error)?;
        Ok(name)
    }

    pub(super) fn stored(&self, name: &str) -> StoredObject {
        StoredObject {
            client: self.client.clone(),
            key: self.final_key(name),
        }
    }

    /// Finished files, and partial uploads dated by their newest object (the info object is
    /// written at every sync).
    pub(super) async fn list(&self) -> io::Result<Vec<Listed>> {
        let mut found = Vec::new();
        let files = self.under(&["files"]);
        let mut objects = self.client.list(Some(&files));
        while let Some(meta) = objects.next().await {
            let meta = meta.map_err(io_error)?;
            let rest: Option<Vec<_>> = meta.location.prefix_match(&files).map(Iterator::collect);
            if let Some([name]) = rest.as_deref() {
                if checked(name.as_ref()).is_ok() {
                    found.push(Listed {
                        name: name.as_ref().to_string(),
                        partial: false,
                        modified: SystemTime::from(meta.last_modified),
                    });
                }
            }
        }
        let partial = self.under(&["partial"]);
        let mut newest: HashMap<String, SystemTime> = HashMap::new();
        let mut objects = self.client.list(Some(&partial));
        while let Some(meta) = objects.next().await {
            let meta = meta.map_err(io_error)?;
            let rest: Option<Vec<_>> = meta.location.prefix_match(&partial).map(Iterator::collect);
            if let Some([name, _]) = rest.as_deref() {
                if checked(name.as_ref()).is_ok() {
                    let modified = SystemTime::from(meta.last_modified);
                    let entry = newest.entry(name.as_ref().to_string()).or_insert(modified);
                    *entry = (*entry).max(modified);
                }
            }
        }
        found.extend(newest.into_iter().map(|(name, modified)| Listed {
            name,
            partial: true,
            modified,
        }));
        Ok(found)
    }
}

impl PartialWriter {
    fn length(&self) -> u64 {
        (self.parts.len() * PART_BYTES + self.buffer.len()) as u64
    }

    pub(super) async fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        if self.failed {
            return Err(failed_before());
        }
        while !bytes.is_empty() {
            if self.buffer.capacity() == 0 {
                self.buffer.reserve_exact(PART_BYTES);
            }
            let take = (PART_BYTES - self.buffer.len()).min(bytes.len());
            self.buffer.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buffer.len() == PART_BYTES {
                if let Err(e) = self.put_part().await {
                    self.failed = true;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Puts the whole part in the buffer, which is left empty.
    async fn put_part(&mut self) -> io::Result<()> {
        // The last part, put when the upload completes, needs a number too.
        if self.parts.len() + 1 >= MAX_PARTS {
            return Err(io::Error::other("more parts than S3 takes in one upload"));
        }
        let part = std::mem::take(&mut self.buffer);
        let id = self
            .store
            .client
            .put_part(
                &self.store.final_key(&self.name),
                &self.upload_id,
                self.parts.len(),
                PutPayload::from(part),
            )
            .await
            .map_err(io_error)?;
        self.parts.push(id.content_id);
        Ok(())
    }

    pub(super) async fn sync(&mut self) -> io::Result<()> {
        if self.failed {
            return Err(failed_before());
        }
        if self.length() == self.synced.length {
            return Ok(());
        }
        let synced = self.write_sync_point().await;
        if synced.is_err() {
            self.failed = true;
        }
        synced
    }

    /// Writes the tail, then the info naming the last sync point and this one, then deletes the
    /// tails no point names any more.
    async fn write_sync_point(&mut self) -> io::Result<()> {
        let dir = self.store.partial_dir(&self.name);
        let tail = if self.buffer.is_empty() {
            None
        } else {
            let tail = format!("tail-{}", &random_token()[..16]);
            self.store
                .client
                .put(
                    &dir.child(tail.as_str()),
                    PutPayload::from(self.buffer.clone()),
                )
                .await
                .map_err(io_error)?;
            Some(tail)
        };
        let point = SyncPoint {
            length: self.length(),
            parts: self.parts.len(),
            tail,
        };
        let points = vec![self.synced.clone(), point.clone()];
        self.store
            .put_info(
                &self.name,
                &Info {
                    upload_id: self.upload_id.clone(),
                    parts: self.parts.clone(),
                    points: points.clone(),
                },
            )
            .await?;
        let named: Vec<&String> = points.iter().filter_map(|p| p.tail.as_ref()).collect();
        for old in self.stored_points.iter().filter_map(|p| p.tail.as_ref()) {
            if !named.contains(&old) {
                // Left behind, it is deleted with the partial upload.
                if let Err(e) = self.store.client.delete(&dir.child(old.as_str())).await {
                    tracing::warn!("upload {}: deleting an old tail: {e}", self.name);
                }
            }
        }
        self.stored_points = points;
        self.synced = point;
        Ok(())
    }
}
