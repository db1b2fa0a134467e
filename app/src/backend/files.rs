//! Where attached files live: a directory of the data dir, or an S3-compatible bucket that
//! several servers share, behind one type (like `Db`). Names are made by the server, never
//! taken from uploads.
//!
//! An upload is appended to a partial file; only once it is complete and verified is it moved
//! to its final name, so a crash mid-upload never leaves a half file attached. What no row
//! names (after a crash between moving a file and recording it) is removed by
//! `attachments::remove_orphans`.

mod s3;
pub mod testing;

use super::config::Config;
use super::tokens::random_token;
pub use s3::{S3Store, StoredObject};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};

/// The directory of partial uploads, under the store's root.
const PARTIAL_DIR: &str = "partial";

/// Bytes gathered before they go to the disk: bounded, whatever the size of the upload.
const WRITE_BUFFER_BYTES: usize = 256 * 1024;

/// The file store of the portal.
#[derive(Clone, Debug)]
pub enum FileStore {
    /// A directory on this machine: `<data dir>/files`, outside any served directory.
    Local(LocalStore),
    /// A bucket of S3-compatible object storage, for several server instances.
    S3(S3Store),
}

#[derive(Clone, Debug)]
pub struct LocalStore {
    root: PathBuf,
}

/// A finished file as a download reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredFile {
    /// A file on this machine (open it, seek for ranges).
    Local(PathBuf),
    /// An object in the bucket, read by ranges (`StoredObject::stream`).
    S3(StoredObject),
}

/// The writer of a partial file. One at a time per upload: the caller holds the upload's
/// writer lease (`attachments`), which lives in the database so that it holds across processes.
/// After each `sync` the caller records the new offset before it syncs again: the store keeps
/// the last two offsets synced, so it resumes at either.
pub struct PartialWriter {
    writer: Writer,
}

enum Writer {
    Local(BufWriter<tokio::fs::File>),
    S3(s3::PartialWriter),
}

/// A file the store holds, as the orphan sweep sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The server-made name (partial or final).
    pub name: String,
    pub partial: bool,
    pub modified: SystemTime,
}

/// A new server-made name: 256 random bits in hexadecimal.
pub fn new_name() -> String {
    random_token()
}

/// Names are only ever the server's hexadecimal ones; anything else names no file.
fn checked(name: &str) -> io::Result<&str> {
    if name.len() >= 8 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(name)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a store name",
        ))
    }
}

