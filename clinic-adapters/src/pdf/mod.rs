//! The PDF renderer: A4 pages, DejaVu Sans embedded as a subset TrueType font (so every
//! reader shows the same glyphs, including accented names and symbols beyond Latin-1), and
//! text that can be selected and searched, through a `ToUnicode` map. No network access,
//! no external program: the font bytes are compiled in (the `dejavu` crate).
//!
//! Layout: the title, then each section's heading and lines, wrapped at word boundaries to
//! the text width and paginated, with "Page n of N" at the foot of every page. A line
//! holding a tab is a row: the text before the tab on the left, the text after it aligned
//! to the right margin (amounts on an invoice). Leading spaces indent.
//!
//! PDF structures follow ISO 32000-1: Type 0 fonts with a `CIDFontType2` descendant and
//! `Identity-H` encoding (§9.7), embedded `FontFile2` programs (§9.9), and `ToUnicode`
//! CMaps (§9.10.3).

mod ttf;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::OnceLock;

use async_trait::async_trait;
use clinic_core::ports::{Document, DocumentRenderer, PortError, PortErrorKind};

use ttf::Font;

/// Renders [`Document`]s as A4 PDF with embedded fonts.
#[derive(Clone, Copy, Debug, Default)]
pub struct PdfRenderer;

const PAGE_W: f32 = 595.28; // A4, points
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 56.0; // about 20 mm
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN;
const BODY: f32 = 10.0;
const HEADING: f32 = 11.5;
const TITLE: f32 = 17.0;
const FOOT: f32 = 8.0;
const GAP: f32 = 12.0; // between a row's left text and its right-aligned text

/// The regular and bold faces, parsed once.
fn fonts() -> Result<&'static (Font, Font), PortError> {
    static FONTS: OnceLock<Result<(Font, Font), ttf::FontError>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            Ok((
                Font::parse(dejavu::sans::regular())?,
                Font::parse(dejavu::sans::bold())?,
            ))
        })
        .as_ref()
        .map_err(|e| {
            PortError::new(
                PortErrorKind::Unexpected,
                format!("pdf: the embedded font is unusable: {}", e.0),
            )
        })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Face {
    Regular,
    Bold,
}

/// One piece of text placed on a page.
struct Run {
    face: Face,
    size: f32,
    x: f32,
    y: f32,
    text: String,
}

/// Splits `text` into lines no wider than `width`, at spaces where possible.
fn wrap(font: &Font, text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if font.width(&candidate, size) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // A word wider than the line is broken between characters.
        let mut piece = String::new();
        for c in word.chars() {
            piece.push(c);
            if font.width(&piece, size) > width && piece.chars().count() > 1 {
                piece.pop();
                lines.push(std::mem::take(&mut piece));
                piece.push(c);
            }
        }
        line = piece;
    }
    lines.push(line);
    lines
}

/// Lays the document out into pages of runs.
fn layout(doc: &Document, regular: &Font, bold: &Font) -> Vec<Vec<Run>> {
    let mut pages: Vec<Vec<Run>> = vec![Vec::new()];
    let top = PAGE_H - MARGIN;
    let bottom = MARGIN + 2.0 * FOOT;
    let mut y = top;
    let place = |pages: &mut Vec<Vec<Run>>, y: &mut f32, leading: f32, runs: Vec<Run>| {
        if *y - leading < bottom {
            pages.push(Vec::new());
            *y = top;
        }
        *y -= leading;
        let page = pages.len() - 1;
        pages[page].extend(runs.into_iter().map(|mut r| {
            r.y = *y;
            r
        }));
    };
    for line in wrap(bold, &clean(&doc.title), TITLE, TEXT_W) {
        place(
            &mut pages,
            &mut y,
            TITLE * 1.3,
            vec![run(Face::Bold, TITLE, MARGIN, line)],
        );
    }
    y -= 6.0;
    for (heading, body) in &doc.sections {
        y -= 8.0;
        for line in wrap(bold, &clean(heading), HEADING, TEXT_W) {
            place(
                &mut pages,
                &mut y,
                HEADING * 1.4,
                vec![run(Face::Bold, HEADING, MARGIN, line)],
            );
        }
        for raw in body {
            let raw = raw.replace(['\r', '\n'], " ");
            let (left, right) = match raw.split_once('\t') {
                Some((l, r)) => (l.to_owned(), Some(clean(&r.replace('\t', " ")))),
                None => (raw.clone(), None),
            };
            let indent_chars = left.len() - left.trim_start_matches(' ').len();
            #[allow(clippy::cast_precision_loss)] // a handful of spaces
            let indent = (indent_chars as f32 * BODY * 0.5).min(TEXT_W / 3.0);
            let left = clean(left.trim_start_matches(' '));
            let right_w = right.as_ref().map_or(0.0, |r| regular.width(r, BODY));
            let avail = (TEXT_W - indent - if right.is_some() { right_w + GAP } else { 0.0 }).max(TEXT_W / 4.0);
            let wrapped = wrap(regular, &left, BODY, avail);
            let last = wrapped.len() - 1;
            for (i, l) in wrapped.into_iter().enumerate() {
                let mut runs = vec![run(Face::Regular, BODY, MARGIN + indent, l)];
                // The right-hand text sits on the row's last line, like a total.
                if i == last
                    && let Some(r) = &right
                {
                    runs.push(run(Face::Regular, BODY, MARGIN + TEXT_W - right_w, r.clone()));
                }
                place(&mut pages, &mut y, BODY * 1.35, runs);
            }
        }
    }
    let count = pages.len();
    for (i, page) in pages.iter_mut().enumerate() {
        let label = format!("Page {} of {count}", i + 1);
        let w = regular.width(&label, FOOT);
        page.push(Run {
            face: Face::Regular,
            size: FOOT,
            x: (PAGE_W - w) / 2.0,
            y: MARGIN - FOOT,
            text: label,
        });
    }
    pages
}

