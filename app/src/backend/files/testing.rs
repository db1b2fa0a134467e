//! File stores for tests, of the kind the test run names.
//!
//! `CUPULA_TEST_S3_ENDPOINT` unset: a new local store in a temporary directory.
//! Set to an S3-compatible server (`http://127.0.0.1:9000`): a fresh prefix of its bucket
//! `CUPULA_TEST_S3_BUCKET` (default `cupula-test`, which must exist) for each call. The test
//! script runs the attachment tests once per store.

use super::{FileStore, S3Store};
use crate::backend::config::S3Settings;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};

/// A store of its own for one test.
pub struct TestStore {
    pub store: FileStore,
    /// The bucket and prefix of an S3 store, so that another process can open it too.
    s3: Option<S3Settings>,
    /// Keeps the local store's directory alive for the test's duration.
    _dir: Option<tempfile::TempDir>,
}

/// The store kind the test run uses, for messages.
pub fn store_kind() -> &'static str {
    if s3_endpoint().is_some() {
        "s3"
    } else {
        "local"
    }
}

fn s3_endpoint() -> Option<String> {
    std::env::var("CUPULA_TEST_S3_ENDPOINT")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// Settings for a fresh prefix of the test server's bucket, or `None` on a local run. The
/// credentials are the test server's, which takes any.
pub fn fresh_s3_settings() -> Option<S3Settings> {
    let endpoint = s3_endpoint()?;
    Some(S3Settings {
        endpoint: url::Url::parse(endpoint.trim()).expect("CUPULA_TEST_S3_ENDPOINT is a URL"),
        bucket: std::env::var("CUPULA_TEST_S3_BUCKET").unwrap_or_else(|_| "cupula-test".into()),
        region: "us-east-1".into(),
        access_key_id: Some("cupula-test".into()),
        secret_access_key: Some("cupula-test-secret".into()),
        prefix: format!("test-{}", &crate::backend::tokens::random_token()[..16]),
    })
}

pub fn fresh_store() -> TestStore {
    match fresh_s3_settings() {
        Some(settings) => TestStore {
            store: FileStore::S3(S3Store::new(&settings).expect("an S3 store for the tests")),
            s3: Some(settings),
            _dir: None,
        },
        None => {
            let dir = tempfile::TempDir::new().expect("a temporary directory");
            TestStore {
                store: FileStore::local(dir.path().join("files")).expect("a local store"),
                s3: None,
                _dir: Some(dir),
            }
        }
    }
}

impl TestStore {
    /// Another handle on the same files, made anew as another server process makes it.
    pub fn other_process(&self) -> FileStore {
        match &self.s3 {
            Some(settings) => FileStore::S3(S3Store::new(settings).expect("the same bucket")),
            // A local store keeps no state of its own: a copy is what another process opens.
            None => self.store.clone(),
        }
    }

    /// Writes `bytes` at `key` (`/`-separated, from the store's root) behind the store's back,
    /// as an operator or another program might.
    pub async fn put_raw(&self, key: &str, bytes: &[u8]) {
        match &self.store {
            FileStore::Local(local) => {
                let path = local.root.join(key);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, bytes).unwrap();
            }
            FileStore::S3(s3) => {
                s3.client
                    .put(&raw_key(s3, key), PutPayload::from(bytes.to_vec()))
                    .await
                    .unwrap();
            }
        }
    }

    /// Whether `key` (as `put_raw` takes it) holds anything.
    pub async fn raw_exists(&self, key: &str) -> bool {
        match &self.store {
            FileStore::Local(local) => local.root.join(key).exists(),
            FileStore::S3(s3) => s3.client.head(&raw_key(s3, key)).await.is_ok(),
        }
    }
}

fn raw_key(s3: &S3Store, key: &str) -> Path {
    key.split('/')
        .fold(s3.prefix.clone(), |path, part| path.child(part))
}