impl FileStore {
    /// The store the configuration names: its bucket when object storage is configured,
    /// otherwise `<data dir>/files`.
    pub fn from_config(config: &Config) -> io::Result<FileStore> {
        match &config.s3 {
            Some(settings) => {
                if config.max_file_bytes > s3::MAX_OBJECT_BYTES {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "CUPULA_MAX_FILE_BYTES may be at most {} with object storage",
                            s3::MAX_OBJECT_BYTES
                        ),
                    ));
                }
                Ok(FileStore::S3(S3Store::new(settings)?))
            }
            None => FileStore::in_data_dir(&config.data_dir),
        }
    }

    /// The local store under `root` (created when missing, with its partial directory).
    pub fn local(root: impl Into<PathBuf>) -> io::Result<FileStore> {
        let root = root.into();
        std::fs::create_dir_all(root.join(PARTIAL_DIR))?;
        Ok(FileStore::Local(LocalStore { root }))
    }

    /// The local store of a data directory: `<data dir>/files`.
    pub fn in_data_dir(data_dir: &Path) -> io::Result<FileStore> {
        FileStore::local(data_dir.join("files"))
    }

    fn partial_path(store: &LocalStore, name: &str) -> io::Result<PathBuf> {
        Ok(store.root.join(PARTIAL_DIR).join(checked(name)?))
    }

    /// Finished files sit in two levels of directories named by the name's first characters,
    /// so no directory grows too large.
    fn final_path(store: &LocalStore, name: &str) -> io::Result<PathBuf> {
        let name = checked(name)?;
        Ok(store.root.join(&name[0..2]).join(&name[2..4]).join(name))
    }

    /// Opens the partial file `name` for writing at `offset`, dropping anything beyond it (bytes
    /// a crash left after the last recorded offset). An offset the store never synced is an
    /// error, never a file with a hole or with bytes of another attempt.
    pub async fn open_partial(&self, name: &str, offset: u64) -> io::Result<PartialWriter> {
        let store = match self {
            FileStore::Local(store) => store,
            FileStore::S3(store) => {
                return Ok(PartialWriter {
                    writer: Writer::S3(store.open_partial(checked(name)?, offset).await?),
                })
            }
        };
        let path = FileStore::partial_path(store, name)?;
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .await?;
        // A file shorter than the recorded offset lost bytes the database counted: only
        // possible if the disk lost them; refuse rather than attach a file with a hole.
        if file.metadata().await?.len() < offset {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "partial file shorter than its recorded offset",
            ));
        }
        file.set_len(offset).await?;
        file.seek(io::SeekFrom::Start(offset)).await?;
        Ok(PartialWriter {
            writer: Writer::Local(BufWriter::with_capacity(WRITE_BUFFER_BYTES, file)),
        })
    }

    /// Declares the partial file `name` complete at `length` bytes: no more are appended.
    /// Object storage cannot read an upload in progress, so this is where its parts become
    /// one object; reading the file (`read_partial_head`, `partial_sha256`) comes after.
    pub async fn complete_partial(&self, name: &str, length: u64) -> io::Result<()> {
        match self {
            FileStore::Local(store) => {
                let path = FileStore::partial_path(store, name)?;
                if tokio::fs::metadata(path).await?.len() != length {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "partial file not of its recorded length",
                    ));
                }
                Ok(())
            }
            FileStore::S3(store) => store.complete_partial(checked(name)?, length).await,
        }
    }

    /// Up to `max` first bytes of a completed partial file.
    pub async fn read_partial_head(&self, name: &str, max: usize) -> io::Result<Vec<u8>> {
        match self {
            FileStore::Local(store) => read_head(&FileStore::partial_path(store, name)?, max).await,
            FileStore::S3(store) => store.read(checked(name)?, max).await,
        }
    }

    /// Up to `max` first bytes of a finished file (a preview's source, a test's check).
    pub async fn read(&self, name: &str, max: usize) -> io::Result<Vec<u8>> {
        match self {
            FileStore::Local(store) => read_head(&FileStore::final_path(store, name)?, max).await,
            FileStore::S3(store) => store.read(checked(name)?, max).await,
        }
    }

    /// The SHA-256 (hexadecimal) of a completed partial file, read in bounded blocks.
    pub async fn partial_sha256(&self, name: &str) -> io::Result<String> {
        use sha2::{Digest, Sha256};
        let store = match self {
            FileStore::Local(store) => store,
            FileStore::S3(store) => return store.completed_sha256(checked(name)?).await,
        };
        let path = FileStore::partial_path(store, name)?;
        tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut file = std::fs::File::open(path)?;
            let mut hasher = Sha256::new();
            let mut block = vec![0u8; 1024 * 1024];
            loop {
                let read = file.read(&mut block)?;
                if read == 0 {
                    break;
                }
                hasher.update(&block[..read]);
            }
            Ok(hex::encode(hasher.finalize()))
        })
        .await
        .map_err(io::Error::other)?
    }

    /// Moves a complete, verified partial file to its final name and returns that name (made
    /// here; object storage keeps the upload's own, under which it completed).
    pub async fn finish(&self, partial: &str) -> io::Result<String> {
        let store = match self {
            FileStore::Local(store) => store,
            FileStore::S3(store) => {
                let name = checked(partial)?;
                store.finish(name).await?;
                return Ok(name.to_string());
            }
        };
        let name = new_name();
        let to = FileStore::final_path(store, &name)?;
        if let Some(dir) = to.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(FileStore::partial_path(store, partial)?, &to).await?;
        // Dated now, not at its last byte: the orphan sweep spares young files, and this one
        // is recorded only after the move.
        let moved = to.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::File::options()
                .write(true)
                .open(moved)?
                .set_modified(SystemTime::now())
        })
        .await
        .map_err(io::Error::other)??;
        Ok(name)
    }

    /// Stores a small file the server made (a preview) under a new name: whole or not at all.
    pub async fn put(&self, bytes: Vec<u8>) -> io::Result<String> {
        if let FileStore::S3(store) = self {
            return store.put(bytes).await;
        }
        let partial = new_name();
        let length = bytes.len() as u64;
        let mut writer = self.open_partial(&partial, 0).await?;
        writer.write(&bytes).await?;
        writer.sync().await?;
        drop(writer);
        self.complete_partial(&partial, length).await?;
        self.finish(&partial).await
    }

    /// Where a download reads a finished file.
    pub fn stored(&self, name: &str) -> io::Result<StoredFile> {
        match self {
            FileStore::Local(store) => Ok(StoredFile::Local(FileStore::final_path(store, name)?)),
            FileStore::S3(store) => Ok(StoredFile::S3(store.stored(checked(name)?))),
        }
    }

    /// Deletes a partial file (and, in object storage, the object it completed into if it never
    /// became a finished file); one already gone is fine.
    pub async fn delete_partial(&self, name: &str) -> io::Result<()> {
        match self {
            FileStore::Local(store) => {
                ignore_missing(tokio::fs::remove_file(FileStore::partial_path(store, name)?).await)
            }
            FileStore::S3(store) => store.delete_partial(checked(name)?).await,
        }
    }

    /// Deletes a finished file; one already gone is fine.
    pub async fn delete(&self, name: &str) -> io::Result<()> {
        match self {
            FileStore::Local(store) => {
                ignore_missing(tokio::fs::remove_file(FileStore::final_path(store, name)?).await)
            }
            FileStore::S3(store) => store.delete(checked(name)?).await,
        }
    }

    /// Every file the store holds, partial and finished (anything not named by the server is
    /// left out: the sweep never touches it).
    pub async fn list(&self) -> io::Result<Vec<Listed>> {
        let store = match self {
            FileStore::Local(store) => store,
            FileStore::S3(store) => return store.list().await,
        };
        let root = store.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            let mut visit = |dir: &Path, partial: bool| -> io::Result<()> {
                for entry in std::fs::read_dir(dir)? {
                    let entry = entry?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let meta = entry.metadata()?;
                    if meta.is_file() && checked(&name).is_ok() {
                        found.push(Listed {
                            name,
                            partial,
                            modified: meta.modified()?,
                        });
                    }
                }
                Ok(())
            };
            visit(&root.join(PARTIAL_DIR), true)?;
            for first in two_hex_dirs(&root)? {
                for second in two_hex_dirs(&first)? {
                    visit(&second, false)?;
                }
            }
            Ok(found)
        })
        .await
        .map_err(io::Error::other)?
    }
}