fn run(face: Face, size: f32, x: f32, text: String) -> Run {
    Run {
        face,
        size,
        x,
        y: 0.0,
        text,
    }
}

/// Control characters are dropped; everything else is kept (a glyph the font lacks shows
/// as its missing-glyph box).
fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// A hex string of 2-byte glyph ids, for `Identity-H` text.
fn glyph_hex(font: &Font, text: &str, used: &mut BTreeMap<u16, char>) -> String {
    let mut out = String::with_capacity(text.len() * 4 + 2);
    out.push('<');
    for c in text.chars() {
        let g = font.glyph(c);
        used.entry(g).or_insert(c);
        let _ = write!(out, "{g:04X}");
    }
    out.push('>');
    out
}

/// A PDF text string for the document information dictionary: UTF-16BE with a byte-order
/// mark, in hex.
fn info_string(text: &str) -> String {
    let mut out = String::from("<FEFF");
    for unit in text.encode_utf16() {
        let _ = write!(out, "{unit:04X}");
    }
    out.push('>');
    out
}

/// The ToUnicode CMap for the glyphs used.
fn to_unicode(used: &BTreeMap<u16, char>) -> String {
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let mapped: Vec<(&u16, &char)> = used.iter().filter(|(g, _)| **g != 0).collect();
    for chunk in mapped.chunks(100) {
        let _ = writeln!(s, "{} beginbfchar", chunk.len());
        for (g, c) in chunk {
            let mut units = [0u16; 2];
            let hex: String = c.encode_utf16(&mut units).iter().map(|u| format!("{u:04X}")).collect();
            let _ = writeln!(s, "<{g:04X}> <{hex}>");
        }
        s.push_str("endbfchar\n");
    }
    s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend");
    s
}

/// A subset tag: six capital letters derived from the glyphs in the subset (ISO 32000-1
/// §9.6.4), so different subsets of one font get different names.
fn subset_tag(used: &BTreeMap<u16, char>) -> String {
    let mut h = clinic_core::audit::Sha256::new();
    for g in used.keys() {
        h.update(&g.to_be_bytes());
    }
    h.finish()[..6].iter().map(|b| char::from(b'A' + b % 26)).collect()
}

struct Writer {
    out: Vec<u8>,
    offsets: Vec<usize>,
}

impl Writer {
    fn new() -> Self {
        Self {
            out: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec(),
            offsets: Vec::new(),
        }
    }

    /// Reserves the next object number.
    fn reserve(&mut self) -> usize {
        self.offsets.push(0);
        self.offsets.len()
    }

    fn object(&mut self, n: usize, body: &[u8]) {
        self.offsets[n - 1] = self.out.len();
        self.out.extend_from_slice(format!("{n} 0 obj\n").as_bytes());
        self.out.extend_from_slice(body);
        self.out.extend_from_slice(b"\nendobj\n");
    }

    fn stream(&mut self, n: usize, extra: &str, data: &[u8]) {
        let mut body = format!("<< /Length {}{extra} >>\nstream\n", data.len()).into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\nendstream");
        self.object(n, &body);
    }

