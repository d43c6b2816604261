//! Just enough TrueType (the OpenType `glyf` flavour) to embed a font in a PDF: map
//! characters to glyphs, read advance widths, and write a subset holding only the glyphs a
//! document uses. Table layouts follow the OpenType specification (Microsoft, "OpenType
//! font file" and the `cmap`, `head`, `hhea`, `hmtx`, `maxp`, `loca` and `glyf` chapters).
//!
//! The subset keeps glyph ids unchanged (unused glyphs become empty), so the PDF can use
//! the identity map from character ids to glyph ids.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Why a font could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FontError(pub &'static str);

type Result<T> = std::result::Result<T, FontError>;

fn u16_at(data: &[u8], at: usize) -> Result<u16> {
    data.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or(FontError("truncated font"))
}

fn i16_at(data: &[u8], at: usize) -> Result<i16> {
    data.get(at..at + 2)
        .map(|b| i16::from_be_bytes([b[0], b[1]]))
        .ok_or(FontError("truncated font"))
}

fn u32_at(data: &[u8], at: usize) -> Result<u32> {
    data.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(FontError("truncated font"))
}

fn usize_at(data: &[u8], at: usize) -> Result<usize> {
    usize::try_from(u32_at(data, at)?).map_err(|_| FontError("offset out of range"))
}

/// A parsed font.
#[derive(Debug)]
pub struct Font {
    data: &'static [u8],
    tables: BTreeMap<[u8; 4], (usize, usize)>,
    /// Design units per em.
    pub units_per_em: u16,
    /// Ascender, in design units.
    pub ascender: i16,
    /// Descender (negative), in design units.
    pub descender: i16,
    /// The font's bounding box, in design units.
    pub bbox: [i16; 4],
    num_glyphs: u16,
    advances: Vec<u16>,
    cmap: HashMap<char, u16>,
    long_loca: bool,
    /// The PostScript name, for the PDF's BaseFont.
    pub postscript_name: String,
}

impl Font {
    /// Parses a TrueType font.
    ///
    /// # Errors
    /// [`FontError`] for a file that is not a TrueType font with the tables needed.
    pub fn parse(data: &'static [u8]) -> Result<Self> {
        let version = u32_at(data, 0)?;
        if version != 0x0001_0000 && version != u32::from_be_bytes(*b"true") {
            return Err(FontError("not a TrueType font"));
        }
        let count = usize::from(u16_at(data, 4)?);
        let mut tables = BTreeMap::new();
        for i in 0..count {
            let rec = 12 + 16 * i;
            let tag: [u8; 4] = data
                .get(rec..rec + 4)
                .and_then(|t| t.try_into().ok())
                .ok_or(FontError("truncated table directory"))?;
            let offset = usize_at(data, rec + 8)?;
            let length = usize_at(data, rec + 12)?;
            if offset.checked_add(length).is_none_or(|end| end > data.len()) {
                return Err(FontError("table outside the file"));
            }
            tables.insert(tag, (offset, length));
        }
        let table = |tag: &[u8; 4]| tables.get(tag).copied().ok_or(FontError("a required table is missing"));
        let (head, _) = table(b"head")?;
        let (hhea, _) = table(b"hhea")?;
        let (maxp, _) = table(b"maxp")?;
        let (hmtx, _) = table(b"hmtx")?;
        table(b"loca")?;
        table(b"glyf")?;
        let num_glyphs = u16_at(data, maxp + 4)?;
        let metrics = u16_at(data, hhea + 34)?;
        if metrics == 0 || metrics > num_glyphs {
            return Err(FontError("bad horizontal metrics count"));
        }
        let mut advances = Vec::with_capacity(usize::from(num_glyphs));
        for g in 0..usize::from(num_glyphs) {
            let i = g.min(usize::from(metrics) - 1);
            advances.push(u16_at(data, hmtx + 4 * i)?);
        }
        let mut font = Self {
            data,
            units_per_em: u16_at(data, head + 18)?,
            bbox: [
                i16_at(data, head + 36)?,
                i16_at(data, head + 38)?,
                i16_at(data, head + 40)?,
                i16_at(data, head + 42)?,
            ],
            long_loca: i16_at(data, head + 50)? == 1,
            ascender: i16_at(data, hhea + 4)?,
            descender: i16_at(data, hhea + 6)?,
            num_glyphs,
            advances,
            cmap: HashMap::new(),
            tables,
            postscript_name: String::new(),
        };
        if font.units_per_em == 0 {
            return Err(FontError("zero units per em"));
        }
        font.cmap = font.read_cmap()?;
        font.postscript_name = font.read_postscript_name().unwrap_or_else(|| "Embedded".to_owned());
        Ok(font)
    }

