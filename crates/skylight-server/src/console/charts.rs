//! Charts as server-rendered SVG, inlined in the page: activity over time (each bar a link that
//! narrows the log to its hour or day) and horizontal bars for top countries or alerts by
//! severity. Every text in them is escaped here, since templates insert them as markup.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

/// Escapes text for SVG/HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A count with thousands separators.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Activity over time: one bar per bucket (`(start ms, count)`, oldest first, empty buckets
/// absent), each a link made by `link` from the bucket's start and end.
pub(crate) fn timeline(
    buckets: &[(i64, u64)],
    bucket_ms: i64,
    link: impl Fn(DateTime<Utc>, DateTime<Utc>) -> String,
) -> String {
    const W: f64 = 960.0;
    const H: f64 = 140.0;
    const AXIS: f64 = 18.0;
    let (Some(first), Some(last)) = (buckets.first(), buckets.last()) else {
        return String::from(
            r#"<svg class="chart" viewBox="0 0 960 40" role="img" aria-label="no activity"><text x="8" y="24">No activity in this range.</text></svg>"#,
        );
    };
    let bucket_ms = bucket_ms.max(1);
    // At least 24 slots: a short range draws narrow bars on the left, not one wide block.
    let slots = ((last.0 - first.0) / bucket_ms + 1).max(24) as f64;
    let max = buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let bar_w = (W / slots).max(1.0);
    let total: u64 = buckets.iter().map(|b| b.1).sum();
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{} activities over time">"#,
        count(total)
    );
    for &(start, n) in buckets {
        let x = ((start - first.0) / bucket_ms) as f64 * bar_w;
        let h = (n as f64 / max * (H - AXIS - 14.0)).max(1.0);
        let y = H - AXIS - h;
        let from = DateTime::from_timestamp_millis(start).unwrap_or_default();
        let to = DateTime::from_timestamp_millis(start + bucket_ms).unwrap_or_default();
        let _ = write!(
            svg,
            r#"<a href="{}"><rect class="bar" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}"><title>{} UTC: {}</title></rect></a>"#,
            esc(&link(from, to)),
            (bar_w - 0.5).max(0.6),
            from.format("%Y-%m-%d %H:%M"),
            count(n)
        );
    }
    let label = |ms: i64| {
        DateTime::from_timestamp_millis(ms)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    let _ = write!(
        svg,
        r#"<text class="axis" x="0" y="{}">{}</text><text class="axis" x="{W}" y="{}" text-anchor="end">{}</text><text class="axis" x="0" y="10">max {} per {}</text></svg>"#,
        H - 4.0,
        label(first.0),
        H - 4.0,
        label(first.0 + (slots as i64) * bucket_ms),
        count(max as u64),
        bucket_name(bucket_ms)
    );
    svg
}

/// A bucket width in words.
pub(crate) fn bucket_name(ms: i64) -> String {
    match ms / 1000 {
        86_400 => "day".into(),
        3_600 => "hour".into(),
        s if s % 3_600 == 0 => format!("{} hours", s / 3_600),
        s => format!("{} minutes", s / 60),
    }
}

/// Horizontal bars: (label, count, link, css class), in the order given.
pub(crate) fn bars(items: &[(String, u64, String, &'static str)], label: &str) -> String {
    if items.is_empty() {
        return format!(
            r#"<svg class="chart" viewBox="0 0 480 30" role="img" aria-label="{0}"><text x="4" y="20">Nothing to show.</text></svg>"#,
            esc(label)
        );
    }
    const W: f64 = 480.0;
    const ROW: f64 = 22.0;
    const LABEL: f64 = 150.0;
    let max = items.iter().map(|i| i.1).max().unwrap_or(1).max(1) as f64;
    let h = ROW * items.len() as f64;
    let mut svg = format!(
        r#"<svg class="chart bars" viewBox="0 0 {W} {h}" role="img" aria-label="{}">"#,
        esc(label)
    );
    for (i, (name, n, href, class)) in items.iter().enumerate() {
        let y = i as f64 * ROW;
        let w = (*n as f64 / max * (W - LABEL - 60.0)).max(1.0);
        let _ = write!(
            svg,
            r#"<a href="{}"><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect class="bar {class}" x="{LABEL}" y="{:.1}" width="{w:.1}" height="{:.1}"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}">{}</text></a>"#,
            esc(href),
            LABEL - 6.0,
            y + 15.0,
            esc(name),
            y + 3.0,
            ROW - 6.0,
            esc(name),
            count(*n),
            LABEL + w + 6.0,
            y + 15.0,
            count(*n)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_and_text_is_escaped() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(
            esc(r#"<a href="x">'&'"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;"
        );
        let svg = bars(&[("<script>".into(), 3, "/a?q=x&y".into(), "")], "top");
        assert!(
            !svg.contains("<script>") && svg.contains("&lt;script&gt;"),
            "{svg}"
        );
        assert!(svg.contains("/a?q=x&amp;y"));
    }

    #[test]
    fn bars_stand_where_their_bucket_is() {
        let h = 3_600_000;
        let svg = timeline(&[(0, 5), (3 * h, 10)], h, |a, _| {
            format!("/t/{}", a.timestamp())
        });
        // 24 slots at least, 40 units each: the second bar starts three slots in.
        assert!(svg.contains(r#"x="120.0""#), "{svg}");
        assert!(svg.contains("/t/10800"));
        assert!(svg.contains("max 10 per hour"));
    }
}
