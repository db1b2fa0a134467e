//! Backups of a running portal on SQLite, and their restoration into an empty data dir.
//!
//! A backup is one tar archive: `cupula.db`, a consistent copy of the database made while the
//! portal serves (`Db::copy_sqlite_into`); `secret.key` when the key lives in the data dir
//! (without it the links of e-mails not yet sent cannot be opened); the logos (`branding/`);
//! and the attachments (`files/`) when they are kept in the data dir. The database is copied
//! first: a file is written before the row that names it commits, so every file the copy names
//! already exists when the files are read. Attachments on S3-compatible storage stay there (the
//! bucket has its own copies); PostgreSQL is copied with `pg_dump` (see the README).

use super::config::Config;
use super::files::FileStore;
use super::logo;
use super::storage::{Db, StoreError};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The database's name inside an archive.
const DATABASE_ENTRY: &str = "cupula.db";
const SECRET_KEY_ENTRY: &str = "secret.key";
const BRANDING_ENTRY: &str = "branding";
const FILES_ENTRY: &str = "files";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("this portal's database is PostgreSQL: back it up with pg_dump (see the README)")]
    NotSqlite,
    #[error("{0} already exists; a backup never overwrites a file")]
    TargetExists(PathBuf),
    #[error("the data directory {0} is not empty; restore into an empty one")]
    DataDirNotEmpty(PathBuf),
    #[error("the database named by CUPULA_DATABASE_URL, {0}, already exists")]
    DatabaseExists(PathBuf),
    #[error("{0} is not a backup of this portal (no {DATABASE_ENTRY} in it)")]
    NotABackup(PathBuf),
    #[error("the restored database fails SQLite's integrity check: {0}")]
    Corrupt(String),
    #[error("{0} files that requests hold are missing from the file store, for example {1}")]
    FilesMissing(usize, String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What a backup holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupSummary {
    pub tickets: i64,
    /// Files archived besides the database (key, logos, attachments).
    pub files: u64,
    pub bytes: u64,
}

/// What a restoration brought back and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreSummary {
    pub tickets: i64,
    /// Files of requests found in the file store.
    pub attached_files: usize,
}

/// The SQLite database file a `sqlite://…` address names.
fn sqlite_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Writes a backup of the running portal to `target`, which must not exist.
pub async fn create(db: &Db, config: &Config, target: &Path) -> Result<BackupSummary, BackupError> {
    if sqlite_path(&config.database_url).is_none() {
        return Err(BackupError::NotSqlite);
    }
    if target.exists() {
        return Err(BackupError::TargetExists(target.to_path_buf()));
    }
    let parent = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Next to the target, so the finished archive is renamed into place, never half-written.
    let work = tempfile::Builder::new()
        .prefix(".cupula-backup-")
        .tempdir_in(&parent)?;
    let copy = work.path().join(DATABASE_ENTRY);
    if !db.copy_sqlite_into(&copy).await? {
        return Err(BackupError::NotSqlite);
    }
    let copied = Db::connect(&format!("sqlite://{}", copy.display())).await?;
    let tickets = copied.ticket_total().await;
    copied.close().await;
    let tickets = tickets?;

    let data_dir = config.data_dir.clone();
    let secret_key = config.secret_key_file();
    let files_in_data_dir = config.s3.is_none();
    let archive = work.path().join("backup.tar");
    let (files, bytes) = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, u64)> {
        let mut builder =
            tar::Builder::new(std::io::BufWriter::new(std::fs::File::create(&archive)?));
        builder.follow_symlinks(false);
        builder.append_path_with_name(&copy, DATABASE_ENTRY)?;
        let mut files = 0;
        if secret_key.is_file() {
            builder.append_path_with_name(&secret_key, SECRET_KEY_ENTRY)?;
            files += 1;
        }
        let mut dirs = vec![(logo::logo_dir(&data_dir), BRANDING_ENTRY)];
        if files_in_data_dir {
            dirs.push((data_dir.join(FILES_ENTRY), FILES_ENTRY));
        }
        for (dir, name) in dirs {
            if dir.is_dir() {
                files += count_files(&dir)?;
                builder.append_dir_all(name, &dir)?;
            }
        }
        let file = builder
            .into_inner()?
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.sync_all()?;
        let bytes = file.metadata()?.len();
        drop(file);
        Ok((files, bytes))
    })
    .await
    .map_err(std::io::Error::other)??;
    tokio::fs::rename(work.path().join("backup.tar"), target).await?;
    Ok(BackupSummary {
        tickets,
        files,
        bytes,
    })
}

fn count_files(dir: &Path) -> std::io::Result<u64> {
    let mut count = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            count += count_files(&entry.path())?;
        } else if kind.is_file() {
            count += 1;
        }
    }
    Ok(count)
}

/// Brings a backup back into the configured data dir, which must be empty (or not yet exist),
/// then checks it: the database passes SQLite's integrity check and is migrated to this
/// version, and every file its requests hold is in the file store.
pub async fn restore(config: &Config, source: &Path) -> Result<RestoreSummary, BackupError> {
    let database = sqlite_path(&config.database_url).ok_or(BackupError::NotSqlite)?;
    let data_dir = config.data_dir.clone();
    if data_dir.exists() && std::fs::read_dir(&data_dir)?.next().is_some() {
        return Err(BackupError::DataDirNotEmpty(data_dir));
    }
    if database.exists() {
        return Err(BackupError::DatabaseExists(database));
    }
    std::fs::create_dir_all(&data_dir)?;
    let source_path = source.to_path_buf();
    let unpacked_into = data_dir.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let file = std::fs::File::open(&source_path)?;
        // `unpack` refuses entries that would land outside the directory.
        tar::Archive::new(std::io::BufReader::new(file)).unpack(&unpacked_into)
    })
    .await
    .map_err(std::io::Error::other)??;
    let unpacked = data_dir.join(DATABASE_ENTRY);
    if !unpacked.is_file() {
        return Err(BackupError::NotABackup(source.to_path_buf()));
    }
    if unpacked != database {
        if let Some(parent) = database.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(&unpacked, &database)?;
    }

    let db = Db::connect(&config.database_url).await?;
    let checked = check(&db, config).await;
    db.close().await;
    checked
}

async fn check(db: &Db, config: &Config) -> Result<RestoreSummary, BackupError> {
    let problems = db.integrity_problems().await?;
    if !problems.is_empty() {
        return Err(BackupError::Corrupt(problems.join("; ")));
    }
    db.migrate().await?;
    let store = FileStore::from_config(config)?;
    let stored: HashSet<String> = store
        .list()
        .await?
        .into_iter()
        .filter(|file| !file.partial)
        .map(|file| file.name)
        .collect();
    let named = db.attached_store_names().await?;
    let missing: Vec<&String> = named
        .iter()
        .filter(|name| !stored.contains(*name))
        .collect();
    if let Some(first) = missing.first() {
        return Err(BackupError::FilesMissing(missing.len(), first.to_string()));
    }
    Ok(RestoreSummary {
        tickets: db.ticket_total().await?,
        attached_files: named.len(),
    })
}
