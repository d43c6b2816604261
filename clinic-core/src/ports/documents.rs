//! Rendering documents (invoices, data-access exports) for people to read.

use async_trait::async_trait;

use super::PortError;

/// A document to render: a title and titled sections of text lines. Renderers choose the
/// layout; the content is exactly what is given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Document {
    /// The title.
    pub title: String,
    /// Sections: a heading and its lines.
    pub sections: Vec<(String, Vec<String>)>,
}

/// Renders documents to PDF.
///
/// # Contract
/// `render_pdf` returns a complete PDF file containing every line of the document, in
/// order; it does not send the document anywhere.
#[async_trait]
pub trait DocumentRenderer: Send + Sync + 'static {
    /// Renders `document` as a PDF file.
    async fn render_pdf(&self, document: &Document) -> Result<Vec<u8>, PortError>;
}

/// The kinds of file a practice stores: what clinics upload (certificates, referral
/// letters, result attachments, photos of them) and what it generates (PDFs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// `application/pdf`.
    Pdf,
    /// `image/png`.
    Png,
    /// `image/jpeg`.
    Jpeg,
    /// `text/plain` in UTF-8.
    Text,
}

impl DocumentType {
    /// The MIME type.
    #[must_use]
    pub const fn mime(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Text => "text/plain",
        }
    }

    /// The type for a declared MIME type (parameters such as `; charset=utf-8` ignored).
    #[must_use]
    pub fn from_mime(mime: &str) -> Option<Self> {
        let base = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match base.as_str() {
            "application/pdf" => Some(Self::Pdf),
            "image/png" => Some(Self::Png),
            "image/jpeg" | "image/jpg" => Some(Self::Jpeg),
            "text/plain" => Some(Self::Text),
            _ => None,
        }
    }

    /// Whether `bytes` really are this type, by their signature (magic bytes), or for text
    /// by being UTF-8 without NUL bytes.
    #[must_use]
    pub fn matches(self, bytes: &[u8]) -> bool {
        match self {
            Self::Pdf => bytes.starts_with(b"%PDF-"),
            Self::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            Self::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            Self::Text => !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok(),
        }
    }
}

/// The largest file accepted unless a deployment says otherwise: 10 MiB.
pub const DEFAULT_MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// Why an upload was refused. Codes are stable; messages never quote the content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// Nothing was sent.
    #[error("the file is empty")]
    Empty,
    /// Over the size limit.
    #[error("the file is larger than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// A declared type that is not stored.
    #[error("the declared type is not one of application/pdf, image/png, image/jpeg, text/plain")]
    UnsupportedType,
    /// The content is not what was declared.
    #[error("the content is not a valid {declared} file")]
    TypeMismatch {
        /// The declared MIME type.
        declared: &'static str,
    },
}

impl UploadError {
    /// The stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Empty => "document_empty",
            Self::TooLarge { .. } => "document_too_large",
            Self::UnsupportedType => "document_type_unsupported",
            Self::TypeMismatch { .. } => "document_type_mismatch",
        }
    }
}

/// A file checked for size and type, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    kind: DocumentType,
    bytes: Vec<u8>,
}

impl Upload {
    /// Checks `bytes` against the declared MIME type and the size limit.
    ///
    /// # Errors
    /// [`UploadError`] for an empty, oversized, unsupported or mislabelled file.
    pub fn new(declared_mime: &str, bytes: Vec<u8>, max_bytes: usize) -> Result<Self, UploadError> {
        if bytes.is_empty() {
            return Err(UploadError::Empty);
        }
        if bytes.len() > max_bytes {
            return Err(UploadError::TooLarge { max: max_bytes });
        }
        let kind = DocumentType::from_mime(declared_mime).ok_or(UploadError::UnsupportedType)?;
        if !kind.matches(&bytes) {
            return Err(UploadError::TypeMismatch { declared: kind.mime() });
        }
        Ok(Self { kind, bytes })
    }

    /// The type.
    #[must_use]
    pub fn kind(&self) -> DocumentType {
        self.kind
    }

    /// The content.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The content address: the SHA-256 of the content, in lowercase hex.
    #[must_use]
    pub fn digest(&self) -> String {
        crate::audit::hex(&crate::audit::Sha256::digest(&self.bytes))
    }

