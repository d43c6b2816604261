//! A dependency-free PDF renderer: PDF 1.4, the standard Helvetica font in WinAnsi
//! encoding, lines wrapped to the page width and paginated. Enough for a data-access
//! export a patient can open anywhere; richer layouts can sit behind the same port.

use std::fmt::Write as _;

use async_trait::async_trait;
use clinic_core::ports::{Document, DocumentRenderer, PortError};

/// Renders [`Document`]s as plain, paginated PDF.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainPdf;

const PAGE_W: u32 = 595; // A4, points
const PAGE_H: u32 = 842;
const MARGIN: u32 = 50;
const SIZE: u32 = 10;
const LEADING: u32 = 13;
const WRAP: usize = 95; // characters per line at 10 pt Helvetica across the text width

/// A character in WinAnsi (Latin-1 range), or `?`.
fn win_ansi(c: char) -> u8 {
    u8::try_from(u32::from(c))
        .ok()
        .filter(|b| *b >= 0x20 && *b != 0x7f)
        .unwrap_or(b'?')
}

/// Escapes a line for a PDF string literal.
fn pdf_string(line: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len() + 2);
    out.push(b'(');
    for c in line.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push(b'\\');
                out.push(win_ansi(c));
            }
            _ => out.push(win_ansi(c)),
        }
    }
    out.push(b')');
    out
}

fn wrap(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars.chunks(WRAP).map(|c| c.iter().collect()).collect()
}

/// The PDF bytes for `doc`.
#[must_use]
pub fn render(doc: &Document) -> Vec<u8> {
    // Lay the text out: (bold?, text) per printed line.
    let mut lines: Vec<(bool, String)> = vec![(true, doc.title.clone()), (false, String::new())];
    for (heading, body) in &doc.sections {
        lines.push((true, heading.clone()));
        for l in body {
            lines.extend(wrap(l).into_iter().map(|w| (false, w)));
        }
        lines.push((false, String::new()));
    }
    let per_page = usize::try_from((PAGE_H - 2 * MARGIN) / LEADING).unwrap_or(1).max(1);
    let pages: Vec<&[(bool, String)]> = lines.chunks(per_page).collect();

    let mut out: Vec<u8> = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets: Vec<usize> = Vec::new();
    let mut object = |out: &mut Vec<u8>, body: &[u8]| {
        offsets.push(out.len());
        let n = offsets.len();
        out.extend_from_slice(format!("{n} 0 obj\n").as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    // 1 catalog, 2 pages, 3 regular font, 4 bold font, then a page and its content each.
    let first_page = 5;
    let kids: String = (0..pages.len())
        .map(|i| format!("{} 0 R ", first_page + 2 * i))
        .collect();
    object(&mut out, b"<< /Type /Catalog /Pages 2 0 R >>");
    object(
        &mut out,
        format!("<< /Type /Pages /Kids [{kids}] /Count {} >>", pages.len()).as_bytes(),
    );
    object(
        &mut out,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    );
    object(
        &mut out,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    );
    for (i, page) in pages.iter().enumerate() {
        let content_ref = first_page + 2 * i + 1;
        object(
            &mut out,
            format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {content_ref} 0 R >>").as_bytes(),
        );
        let mut stream: Vec<u8> = format!("BT\n{LEADING} TL\n{MARGIN} {} Td\n", PAGE_H - MARGIN).into_bytes();
        for (bold, text) in *page {
            stream.extend_from_slice(if *bold { b"/F2 11 Tf " } else { b"/F1 10 Tf " });
            let _ = SIZE;
            stream.extend_from_slice(&pdf_string(text));
            stream.extend_from_slice(b" Tj T*\n");
        }
        stream.extend_from_slice(b"ET");
        let mut body = format!("<< /Length {} >>\nstream\n", stream.len()).into_bytes();
        body.extend_from_slice(&stream);
        body.extend_from_slice(b"\nendstream");
        object(&mut out, &body);
    }
    let xref_at = out.len();
    let mut xref = format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1);
    for o in &offsets {
        let _ = writeln!(xref, "{o:010} 00000 n ");
    }
    let _ = write!(
        xref,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n",
        offsets.len() + 1
    );
    out.extend_from_slice(xref.as_bytes());
    out
}

#[async_trait]
impl DocumentRenderer for PlainPdf {
    async fn render_pdf(&self, document: &Document) -> Result<Vec<u8>, PortError> {
        Ok(render(document))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(lines: usize) -> Document {
        Document {
            title: "Records held about Alex (Taylor) \\ 2026".into(),
            sections: vec![(
                "Appointments".into(),
                (0..lines).map(|i| format!("line {i}: café ✓")).collect(),
            )],
        }
    }

    /// Every xref offset points at its object header, and the trailer points at the xref.
    /// Works on the bytes: the file is not UTF-8, only its xref table is ASCII.
    fn check_structure(pdf: &[u8]) -> usize {
        assert!(pdf.starts_with(b"%PDF-1.4\n") && pdf.ends_with(b"%%EOF\n"));
        let marker = b"startxref\n";
        let at = pdf.windows(marker.len()).rposition(|w| w == marker).unwrap() + marker.len();
        let tail = std::str::from_utf8(&pdf[at..]).unwrap();
        let startxref: usize = tail.lines().next().unwrap().parse().unwrap();
        let table = std::str::from_utf8(&pdf[startxref..]).unwrap();
        assert!(table.starts_with("xref\n"));
        let entries: Vec<usize> = table
            .lines()
            .skip(3)
            .take_while(|l| l.ends_with(" n "))
            .map(|l| l[..10].parse().unwrap())
            .collect();
        for (i, off) in entries.iter().enumerate() {
            assert!(
                pdf[*off..].starts_with(format!("{} 0 obj\n", i + 1).as_bytes()),
                "object {} misplaced",
                i + 1
            );
        }
        entries.len()
    }

    #[test]
    fn a_short_document_is_one_valid_page() {
        let pdf = render(&doc(3));
        assert_eq!(check_structure(&pdf), 6);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/Count 1"));
        assert!(
            text.contains("(Records held about Alex \\(Taylor\\) \\\\ 2026)"),
            "parentheses and backslashes escaped"
        );
        assert!(pdf.windows(5).any(|w| w == b"caf\xe9 "), "Latin-1 in WinAnsi");
        assert!(text.contains("line 2: caf"), "every line present");
    }

    #[test]
    fn long_documents_paginate_and_long_lines_wrap() {
        let pdf = render(&doc(200));
        let objects = check_structure(&pdf);
        let pages = (objects - 4) / 2;
        assert!(pages >= 4, "{pages} pages");
        assert!(String::from_utf8_lossy(&pdf).contains(&format!("/Count {pages}")));
        let long = Document {
            title: "t".into(),
            sections: vec![("s".into(), vec!["x".repeat(250)])],
        };
        let text = String::from_utf8_lossy(&render(&long)).into_owned();
        assert_eq!(
            text.matches(&"x".repeat(95)).count(),
            2,
            "250 characters wrap into 95 + 95 + 60"
        );
    }
}
