//! Where attached files live: a directory of the data dir now, object storage later, behind
//! one type (like `Db`). Names are made by the server, never taken from uploads.
//!
//! An upload is appended to a partial file; only once it is complete and verified is it moved
//! to its final name, so a crash mid-upload never leaves a half file attached. What no row
//! names (after a crash between moving a file and recording it) is removed by
//! `attachments::remove_orphans`.

use super::tokens::random_token;
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
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
    // An S3-compatible arm (several server instances) goes here, with the same operations.
}

#[derive(Clone, Debug)]
pub struct LocalStore {
    root: PathBuf,
    /// Partial files being written now: one writer per upload at a time.
    writing: Arc<Mutex<HashSet<String>>>,
}

/// A finished file as a download reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredFile {
    /// A file on this machine (open it, seek for ranges).
    Local(PathBuf),
}

/// The one writer of a partial file; dropping it lets another append begin.
pub struct PartialWriter {
    writer: BufWriter<tokio::fs::File>,
    _claim: Claim,
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
    /// The local store under `root` (created when missing, with its partial directory).
    pub fn local(root: impl Into<PathBuf>) -> io::Result<FileStore> {
        let root = root.into();
        std::fs::create_dir_all(root.join(PARTIAL_DIR))?;
        Ok(FileStore::Local(LocalStore {
            root,
            writing: Arc::default(),
        }))
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
    /// a crash left after the last recorded offset). `None`: another writer has it now.
    pub async fn open_partial(&self, name: &str, offset: u64) -> io::Result<Option<PartialWriter>> {
        let FileStore::Local(store) = self;
        let path = FileStore::partial_path(store, name)?;
        {
            let mut writing = store.writing.lock().unwrap_or_else(|e| e.into_inner());
            if !writing.insert(name.to_string()) {
                return Ok(None);
            }
        }
        let claim = Claim {
            writing: store.writing.clone(),
            name: name.to_string(),
        };
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
        Ok(Some(PartialWriter {
            writer: BufWriter::with_capacity(WRITE_BUFFER_BYTES, file),
            _claim: claim,
        }))
    }

    /// Whether a writer holds the partial file now.
    pub fn is_writing(&self, name: &str) -> bool {
        let FileStore::Local(store) = self;
        let writing = store.writing.lock().unwrap_or_else(|e| e.into_inner());
        writing.contains(name)
    }

    /// Up to `max` first bytes of a partial file.
    pub async fn read_partial_head(&self, name: &str, max: usize) -> io::Result<Vec<u8>> {
        let FileStore::Local(store) = self;
        let file = tokio::fs::File::open(FileStore::partial_path(store, name)?).await?;
        let mut head = Vec::with_capacity(max.min(1024 * 1024));
        file.take(max as u64).read_to_end(&mut head).await?;
        Ok(head)
    }

    /// The SHA-256 (hexadecimal) of a partial file, read in bounded blocks.
    pub async fn partial_sha256(&self, name: &str) -> io::Result<String> {
        use sha2::{Digest, Sha256};
        let FileStore::Local(store) = self;
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

    /// Moves a complete, verified partial file to its final name (made here) and returns it.
    pub async fn finish(&self, partial: &str) -> io::Result<String> {
        let FileStore::Local(store) = self;
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

    /// Where a download reads a finished file.
    pub fn stored(&self, name: &str) -> io::Result<StoredFile> {
        let FileStore::Local(store) = self;
        Ok(StoredFile::Local(FileStore::final_path(store, name)?))
    }

    /// Deletes a partial file; one already gone is fine.
    pub async fn delete_partial(&self, name: &str) -> io::Result<()> {
        let FileStore::Local(store) = self;
        ignore_missing(tokio::fs::remove_file(FileStore::partial_path(store, name)?).await)
    }

    /// Deletes a finished file; one already gone is fine.
    pub async fn delete(&self, name: &str) -> io::Result<()> {
        let FileStore::Local(store) = self;
        ignore_missing(tokio::fs::remove_file(FileStore::final_path(store, name)?).await)
    }

    /// Every file the store holds, partial and finished (anything not named by the server is
    /// left out: the sweep never touches it).
    pub async fn list(&self) -> io::Result<Vec<Listed>> {
        let FileStore::Local(store) = self;
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

/// The claim on a partial file: released when dropped, so another append may begin.
struct Claim {
    writing: Arc<Mutex<HashSet<String>>>,
    name: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        writing.remove(&self.name);
    }
}

impl PartialWriter {
    /// Appends bytes (gathered in a bounded buffer).
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes).await
    }

    /// Puts everything written so far on the disk, so the offset recorded after it holds.
    pub async fn sync(&mut self) -> io::Result<()> {
        self.writer.flush().await?;
        self.writer.get_ref().sync_data().await
    }
}