/// Up to `max` first bytes of a file on this machine.
async fn read_head(path: &Path, max: usize) -> io::Result<Vec<u8>> {
    let file = tokio::fs::File::open(path).await?;
    let mut head = Vec::with_capacity(max.min(1024 * 1024));
    file.take(max as u64).read_to_end(&mut head).await?;
    Ok(head)
}

/// The subdirectories with two-hex-digit names of the store's layout.
fn two_hex_dirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.len() == 2
            && name.bytes().all(|b| b.is_ascii_hexdigit())
            && entry.file_type()?.is_dir()
        {
            dirs.push(entry.path());
        }
    }
    Ok(dirs)
}

fn ignore_missing(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

impl PartialWriter {
    /// Appends bytes (gathered in a bounded buffer).
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.writer {
            Writer::Local(writer) => writer.write_all(bytes).await,
            Writer::S3(writer) => writer.write(bytes).await,
        }
    }

    /// Puts everything written so far in the store, so the offset recorded after it holds.
    pub async fn sync(&mut self) -> io::Result<()> {
        match &mut self.writer {
            Writer::Local(writer) => {
                writer.flush().await?;
                writer.get_ref().sync_data().await
            }
            Writer::S3(writer) => writer.sync().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::config::S3Settings;

    #[test]
    fn object_storage_refuses_a_file_limit_larger_than_one_upload_can_make() {
        let mut config = Config::load(None, |_| None).unwrap();
        config.s3 = Some(S3Settings {
            endpoint: url::Url::parse("http://127.0.0.1:9000").unwrap(),
            bucket: "cupula-files".into(),
            region: "us-east-1".into(),
            access_key_id: Some("key".into()),
            secret_access_key: Some("secret".into()),
            prefix: String::new(),
        });
        config.max_file_bytes = s3::MAX_OBJECT_BYTES;
        assert!(matches!(
            FileStore::from_config(&config),
            Ok(FileStore::S3(_))
        ));
        config.max_file_bytes = s3::MAX_OBJECT_BYTES + 1;
        let refused = FileStore::from_config(&config).unwrap_err();
        assert!(
            refused.to_string().contains("CUPULA_MAX_FILE_BYTES"),
            "{refused}"
        );
    }
}