    /// The reference the stored file will have.
    #[must_use]
    pub fn reference(&self) -> DocumentRef {
        DocumentRef {
            digest: self.digest(),
            kind: self.kind,
            size: self.bytes.len() as u64,
        }
    }
}

/// A stored file: its content address, type and size.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentRef {
    /// SHA-256 of the content, lowercase hex.
    pub digest: String,
    /// Its type.
    pub kind: DocumentType,
    /// Its size in bytes.
    pub size: u64,
}

impl DocumentRef {
    /// True when `digest` is 64 lowercase hex digits (so it is safe as a file or object
    /// name).
    #[must_use]
    pub fn is_well_formed(&self) -> bool {
        self.digest.len() == 64 && self.digest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
}

/// Stores files (uploads and generated PDFs) per practice.
///
/// # Contract
/// - Content-addressed: storing the same content twice gives the same reference and one
///   copy.
/// - Encrypted with the [`super::FieldCipher`] before it leaves the process, bound to the
///   practice and the digest, so one practice's file cannot be served as another's.
/// - `get` returns exactly the stored content, after checking it still hashes to its
///   digest; a missing file is [`super::PortErrorKind::NotFound`].
#[async_trait]
pub trait DocumentStore: Send + Sync + 'static {
    /// Stores a checked upload.
    async fn put(&self, practice: crate::ids::PracticeId, upload: &Upload) -> Result<DocumentRef, PortError>;

    /// Reads a stored file.
    async fn get(&self, practice: crate::ids::PracticeId, reference: &DocumentRef) -> Result<Vec<u8>, PortError>;

    /// Deletes a stored file (deleting one that is gone succeeds).
    async fn delete(&self, practice: crate::ids::PracticeId, reference: &DocumentRef) -> Result<(), PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_checked_for_size_and_type() {
        let pdf = b"%PDF-1.7\n...".to_vec();
        let ok = Upload::new("application/pdf", pdf.clone(), 1024).unwrap();
        assert_eq!(ok.kind(), DocumentType::Pdf);
        assert_eq!(ok.reference().size, pdf.len() as u64);
        assert!(ok.reference().is_well_formed());
        assert_eq!(Upload::new("application/pdf", vec![], 1024), Err(UploadError::Empty));
        // The limit itself is allowed; one byte over is not.
        assert!(Upload::new("application/pdf", pdf.clone(), pdf.len()).is_ok());
        assert_eq!(
            Upload::new("application/pdf", pdf.clone(), pdf.len() - 1),
            Err(UploadError::TooLarge { max: pdf.len() - 1 })
        );
        assert_eq!(
            Upload::new("application/zip", pdf.clone(), 1024),
            Err(UploadError::UnsupportedType)
        );
        // A PNG declared as a PDF is refused.
        let png = b"\x89PNG\r\n\x1a\nrest".to_vec();
        assert_eq!(
            Upload::new("application/pdf", png.clone(), 1024).unwrap_err().code(),
            "document_type_mismatch"
        );
        assert!(Upload::new("image/png", png, 1024).is_ok());
        assert!(Upload::new("image/jpeg", vec![0xFF, 0xD8, 0xFF, 0xE0], 1024).is_ok());
        assert!(Upload::new("text/plain; charset=utf-8", "héllo".as_bytes().to_vec(), 1024).is_ok());
        assert!(Upload::new("text/plain", vec![b'a', 0, b'b'], 1024).is_err());
        assert!(Upload::new("text/plain", vec![0xC3], 1024).is_err(), "truncated UTF-8");
    }

    #[test]
    fn same_content_same_address() {
        let a = Upload::new("text/plain", b"abc".to_vec(), 10).unwrap();
        let b = Upload::new("text/plain", b"abc".to_vec(), 10).unwrap();
        let c = Upload::new("text/plain", b"abd".to_vec(), 10).unwrap();
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
        // The well-known SHA-256 of "abc".
        assert_eq!(
            a.digest(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut bad = a.reference();
        bad.digest = "../../etc/passwd".into();
        assert!(!bad.is_well_formed());
    }
}