    fn table(&self, tag: &[u8; 4]) -> Option<&'static [u8]> {
        let (offset, length) = *self.tables.get(tag)?;
        self.data.get(offset..offset + length)
    }

    /// Reads the Unicode cmap: format 12 (full Unicode) when present, otherwise format 4
    /// (the Basic Multilingual Plane).
    fn read_cmap(&self) -> Result<HashMap<char, u16>> {
        let cmap = self.table(b"cmap").ok_or(FontError("no cmap table"))?;
        let count = usize::from(u16_at(cmap, 2)?);
        let mut best: Option<(u16, usize)> = None;
        for i in 0..count {
            let rec = 4 + 8 * i;
            let platform = u16_at(cmap, rec)?;
            let encoding = u16_at(cmap, rec + 2)?;
            let offset = usize_at(cmap, rec + 4)?;
            let unicode = platform == 0 || (platform == 3 && (encoding == 1 || encoding == 10));
            if !unicode {
                continue;
            }
            let format = u16_at(cmap, offset)?;
            if (format == 12 || format == 4) && best.is_none_or(|(f, _)| format > f) {
                best = Some((format, offset));
            }
        }
        let (format, at) = best.ok_or(FontError("no Unicode cmap"))?;
        let mut map = HashMap::new();
        if format == 12 {
            let groups = usize_at(cmap, at + 12)?;
            for g in 0..groups {
                let rec = at + 16 + 12 * g;
                let (start, end, glyph) = (u32_at(cmap, rec)?, u32_at(cmap, rec + 4)?, u32_at(cmap, rec + 8)?);
                for (k, code) in (start..=end.min(0x10_FFFF)).enumerate() {
                    let gid = glyph.saturating_add(u32::try_from(k).unwrap_or(u32::MAX));
                    if let (Some(c), Ok(gid)) = (char::from_u32(code), u16::try_from(gid)) {
                        map.insert(c, gid);
                    }
                }
            }
        } else {
            let segments = usize::from(u16_at(cmap, at + 6)? / 2);
            let ends = at + 14;
            let starts = ends + 2 * segments + 2;
            let deltas = starts + 2 * segments;
            let ranges = deltas + 2 * segments;
            for s in 0..segments {
                let end = u16_at(cmap, ends + 2 * s)?;
                let start = u16_at(cmap, starts + 2 * s)?;
                let delta = u16_at(cmap, deltas + 2 * s)?;
                let range = usize::from(u16_at(cmap, ranges + 2 * s)?);
                for code in start..=end {
                    if code == 0xFFFF {
                        break;
                    }
                    let gid = if range == 0 {
                        code.wrapping_add(delta)
                    } else {
                        let at = ranges + 2 * s + range + 2 * usize::from(code - start);
                        match u16_at(cmap, at)? {
                            0 => 0,
                            g => g.wrapping_add(delta),
                        }
                    };
                    if let Some(c) = char::from_u32(u32::from(code))
                        && gid != 0
                    {
                        map.insert(c, gid);
                    }
                }
            }
        }
        Ok(map)
    }

    /// The PostScript name (name id 6), in the Windows Unicode or Macintosh Roman record.
    fn read_postscript_name(&self) -> Option<String> {
        let name = self.table(b"name")?;
        let count = usize::from(u16_at(name, 2).ok()?);
        let strings = usize::from(u16_at(name, 4).ok()?);
        for i in 0..count {
            let rec = 6 + 12 * i;
            let platform = u16_at(name, rec).ok()?;
            let id = u16_at(name, rec + 6).ok()?;
            if id != 6 {
                continue;
            }
            let len = usize::from(u16_at(name, rec + 8).ok()?);
            let off = strings + usize::from(u16_at(name, rec + 10).ok()?);
            let raw = name.get(off..off + len)?;
            let text: String = if platform == 3 || platform == 0 {
                let units: Vec<u16> = raw.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
                String::from_utf16(&units).ok()?
            } else {
                raw.iter().map(|b| char::from(*b)).collect()
            };
            let clean: String = text.chars().filter(char::is_ascii_alphanumeric).collect();
            if !clean.is_empty() {
                return Some(clean);
            }
        }
        None
    }

    /// The glyph for `c`, or 0 (the missing-glyph box) when the font has none.
    #[must_use]
    pub fn glyph(&self, c: char) -> u16 {
        self.cmap.get(&c).copied().unwrap_or(0)
    }

    /// The advance width of a glyph, in thousandths of the font size (PDF text space).
    #[must_use]
    pub fn advance_1000(&self, gid: u16) -> u32 {
        let units = u32::from(self.advances.get(usize::from(gid)).copied().unwrap_or(0));
        units * 1000 / u32::from(self.units_per_em)
    }

    /// The width of `text` at `size` points.
    #[must_use]
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let thousandths: u32 = text.chars().map(|c| self.advance_1000(self.glyph(c))).sum();
        #[allow(clippy::cast_precision_loss)] // widths of a line of text are far below 2^24
        let t = thousandths as f32;
        t * size / 1000.0
    }

    /// Scales a design-unit value to thousandths of the font size.
    #[must_use]
    pub fn scale(&self, units: i16) -> i32 {
        i32::from(units) * 1000 / i32::from(self.units_per_em)
    }

    fn glyph_range(&self, gid: u16) -> Result<(usize, usize)> {
        let loca = self.table(b"loca").ok_or(FontError("no loca table"))?;
        let g = usize::from(gid);
        let (a, b) = if self.long_loca {
            (usize_at(loca, 4 * g)?, usize_at(loca, 4 * g + 4)?)
        } else {
            (
                usize::from(u16_at(loca, 2 * g)?) * 2,
                usize::from(u16_at(loca, 2 * g + 2)?) * 2,
            )
        };
        if b < a {
            return Err(FontError("bad loca entry"));
        }
        Ok((a, b))
    }

    /// The glyphs a composite glyph is built from.
    fn components(&self, gid: u16) -> Result<Vec<u16>> {
        let glyf = self.table(b"glyf").ok_or(FontError("no glyf table"))?;
        let (a, b) = self.glyph_range(gid)?;
        if a == b {
            return Ok(Vec::new());
        }
        let g = glyf.get(a..b).ok_or(FontError("glyph outside glyf"))?;
        if i16_at(g, 0)? >= 0 {
            return Ok(Vec::new());
        }
        // A composite: records of flags, glyph index, arguments and an optional transform.
        const ARGS_ARE_WORDS: u16 = 0x0001;
        const HAVE_SCALE: u16 = 0x0008;
        const MORE: u16 = 0x0020;
        const HAVE_XY_SCALE: u16 = 0x0040;
        const HAVE_2X2: u16 = 0x0080;
        let mut out = Vec::new();
        let mut at = 10;
        loop {
            let flags = u16_at(g, at)?;
            out.push(u16_at(g, at + 2)?);
            at += 4 + if flags & ARGS_ARE_WORDS != 0 { 4 } else { 2 };
            at += if flags & HAVE_SCALE != 0 {
                2
            } else if flags & HAVE_XY_SCALE != 0 {
                4
            } else if flags & HAVE_2X2 != 0 {
                8
            } else {
                0
            };
            if flags & MORE == 0 {
                return Ok(out);
            }
        }
    }

    /// A TrueType file with only `used` glyphs (plus the missing-glyph box and every
    /// component of a composite) keeping their ids; every other glyph is empty.
    ///
    /// # Errors
    /// [`FontError`] for a malformed glyph table.
    pub fn subset(&self, used: &BTreeSet<u16>) -> Result<Vec<u8>> {
        let mut keep: BTreeSet<u16> = used.iter().copied().filter(|g| *g < self.num_glyphs).collect();
        keep.insert(0);
        let mut todo: Vec<u16> = keep.iter().copied().collect();
        while let Some(g) = todo.pop() {
            for c in self.components(g)? {
                if c < self.num_glyphs && keep.insert(c) {
                    todo.push(c);
                }
            }
        }
        // Glyph ids above the highest kept one are dropped altogether; the rest keep their
        // ids, with unused glyphs left empty.
        let count = keep.last().copied().unwrap_or(0) + 1;
        let glyf = self.table(b"glyf").ok_or(FontError("no glyf table"))?;
        let hmtx = self.table(b"hmtx").ok_or(FontError("no hmtx table"))?;
        let hhea_in = self.table(b"hhea").ok_or(FontError("no hhea table"))?;
        let metrics = usize::from(u16_at(hhea_in, 34)?);
        let mut new_glyf = Vec::new();
        let mut new_loca = Vec::with_capacity(4 * (usize::from(count) + 1));
        let mut new_hmtx = Vec::with_capacity(4 * usize::from(count));
        for g in 0..count {
            let offset = u32::try_from(new_glyf.len()).map_err(|_| FontError("subset too large"))?;
            new_loca.extend_from_slice(&offset.to_be_bytes());
            let i = usize::from(g);
            let lsb = if i < metrics {
                i16_at(hmtx, 4 * i + 2)?
            } else {
                i16_at(hmtx, 4 * metrics + 2 * (i - metrics))?
            };
            new_hmtx.extend_from_slice(&self.advances[i].to_be_bytes());
            new_hmtx.extend_from_slice(&lsb.to_be_bytes());
            if keep.contains(&g) {
                let (a, b) = self.glyph_range(g)?;
                new_glyf.extend_from_slice(glyf.get(a..b).ok_or(FontError("glyph outside glyf"))?);
                while new_glyf.len() % 4 != 0 {
                    new_glyf.push(0);
                }
            }
        }
        let end = u32::try_from(new_glyf.len()).map_err(|_| FontError("subset too large"))?;
        new_loca.extend_from_slice(&end.to_be_bytes());
        let patch = |table: &[u8], at: usize, value: &[u8]| -> Result<Vec<u8>> {
            let mut t = table.to_vec();
            t.get_mut(at..at + value.len())
                .ok_or(FontError("short table"))?
                .copy_from_slice(value);
            Ok(t)
        };
        // Long loca offsets; the checksum adjustment is left zero (PDF readers do not
        // check it).
        let head = patch(
            self.table(b"head").ok_or(FontError("no head table"))?,
            50,
            &1i16.to_be_bytes(),
        )?;
        let head = patch(&head, 8, &[0; 4])?;
        let hhea = patch(hhea_in, 34, &count.to_be_bytes())?;
        let maxp = patch(
            self.table(b"maxp").ok_or(FontError("no maxp table"))?,
            4,
            &count.to_be_bytes(),
        )?;
        // Hinting programs (cvt, fpgm, prep) are left out: PDF readers scale outlines
        // without them, and they are most of a small subset's size.
        let out_tables: Vec<([u8; 4], Vec<u8>)> = vec![
            (*b"glyf", new_glyf),
            (*b"head", head),
            (*b"hhea", hhea),
            (*b"hmtx", new_hmtx),
            (*b"loca", new_loca),
            (*b"maxp", maxp),
        ];
        Ok(write_font(&out_tables))
    }
}