    fn finish(mut self, root: usize, info: usize) -> Vec<u8> {
        let xref_at = self.out.len();
        let mut xref = format!("xref\n0 {}\n0000000000 65535 f \n", self.offsets.len() + 1);
        for o in &self.offsets {
            let _ = writeln!(xref, "{o:010} 00000 n ");
        }
        let _ = write!(
            xref,
            "trailer\n<< /Size {} /Root {root} 0 R /Info {info} 0 R >>\nstartxref\n{xref_at}\n%%EOF\n",
            self.offsets.len() + 1
        );
        self.out.extend_from_slice(xref.as_bytes());
        self.out
    }

    /// Writes one embedded font; returns the Type 0 font's object number.
    fn font(&mut self, font: &Font, used: &BTreeMap<u16, char>) -> Result<usize, PortError> {
        let (type0, cid, descriptor, file, cmap) = (
            self.reserve(),
            self.reserve(),
            self.reserve(),
            self.reserve(),
            self.reserve(),
        );
        let name = format!("{}+{}", subset_tag(used), font.postscript_name);
        let glyphs: BTreeSet<u16> = used.keys().copied().collect();
        let program = font.subset(&glyphs).map_err(|e| {
            PortError::new(
                PortErrorKind::Unexpected,
                format!("pdf: font subsetting failed: {}", e.0),
            )
        })?;
        let mut widths = String::new();
        for g in &glyphs {
            let _ = write!(widths, "{g} [{}] ", font.advance_1000(*g));
        }
        let [x0, y0, x1, y1] = font.bbox;
        self.object(
            type0,
            format!(
                "<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H \
                 /DescendantFonts [{cid} 0 R] /ToUnicode {cmap} 0 R >>"
            )
            .as_bytes(),
        );
        self.object(
            cid,
            format!(
                "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} \
                 /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
                 /FontDescriptor {descriptor} 0 R /CIDToGIDMap /Identity /DW 1000 /W [{widths}] >>"
            )
            .as_bytes(),
        );
        self.object(
            descriptor,
            format!(
                "<< /Type /FontDescriptor /FontName /{name} /Flags 32 /FontBBox [{} {} {} {}] \
                 /ItalicAngle 0 /Ascent {} /Descent {} /CapHeight {} /StemV 80 /FontFile2 {file} 0 R >>",
                font.scale(x0),
                font.scale(y0),
                font.scale(x1),
                font.scale(y1),
                font.scale(font.ascender),
                font.scale(font.descender),
                font.scale(font.ascender),
            )
            .as_bytes(),
        );
        self.stream(file, &format!(" /Length1 {}", program.len()), &program);
        self.stream(cmap, "", to_unicode(used).as_bytes());
        Ok(type0)
    }
}

