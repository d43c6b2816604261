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
