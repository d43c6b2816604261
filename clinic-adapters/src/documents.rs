//! Encrypted, content-addressed document storage (features `fs` and `s3`), on the
//! `object_store` crate: a directory on the local filesystem (the default), or any
//! S3-compatible service (AWS S3, DigitalOcean Spaces, MinIO) — for Australian health
//! data, a bucket in the Sydney region (`ap-southeast-2`, or Spaces' `syd1`).
//!
//! Each file is stored at `<practice id>/<sha-256 of its content>`, sealed with the
//! [`FieldCipher`] under the context `document/<digest>` of its practice before it leaves
//! the process: neither the disk nor the bucket provider sees a byte of it, and a sealed file
//! moved under another practice or digest does not open. Reading checks that the content
//! still hashes to its address.

use std::sync::Arc;

use async_trait::async_trait;
use clinic_core::ids::PracticeId;
use clinic_core::ports::{DocumentRef, DocumentStore, FieldCipher, PortError, PortErrorKind, SealContext, Upload};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// A [`DocumentStore`] over any object store, sealing every file.
pub struct EncryptedDocuments {
    store: Arc<dyn ObjectStore>,
    cipher: Arc<dyn FieldCipher>,
}

impl std::fmt::Debug for EncryptedDocuments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedDocuments")
            .field("store", &self.store.to_string())
            .field("key", &self.cipher.current_key_id())
            .finish()
    }
}

/// Settings for an S3-compatible bucket.
#[cfg(feature = "s3")]
#[derive(Clone, Debug)]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// The region (`ap-southeast-2` for AWS Sydney; `syd1` for Spaces).
    pub region: String,
    /// The endpoint for a non-AWS service (`https://syd1.digitaloceanspaces.com`,
    /// `http://127.0.0.1:9000` for a local MinIO); `None` for AWS.
    pub endpoint: Option<String>,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: secrecy::SecretString,
}

fn failed(what: &'static str) -> impl FnOnce(object_store::Error) -> PortError {
    move |e| {
        let kind = match &e {
            object_store::Error::NotFound { .. } => PortErrorKind::NotFound,
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
                PortErrorKind::PermissionDenied
            }
            _ => PortErrorKind::Unavailable,
        };
        // The object store's error text carries paths and bucket names, not content; it is
        // kept as the source for operators.
        PortError::new(kind, format!("documents: {what} failed")).with_source(e)
    }
}

impl EncryptedDocuments {
    /// Files under `root` on the local filesystem (created if missing).
    ///
    /// # Errors
    /// [`PortErrorKind::Unavailable`] when the directory cannot be created or opened.
    #[cfg(feature = "fs")]
    pub fn filesystem(root: impl AsRef<std::path::Path>, cipher: Arc<dyn FieldCipher>) -> Result<Self, PortError> {
        std::fs::create_dir_all(root.as_ref()).map_err(|e| {
            PortError::new(PortErrorKind::Unavailable, "documents: the directory cannot be created").with_source(e)
        })?;
        // The files are sealed, but named by their content's digest: the directory is its
        // owner's alone (0700), so nobody else on the machine lists it to test a guess.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(root.as_ref(), std::fs::Permissions::from_mode(0o700)).map_err(|e| {
                PortError::new(
                    PortErrorKind::Unavailable,
                    "documents: the directory's mode cannot be set",
                )
                .with_source(e)
            })?;
        }
        let store =
            object_store::local::LocalFileSystem::new_with_prefix(root).map_err(failed("opening the directory"))?;
        Ok(Self::over(Arc::new(store), cipher))
    }

    /// Files in an S3-compatible bucket.
    ///
    /// # Errors
    /// [`PortErrorKind::Invalid`] for settings the client refuses.
    #[cfg(feature = "s3")]
    pub fn s3(config: &S3Config, cipher: Arc<dyn FieldCipher>) -> Result<Self, PortError> {
        use secrecy::ExposeSecret;
        let mut builder = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(&config.access_key_id)
            .with_secret_access_key(config.secret_access_key.expose_secret());
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder.build().map_err(|e| {
            PortError::new(PortErrorKind::Invalid, "documents: the S3 settings are not valid").with_source(e)
        })?;
        Ok(Self::over(Arc::new(store), cipher))
    }

    /// Files held in memory only: for tests and throwaway development servers.
    #[must_use]
    pub fn in_memory(cipher: Arc<dyn FieldCipher>) -> Self {
        Self::over(Arc::new(object_store::memory::InMemory::new()), cipher)
    }

    /// Over any object store (for tests, or a store an integrator configured).
    #[must_use]
    pub fn over(store: Arc<dyn ObjectStore>, cipher: Arc<dyn FieldCipher>) -> Self {
        Self { store, cipher }
    }

    fn path(practice: PracticeId, reference: &DocumentRef) -> Result<Path, PortError> {
        if !reference.is_well_formed() {
            return Err(PortError::new(
                PortErrorKind::Invalid,
                "documents: malformed document reference",
            ));
        }
        Ok(Path::from(format!("{practice}/{}", reference.digest)))
    }
}

fn context(digest: &str) -> String {
    format!("document/{digest}")
}

#[async_trait]
impl DocumentStore for EncryptedDocuments {
    async fn put(&self, practice: PracticeId, upload: &Upload) -> Result<DocumentRef, PortError> {
        let reference = upload.reference();
        let path = Self::path(practice, &reference)?;
        let record = context(&reference.digest);
        let sealed = self.cipher.seal(
            SealContext {
                practice,
                record: &record,
            },
            upload.bytes(),
        )?;
        // The same content always lands at the same path; writing it again replaces one
        // sealing of it with another, so storing twice keeps one copy.
        self.store
            .put(&path, PutPayload::from(sealed))
            .await
            .map_err(failed("writing"))?;
        Ok(reference)
    }

    async fn get(&self, practice: PracticeId, reference: &DocumentRef) -> Result<Vec<u8>, PortError> {
        let path = Self::path(practice, reference)?;
        let sealed = self
            .store
            .get(&path)
            .await
            .map_err(failed("reading"))?
            .bytes()
            .await
            .map_err(failed("reading"))?;
        let record = context(&reference.digest);
        let bytes = self.cipher.open(
            SealContext {
                practice,
                record: &record,
            },
            &sealed,
        )?;
        let digest = clinic_core::audit::hex(&clinic_core::audit::Sha256::digest(&bytes));
        if digest != reference.digest || bytes.len() as u64 != reference.size {
            return Err(PortError::new(
                PortErrorKind::Unexpected,
                "documents: the stored file does not match its reference",
            ));
        }
        Ok(bytes)
    }

    async fn delete(&self, practice: PracticeId, reference: &DocumentRef) -> Result<(), PortError> {
        let path = Self::path(practice, reference)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(failed("deleting")(e)),
        }
    }
}