fn checksum(data: &[u8]) -> u32 {
    data.chunks(4).fold(0u32, |sum, c| {
        let mut word = [0u8; 4];
        word[..c.len()].copy_from_slice(c);
        sum.wrapping_add(u32::from_be_bytes(word))
    })
}

/// Writes a font file from tables already in tag order.
fn write_font(tables: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let n = u16::try_from(tables.len()).unwrap_or(u16::MAX);
    let mut pow = 1u16;
    let mut log = 0u16;
    while pow * 2 <= n {
        pow *= 2;
        log += 1;
    }
    let mut out = Vec::new();
    out.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&(pow * 16).to_be_bytes());
    out.extend_from_slice(&log.to_be_bytes());
    out.extend_from_slice(&(n * 16 - pow * 16).to_be_bytes());
    let mut offset = 12 + 16 * tables.len();
    let mut bodies = Vec::new();
    for (tag, body) in tables {
        out.extend_from_slice(tag);
        out.extend_from_slice(&checksum(body).to_be_bytes());
        out.extend_from_slice(&u32::try_from(offset).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
        let mut padded = body.clone();
        while padded.len() % 4 != 0 {
            padded.push(0);
        }
        offset += padded.len();
        bodies.push(padded);
    }
    for b in bodies {
        out.extend_from_slice(&b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sans() -> Font {
        Font::parse(dejavu::sans::regular()).unwrap()
    }

    #[test]
    fn reads_metrics_and_maps_characters() {
        let f = sans();
        assert_eq!(f.units_per_em, 2048);
        assert_eq!(f.postscript_name, "DejaVuSans");
        assert_ne!(f.glyph('A'), 0);
        assert_ne!(f.glyph('é'), 0);
        assert_ne!(f.glyph('✓'), 0, "beyond Latin: DejaVu has dingbats");
        assert_eq!(f.glyph('\u{10FFFD}'), 0, "a private-use character has no glyph");
        // Proportional: W is wider than i; digits share one width (tabular figures).
        assert!(f.advance_1000(f.glyph('W')) > f.advance_1000(f.glyph('i')));
        assert_eq!(f.advance_1000(f.glyph('1')), f.advance_1000(f.glyph('8')));
        assert!((f.width("1234", 10.0) - 4.0 * f.width("1", 10.0)).abs() < 1e-3);
    }

    #[test]
    fn a_subset_keeps_what_is_used_and_parses_again() {
        let f = sans();
        let used: BTreeSet<u16> = "Tax invoice $220.00".chars().map(|c| f.glyph(c)).collect();
        let bytes = f.subset(&used).unwrap();
        assert!(
            bytes.len() < dejavu::sans::regular().len() / 10,
            "{} bytes",
            bytes.len()
        );
        let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        // The subset has no cmap (the PDF maps characters itself), so check its glyphs by
        // id through the original font's map.
        assert!(Font::parse(leaked).is_err(), "no cmap in the subset");
        let sub = SubsetView::new(leaked);
        for c in "Tax invoice $220.00".chars() {
            assert!(sub.glyph_len(f.glyph(c)) > 0 || c == ' ', "{c}");
        }
        assert_eq!(sub.glyph_len(f.glyph('Z')), 0, "unused glyphs are emptied");
        assert!(sub.glyph_len(0) > 0, "the missing-glyph box is kept");
    }

    /// Reads glyph lengths straight from a subset's loca.
    struct SubsetView(&'static [u8], BTreeMap<[u8; 4], (usize, usize)>);

    impl SubsetView {
        fn new(data: &'static [u8]) -> Self {
            let n = usize::from(u16_at(data, 4).unwrap());
            let mut t = BTreeMap::new();
            for i in 0..n {
                let rec = 12 + 16 * i;
                let tag: [u8; 4] = data[rec..rec + 4].try_into().unwrap();
                t.insert(
                    tag,
                    (usize_at(data, rec + 8).unwrap(), usize_at(data, rec + 12).unwrap()),
                );
            }
            Self(data, t)
        }

        fn glyph_len(&self, gid: u16) -> usize {
            let (loca, _) = self.1[b"loca"];
            let g = usize::from(gid);
            usize_at(self.0, loca + 4 * g + 4).unwrap() - usize_at(self.0, loca + 4 * g).unwrap()
        }
    }

    #[test]
    fn garbage_is_refused() {
        assert!(Font::parse(b"not a font at all, just text").is_err());
        assert!(Font::parse(&[0, 1, 0, 0, 0, 9]).is_err());
    }
}