/// The PDF bytes for `doc`.
///
/// # Errors
/// [`PortErrorKind::Unexpected`] if the compiled-in font cannot be read (a build defect).
pub fn render(doc: &Document) -> Result<Vec<u8>, PortError> {
    let (regular, bold) = fonts()?;
    let pages = layout(doc, regular, bold);
    let mut used_regular = BTreeMap::new();
    let mut used_bold = BTreeMap::new();
    let contents: Vec<String> = pages
        .iter()
        .map(|runs| {
            let mut s = String::new();
            for r in runs {
                let (tag, font, used) = match r.face {
                    Face::Regular => ("F1", regular, &mut used_regular),
                    Face::Bold => ("F2", bold, &mut used_bold),
                };
                let _ = writeln!(
                    s,
                    "BT /{tag} {:.1} Tf 1 0 0 1 {:.2} {:.2} Tm {} Tj ET",
                    r.size,
                    r.x,
                    r.y,
                    glyph_hex(font, &r.text, used)
                );
            }
            s
        })
        .collect();
    let mut w = Writer::new();
    let catalog = w.reserve();
    let tree = w.reserve();
    let info = w.reserve();
    let f1 = w.font(regular, &used_regular)?;
    let f2 = w.font(bold, &used_bold)?;
    let mut kids = Vec::new();
    for content in &contents {
        let page = w.reserve();
        let stream = w.reserve();
        w.object(
            page,
            format!(
                "<< /Type /Page /Parent {tree} 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] \
                 /Resources << /Font << /F1 {f1} 0 R /F2 {f2} 0 R >> >> /Contents {stream} 0 R >>"
            )
            .as_bytes(),
        );
        w.stream(stream, "", content.as_bytes());
        kids.push(format!("{page} 0 R"));
    }
    w.object(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>").as_bytes());
    w.object(
        tree,
        format!("<< /Type /Pages /Kids [{}] /Count {} >>", kids.join(" "), kids.len()).as_bytes(),
    );
    w.object(
        info,
        format!("<< /Title {} /Producer (clinic-rs) >>", info_string(&clean(&doc.title))).as_bytes(),
    );
    Ok(w.finish(catalog, info))
}

#[async_trait]
impl DocumentRenderer for PdfRenderer {
    async fn render_pdf(&self, document: &Document) -> Result<Vec<u8>, PortError> {
        render(document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(lines: usize) -> Document {
        Document {
            title: "Records held about Zoë (Taylor) \\ 2026".into(),
            sections: vec![(
                "Appointments".into(),
                (0..lines).map(|i| format!("line {i}: café ✓")).collect(),
            )],
        }
    }

    /// Every xref offset points at its object header, and the trailer points at the xref.
    fn check_structure(pdf: &[u8]) -> usize {
        assert!(pdf.starts_with(b"%PDF-1.7\n") && pdf.ends_with(b"%%EOF\n"));
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

    fn text_of(pdf: &[u8]) -> String {
        pdf_extract::extract_text_from_mem(pdf).unwrap()
    }

    #[test]
    fn a_short_document_is_one_a4_page_with_embedded_fonts_and_extractable_text() {
        let pdf = render(&doc(3)).unwrap();
        // catalog, pages, info, 2 × 5 font objects, 1 page + content.
        assert_eq!(check_structure(&pdf), 15);
        let raw = String::from_utf8_lossy(&pdf);
        assert!(raw.contains("/Count 1"));
        assert!(raw.contains("/MediaBox [0 0 595.28 841.89]"), "A4");
        assert_eq!(raw.matches("/FontFile2").count(), 2, "both faces embedded");
        assert!(!raw.contains("/Helvetica"), "no reliance on the reader's fonts");
        assert!(
            pdf.len() < 120_000,
            "subset fonts keep the file small: {} bytes",
            pdf.len()
        );
        let text = text_of(&pdf);
        assert!(text.contains("Records held about Zoë (Taylor) \\ 2026"), "{text}");
        assert!(text.contains("line 2: café ✓"), "{text}");
        assert!(text.contains("Page 1 of 1"));
    }

    #[test]
    fn long_documents_paginate_and_long_lines_wrap_at_words() {
        let pdf = render(&doc(200)).unwrap();
        let objects = check_structure(&pdf);
        let pages = (objects - 13) / 2;
        assert!(pages >= 4, "{pages} pages");
        let text = text_of(&pdf);
        assert!(text.contains(&format!("Page {pages} of {pages}")));
        for i in [0, 99, 199] {
            assert!(text.contains(&format!("line {i}: café")), "line {i}");
        }
        let sentence = "the quick brown fox jumps over the lazy dog ".repeat(12);
        let long = Document {
            title: "t".into(),
            sections: vec![("s".into(), vec![sentence.clone(), "x".repeat(300)])],
        };
        let (regular, bold) = fonts().unwrap();
        let runs = &layout(&long, regular, bold)[0];
        let body: Vec<&Run> = runs.iter().filter(|r| r.size == BODY).collect();
        assert!(body.len() >= 5, "wrapped into several lines");
        for r in &body {
            assert!(regular.width(&r.text, BODY) <= TEXT_W + 0.01, "fits: {}", r.text);
        }
        assert!(body[0].text.ends_with("fox") || body[0].text.ends_with(' ') || !body[0].text.contains("fo "));
        let rejoined: String = body
            .iter()
            .filter(|r| r.text.starts_with('x'))
            .map(|r| r.text.as_str())
            .collect();
        assert_eq!(rejoined, "x".repeat(300), "an unbreakable word is split, nothing lost");
    }

    #[test]
    fn rows_put_amounts_against_the_right_margin() {
        let d = Document {
            title: "Tax invoice".into(),
            sections: vec![(
                "Totals".into(),
                vec!["Total\t$220.00".into(), "  GST included\t$20.00".into()],
            )],
        };
        let (regular, bold) = fonts().unwrap();
        let runs = &layout(&d, regular, bold)[0];
        let amount = runs.iter().find(|r| r.text == "$220.00").unwrap();
        let right_edge = amount.x + regular.width("$220.00", BODY);
        assert!((right_edge - (MARGIN + TEXT_W)).abs() < 0.01);
        let label = runs.iter().find(|r| r.text == "Total").unwrap();
        assert_eq!(label.y, amount.y, "on one row");
        let indented = runs.iter().find(|r| r.text == "GST included").unwrap();
        assert!(indented.x > label.x);
        let text = text_of(&render(&d).unwrap());
        assert!(text.contains("$220.00") && text.contains("GST included"));
    }
}
