//! SVG bar charts for the reports, drawn as text without a browser or a font: managers
//! would rather look at a month than read it. Geometry is worked out in decimals (the
//! figures are money and percentages), so no figure passes through a float.

use std::fmt::Write as _;

use rust_decimal::Decimal;

/// One series of a chart: its name, colour and one value per category.
pub struct Series<'a> {
    /// Shown in the legend.
    pub name: &'a str,
    /// A CSS colour.
    pub colour: &'a str,
    /// One value per category (negative values are drawn as zero).
    pub values: Vec<Decimal>,
}

const WIDTH: i64 = 760;
const HEIGHT: i64 = 360;
const LEFT: i64 = 70;
const RIGHT: i64 = 20;
const TOP: i64 = 50;
const BOTTOM: i64 = 70;

/// XML-escapes text for an element or attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A stacked bar chart: one bar per category, the series stacked in order, with a
/// y axis from zero to the tallest bar, a legend and a `<title>` for screen readers.
#[must_use]
pub fn stacked_bars(title: &str, unit: &str, categories: &[String], series: &[Series<'_>]) -> String {
    let totals: Vec<Decimal> = (0..categories.len())
        .map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or_default().max(Decimal::ZERO))
                .sum()
        })
        .collect();
    let top = totals.iter().copied().max().unwrap_or_default();
    // A round top for the axis: the tallest bar, or 1 for an empty chart.
    let top = if top > Decimal::ZERO { top } else { Decimal::ONE };
    let plot_h = Decimal::from(HEIGHT - TOP - BOTTOM);
    let plot_w = WIDTH - LEFT - RIGHT;
    let n = i64::try_from(categories.len().max(1)).unwrap_or(1);
    let slot = Decimal::from(plot_w) / Decimal::from(n);
    let bar = slot * Decimal::new(6, 1);
    let scale = |v: Decimal| (v.max(Decimal::ZERO) / top * plot_h).round_dp(1);
    let base = Decimal::from(HEIGHT - BOTTOM);

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(svg, "<title>{}</title>", escape(title));
    let _ = write!(
        svg,
        r#"<text x="{LEFT}" y="24" font-size="16" font-weight="bold">{}</text>"#,
        escape(title)
    );
    // The axis and five gridlines, labelled.
    for step in 0..=4 {
        let value = top * Decimal::from(step) / Decimal::from(4);
        let y = base - scale(value);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{y}" x2="{}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6,
            y + Decimal::from(4),
            escape(&format!("{}{unit}", value.round_dp(0)))
        );
    }
    for (i, category) in categories.iter().enumerate() {
        let x0 =
            Decimal::from(LEFT) + slot * Decimal::from(i64::try_from(i).unwrap_or(0)) + (slot - bar) / Decimal::TWO;
        let mut y = base;
        for s in series {
            let h = scale(s.values.get(i).copied().unwrap_or_default());
            if h > Decimal::ZERO {
                y -= h;
                let _ = write!(
                    svg,
                    r#"<rect x="{}" y="{y}" width="{}" height="{h}" fill="{}"><title>{}: {}{unit}</title></rect>"#,
                    x0.round_dp(1),
                    bar.round_dp(1),
                    escape(s.colour),
                    escape(s.name),
                    s.values.get(i).copied().unwrap_or_default()
                );
            }
        }
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            (x0 + bar / Decimal::TWO).round_dp(1),
            HEIGHT - BOTTOM + 16,
            escape(category)
        );
    }
    for (i, s) in series.iter().enumerate() {
        let x = LEFT + i64::try_from(i).unwrap_or(0) * 170;
        let y = HEIGHT - 24;
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{y}">{}</text>"#,
            y - 10,
            escape(s.colour),
            x + 18,
            escape(s.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(svg: &str) -> (usize, Vec<String>) {
        let mut reader = quick_xml::Reader::from_str(svg);
        let mut rects = 0;
        let mut texts = Vec::new();
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e))
                    if e.name().as_ref() == b"rect" =>
                {
                    rects += 1;
                }
                Ok(quick_xml::events::Event::Text(t)) => texts.push(t.decode().unwrap_or_default().into_owned()),
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well-formed XML: {e}"),
            }
        }
        (rects, texts)
    }

    #[test]
    fn a_chart_is_well_formed_xml_with_a_bar_per_value_and_escaped_labels() {
        let svg = stacked_bars(
            "Revenue <by month> & GST",
            "",
            &["2026-11".into(), "2026-12".into()],
            &[
                Series {
                    name: "Medicare rebate",
                    colour: "#2b6cb0",
                    values: vec![Decimal::new(9865, 2), Decimal::ZERO],
                },
                Series {
                    name: "Gap",
                    colour: "#dd6b20",
                    values: vec![Decimal::new(12135, 2), Decimal::new(5000, 2)],
                },
            ],
        );
        let (rects, texts) = parse(&svg);
        // Three non-zero bars and two legend swatches.
        assert_eq!(rects, 5);
        assert!(
            svg.contains("<title>Revenue &lt;by month&gt; &amp; GST</title>"),
            "{svg}"
        );
        assert!(texts.iter().any(|t| t == "2026-12"));
    }

    #[test]
    fn an_empty_chart_still_draws_its_axis() {
        let svg = stacked_bars("Utilisation", "%", &[], &[]);
        let (rects, texts) = parse(&svg);
        assert_eq!(rects, 0);
        assert!(texts.iter().any(|t| t == "1%"));
    }
}
