//! Encrypted, content-addressed document storage on the local filesystem and on an
//! S3-compatible service (a local mock that speaks the S3 object API).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clinic_adapters::crypto::EnvelopeCipher;
use clinic_adapters::documents::{EncryptedDocuments, S3Config};
use clinic_core::ids::PracticeId;
use clinic_core::ports::{DocumentStore, FieldCipher, PortErrorKind, Upload};
use secrecy::SecretString;
use uuid::Uuid;
use wiremock::matchers::{header_regex, method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const REFERRAL: &str = "Referral: Sam Nguyen, generalised anxiety disorder, 6 sessions.";

fn cipher() -> Arc<dyn FieldCipher> {
    Arc::new(EnvelopeCipher::from_config(&EnvelopeCipher::generate_key("k1")).unwrap())
}

fn practice() -> PracticeId {
    Uuid::now_v7().into()
}

/// A directory removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let p = std::env::temp_dir().join(format!("clinic-docs-{}", Uuid::now_v7()));
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn files_on_disk_are_sealed_content_addressed_and_bound_to_their_practice() {
    let dir = TempDir::new();
    let docs = EncryptedDocuments::filesystem(&dir.0, cipher()).unwrap();
    let a = practice();
    let upload = Upload::new("text/plain", REFERRAL.as_bytes().to_vec(), 1024).unwrap();
    let r = docs.put(a, &upload).await.unwrap();
    assert_eq!(r, upload.reference());
    // Storing the same content again keeps one copy.
    assert_eq!(docs.put(a, &upload).await.unwrap(), r);
    let files = files_under(&dir.0);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0], dir.0.join(a.to_string()).join(&r.digest));
    let on_disk = std::fs::read(&files[0]).unwrap();
    assert!(!on_disk.windows(7).any(|w| w == b"anxiety"), "no clinical text on disk");
    assert_eq!(docs.get(a, &r).await.unwrap(), REFERRAL.as_bytes());

    // Another practice cannot read it, even with the reference.
    let b = practice();
    assert_eq!(docs.get(b, &r).await.unwrap_err().kind(), PortErrorKind::NotFound);
    // A sealed file copied under another practice does not open there.
    std::fs::create_dir_all(dir.0.join(b.to_string())).unwrap();
    std::fs::copy(&files[0], dir.0.join(b.to_string()).join(&r.digest)).unwrap();
    assert_eq!(docs.get(b, &r).await.unwrap_err().kind(), PortErrorKind::Invalid);
    // A flipped byte on disk is detected.
    let mut bad = on_disk.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    std::fs::write(&files[0], &bad).unwrap();
    assert!(docs.get(a, &r).await.is_err());
    // A reference that is not a digest never reaches the filesystem.
    let mut evil = r.clone();
    evil.digest = "../../../../etc/passwd".into();
    assert_eq!(docs.get(a, &evil).await.unwrap_err().kind(), PortErrorKind::Invalid);
    // Deleting is idempotent; what is deleted is gone.
    docs.delete(a, &r).await.unwrap();
    docs.delete(a, &r).await.unwrap();
    assert_eq!(docs.get(a, &r).await.unwrap_err().kind(), PortErrorKind::NotFound);
}

#[tokio::test]
async fn a_file_under_another_key_id_still_opens_after_rotation() {
    let dir = TempDir::new();
    let old = EnvelopeCipher::generate_key("k1");
    let docs = EncryptedDocuments::filesystem(&dir.0, Arc::new(EnvelopeCipher::from_config(&old).unwrap())).unwrap();
    let a = practice();
    let upload = Upload::new("application/pdf", b"%PDF-1.7\n...".to_vec(), 1024).unwrap();
    let r = docs.put(a, &upload).await.unwrap();
    let rotated = format!("{},{old}", EnvelopeCipher::generate_key("k2"));
    let docs =
        EncryptedDocuments::filesystem(&dir.0, Arc::new(EnvelopeCipher::from_config(&rotated).unwrap())).unwrap();
    assert_eq!(docs.get(a, &r).await.unwrap(), upload.bytes());
}

/// An S3 bucket in memory: PUT stores, GET returns, DELETE removes.
#[derive(Clone, Default)]
struct Bucket(Arc<Mutex<HashMap<String, Vec<u8>>>>);

impl Respond for Bucket {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let key = req.url.path().to_owned();
        let mut objects = self.0.lock().unwrap();
        match req.method.as_str() {
            "PUT" => {
                objects.insert(key, req.body.clone());
                ResponseTemplate::new(200).insert_header("etag", "\"e1\"")
            }
            "GET" => match objects.get(&key) {
                Some(body) => ResponseTemplate::new(200)
                    .insert_header("etag", "\"e1\"")
                    .insert_header("last-modified", "Tue, 24 Nov 2026 01:00:00 GMT")
                    .insert_header("content-length", body.len().to_string().as_str())
                    .set_body_bytes(body.clone()),
                None => ResponseTemplate::new(404).set_body_string(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
                ),
            },
            "DELETE" => {
                objects.remove(&key);
                ResponseTemplate::new(204)
            }
            // DeleteObjects: `POST /bucket?delete` with the keys in XML.
            "POST" if req.url.query() == Some("delete") => {
                let body = String::from_utf8_lossy(&req.body).into_owned();
                let mut deleted = String::new();
                for part in body.split("<Key>").skip(1) {
                    let k = part.split("</Key>").next().unwrap_or_default();
                    objects.remove(&format!("{}/{k}", key.trim_end_matches('/')));
                    deleted.push_str(&format!("<Deleted><Key>{k}</Key></Deleted>"));
                }
                ResponseTemplate::new(200).set_body_string(format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DeleteResult>{deleted}</DeleteResult>"
                ))
            }
            _ => ResponseTemplate::new(405),
        }
    }
}

#[tokio::test]
async fn an_s3_bucket_receives_only_sealed_bytes_under_signed_requests() {
    let server = MockServer::start().await;
    let bucket = Bucket::default();
    Mock::given(path_regex(r"^/clinic-docs(/[0-9a-f-]{36}/[0-9a-f]{64})?$"))
        .and(header_regex(
            "authorization",
            r"^AWS4-HMAC-SHA256 Credential=AKIDTEST/\d{8}/ap-southeast-2/s3/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$",
        ))
        .respond_with(bucket.clone())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403))
        .with_priority(10)
        .mount(&server)
        .await;
    let docs = EncryptedDocuments::s3(
        &S3Config {
            bucket: "clinic-docs".into(),
            region: "ap-southeast-2".into(),
            endpoint: Some(server.uri()),
            access_key_id: "AKIDTEST".into(),
            secret_access_key: SecretString::from("secret"),
        },
        cipher(),
    )
    .unwrap();
    let a = practice();
    let upload = Upload::new("text/plain", REFERRAL.as_bytes().to_vec(), 1024).unwrap();
    let r = docs.put(a, &upload).await.unwrap();
    {
        let objects = bucket.0.lock().unwrap();
        assert_eq!(objects.len(), 1);
        let (key, body) = objects.iter().next().unwrap();
        assert_eq!(key, &format!("/clinic-docs/{a}/{}", r.digest));
        assert!(
            !body.windows(7).any(|w| w == b"anxiety"),
            "the provider sees no clinical text"
        );
    }
    assert_eq!(docs.get(a, &r).await.unwrap(), REFERRAL.as_bytes());
    docs.delete(a, &r).await.unwrap();
    assert!(bucket.0.lock().unwrap().is_empty());
    assert_eq!(docs.get(a, &r).await.unwrap_err().kind(), PortErrorKind::NotFound);
}
