//! What the command line prints: tables and lines for a person (red and
//! green only on a terminal, never with `NO_COLOR`), or one JSON document
//! for a script.

use std::io::{IsTerminal, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use comfy_table::{presets, Attribute, Cell, Color, ContentArrangement, Table};
use serde_json::Value;

use crate::args::Format;
use crate::failure::Failure;
use crate::Finished;

/// Where and how to print.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub format: Format,
    /// Colours on standard output.
    pub color: bool,
    /// Colours on standard error.
    pub err_color: bool,
    /// Standard error is a terminal: progress can be drawn there.
    pub err_terminal: bool,
}

/// `NO_COLOR` set to anything but empty turns colours off
/// (<https://no-color.org>), as does a dumb terminal.
pub fn colors_allowed(no_color: Option<&str>, term: Option<&str>) -> bool {
    no_color.is_none_or(str::is_empty) && term != Some("dumb")
}

impl Out {
    pub fn detect(format: Format) -> Self {
        let allowed = colors_allowed(
            std::env::var("NO_COLOR").ok().as_deref(),
            std::env::var("TERM").ok().as_deref(),
        );
        let err_terminal = std::io::stderr().is_terminal();
        Out {
            format,
            color: allowed && std::io::stdout().is_terminal(),
            err_color: allowed && err_terminal,
            err_terminal,
        }
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// Prints one line for a person on standard output; nothing when the
    /// output is JSON.
    pub fn line(&self, text: impl AsRef<str>) {
        if !self.is_json() {
            println!("{}", text.as_ref());
        }
    }

    /// Prints a note on standard error, whatever the format (standard
    /// output holds only the JSON document).
    pub fn note(&self, text: impl AsRef<str>) {
        eprintln!("{}", text.as_ref());
    }

    /// The JSON document, on standard output.
    pub fn json(&self, value: &Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
    }

    /// How a command that did not end well is told: on standard error, and
    /// as the JSON document when the output is JSON (`extra` is merged in,
    /// for what the command had found before it stopped).
    pub fn failure(&self, failure: &Failure, extra: Option<Value>) {
        let label = if self.err_color {
            "\x1b[1;31merror:\x1b[0m"
        } else {
            "error:"
        };
        eprintln!("{label} {}", failure.message());
        if self.is_json() {
            let mut doc = match extra {
                Some(Value::Object(map)) => Value::Object(map),
                _ => Value::Object(Default::default()),
            };
            doc["error"] = serde_json::json!({
                "type": failure.kind(),
                "message": failure.message(),
                "exit_code": failure.exit_code(),
            });
            self.json(&doc);
        }
    }

    /// Ends a command that found what it could: the JSON document, or,
    /// when some region did not answer (`errors`), the failure, with the
    /// document holding the rest.
    pub fn finish(&self, doc: Value, errors: &[String], what: &str) -> Finished {
        if errors.is_empty() {
            if self.is_json() {
                self.json(&doc);
            }
            return Finished::Done;
        }
        let failure = Failure::failed("AwsError", format!("{what}: {}", errors.join("; ")));
        self.failure(&failure, self.is_json().then_some(doc));
        Finished::Refused
    }

    /// `text` in green on a terminal.
    pub fn good(&self, text: &str) -> String {
        self.paint(text, "32")
    }

    /// `text` in red on a terminal.
    pub fn bad(&self, text: &str) -> String {
        self.paint(text, "31")
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(text, "1")
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// A table with `header`, plain columns a person can read and `awk`
    /// can split.
    pub fn table(&self, header: &[&str]) -> Table {
        let mut table = Table::new();
        table.load_preset(presets::NOTHING);
        if self.color {
            table.enforce_styling();
            table.set_content_arrangement(ContentArrangement::Dynamic);
        } else {
            table.force_no_tty();
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
        table.set_header(
            header
                .iter()
                .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
        );
        for column in table.column_iter_mut() {
            column.set_padding((0, 2));
        }
        table
    }

    /// Prints a table, each line without the padding that ends it.
    pub fn print_table(&self, table: &Table) {
        for line in table.lines() {
            self.line(line.trim_end());
        }
    }

    /// A cell in green (`good`) or red, on a terminal.
    pub fn verdict_cell(&self, text: &str, good: bool) -> Cell {
        Cell::new(text).fg(if good { Color::Green } else { Color::Red })
    }
}

/// How old, as a person reads it: `2d 4h`, `3h 12m`, `12m`, `40s`.
pub fn age(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// A duration to the second, for recovery times: `12m 30s`, `1h 02m 05s`.
pub fn duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (h, m, s) = (seconds / 3_600, seconds % 3_600 / 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s:02}s"),
        _ => format!("{h}h {m:02}m {s:02}s"),
    }
}

/// A time to the second, in UTC: `2026-11-24 04:00:00Z`.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
        .replacen('T', " ", 1)
}

/// Seconds as an objective reads: `26h`, `90m`, `45s`.
pub fn objective(seconds: i64) -> String {
    match seconds {
        s if s > 0 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(age(40), "40s");
        assert_eq!(age(12 * 60 + 5), "12m");
        assert_eq!(age(3 * 3_600 + 12 * 60), "3h 12m");
        assert_eq!(age(2 * 86_400 + 4 * 3_600 + 59), "2d 4h");
        assert_eq!(age(-5), "0s", "a clock a little behind is not negative");
    }

    #[test]
    fn recovery_times_read_to_the_second() {
        assert_eq!(duration(7), "7s");
        assert_eq!(duration(12 * 60 + 30), "12m 30s");
        assert_eq!(duration(3_600 + 2 * 60 + 5), "1h 02m 05s");
    }

    #[test]
    fn objectives_and_times_read_as_written() {
        assert_eq!(objective(26 * 3_600), "26h");
        assert_eq!(objective(90 * 60), "90m");
        assert_eq!(objective(45), "45s");
        let t = Utc.with_ymd_and_hms(2026, 11, 24, 4, 0, 0).unwrap();
        assert_eq!(time(t), "2026-11-24 04:00:00Z");
    }

    #[test]
    fn no_color_is_honoured() {
        assert!(colors_allowed(None, Some("xterm-256color")));
        assert!(colors_allowed(Some(""), None), "an empty NO_COLOR is unset");
        assert!(!colors_allowed(Some("1"), Some("xterm")));
        assert!(!colors_allowed(None, Some("dumb")));
    }

    #[test]
    fn colours_only_when_allowed() {
        let plain = Out {
            format: Format::Text,
            color: false,
            err_color: false,
            err_terminal: false,
        };
        assert_eq!(plain.bad("BREACHED"), "BREACHED");
        let colored = Out {
            color: true,
            ..plain
        };
        assert_eq!(colored.good("ok"), "\x1b[32mok\x1b[0m");
        let mut table = plain.table(&["DB", "OUTCOME"]);
        table.add_row(vec![Cell::new("orders"), plain.verdict_cell("ok", true)]);
        let text = table.to_string();
        assert!(!text.contains('\x1b'), "{text:?}");
        assert!(
            text.contains("orders") && text.contains("OUTCOME"),
            "{text}"
        );
    }
}
