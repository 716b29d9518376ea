//! Small text helpers every command's output uses. Pure, tested here.

use std::time::Duration;

use anyhow::bail;
use chrono::{DateTime, Utc};

/// `2026-03-01T10:00:00.123Z`: UTC, milliseconds.
pub fn timestamp(time: &DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A duration for people: `850ms`, `3.2s`, `4m05s`, `2h03m`, `3d04h`.
pub fn duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1_000 {
        return format!("{millis}ms");
    }
    let seconds = duration.as_secs();
    if seconds < 60 {
        return format!("{:.1}s", duration.as_secs_f64());
    }
    if seconds < 3_600 {
        return format!("{}m{:02}s", seconds / 60, seconds % 60);
    }
    if seconds < 86_400 {
        return format!("{}h{:02}m", seconds / 3_600, (seconds % 3_600) / 60);
    }
    format!("{}d{:02}h", seconds / 86_400, (seconds % 86_400) / 3_600)
}

/// The time from `from` to `to` as [`duration`]; negative spans (clocks of
/// two machines) are shown with a minus sign.
pub fn span(from: &DateTime<Utc>, to: &DateTime<Utc>) -> String {
    let delta = *to - *from;
    match delta.to_std() {
        Ok(forward) => duration(forward),
        Err(_) => format!("-{}", duration((-delta).to_std().unwrap_or_default())),
    }
}

/// `+1.234s` from the start of a story: seconds with milliseconds, so
/// offsets line up.
pub fn offset(from: &DateTime<Utc>, to: &DateTime<Utc>) -> String {
    let millis = (*to - *from).num_milliseconds();
    let sign = if millis < 0 { "-" } else { "+" };
    let millis = millis.unsigned_abs();
    format!("{sign}{}.{:03}s", millis / 1_000, millis % 1_000)
}

/// `text` cut to at most `max` characters, with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// One line of text: newlines and tabs become spaces.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A window's length in its own unit: `5m`, `1h`, `90s`, `500ms`.
pub fn window(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if duration.subsec_millis() > 0 || seconds == 0 {
        return format!("{}ms", duration.as_millis());
    }
    if seconds % 3_600 == 0 {
        format!("{}h", seconds / 3_600)
    } else if seconds % 60 == 0 {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// `1 attempt`, `2 attempts`.
pub fn plural(count: impl Into<i64>, noun: &str) -> String {
    let count = count.into();
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Parses `90`, `90s`, `5m`, `2h`, `500ms` (a number alone is seconds).
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(number) = number.parse::<u64>() else {
        bail!("`{text}` is not a duration (e.g. 30s, 5m, 2h, 500ms)");
    };
    let duration = match unit {
        "" | "s" => Duration::from_secs(number),
        "ms" => Duration::from_millis(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        "h" => Duration::from_secs(number.saturating_mul(3_600)),
        _ => bail!("`{text}` has an unknown unit `{unit}` (use ms, s, m or h)"),
    };
    Ok(duration)
}

/// Lines padded into columns: each column as wide as its widest cell, two
/// spaces apart, the last column unpadded. `right` marks right-aligned columns.
pub fn table(rows: &[Vec<String>], right: &[usize]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (column, cell) in row.iter().enumerate() {
            widths[column] = widths[column].max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let last = row.len().saturating_sub(1);
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(column, cell)| {
                    let width = widths[column];
                    if right.contains(&column) {
                        format!("{cell:>width$}")
                    } else if column == last {
                        cell.clone()
                    } else {
                        format!("{cell:<width$}")
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(duration(Duration::from_millis(0)), "0ms");
        assert_eq!(duration(Duration::from_millis(850)), "850ms");
        assert_eq!(duration(Duration::from_millis(3_240)), "3.2s");
        assert_eq!(duration(Duration::from_secs(245)), "4m05s");
        assert_eq!(duration(Duration::from_secs(7_380)), "2h03m");
        assert_eq!(duration(Duration::from_secs(273_600)), "3d04h");
    }

    #[test]
    fn spans_and_offsets_between_two_times() {
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        let later = start + chrono::Duration::milliseconds(1_234);
        assert_eq!(span(&start, &later), "1.2s");
        assert_eq!(span(&later, &start), "-1.2s");
        assert_eq!(offset(&start, &later), "+1.234s");
        assert_eq!(offset(&later, &start), "-1.234s");
        assert_eq!(timestamp(&later), "2026-03-01T10:00:01.234Z");
    }

    #[test]
    fn text_is_cut_and_flattened() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(one_line("a\n  b\tc"), "a b c");
    }

    #[test]
    fn windows_keep_their_unit() {
        assert_eq!(window(Duration::from_secs(300)), "5m");
        assert_eq!(window(Duration::from_secs(7_200)), "2h");
        assert_eq!(window(Duration::from_secs(90)), "90s");
        assert_eq!(window(Duration::from_millis(1_500)), "1500ms");
    }

    #[test]
    fn durations_parse_with_or_without_a_unit() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7_200));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn tables_align_their_columns() {
        let rows = vec![
            vec!["NAME".to_owned(), "COUNT".to_owned(), "NOTE".to_owned()],
            vec!["a".to_owned(), "10".to_owned(), "x".to_owned()],
            vec!["long-name".to_owned(), "2".to_owned(), String::new()],
        ];
        assert_eq!(
            table(&rows, &[1]),
            vec![
                "NAME       COUNT  NOTE",
                "a             10  x",
                "long-name      2",
            ]
        );
    }
}
