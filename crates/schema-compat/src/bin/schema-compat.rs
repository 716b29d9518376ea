//! `schema-compat check --baseline proto/released.binpb --current <image>`:
//! checks every event message of the released contracts (and any message
//! named with `--message`) against the current ones. Used by
//! `scripts/proto-check`.
//!
//! Both files are encoded `FileDescriptorSet`s; a buf image
//! (`buf build --exclude-source-info -o x.binpb`) is one on the wire.
//! Exit status: 0 compatible, 1 incompatible, 2 usage or input error.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use ecommerce_schema_compat::{CompatibilityLevel, check_event_messages, decode_descriptor_set};

const USAGE: &str = "\
usage: schema-compat check --baseline FILE --current FILE [--level LEVEL] [--message NAME]...

Checks every message of the baseline that carries the option
ecommerce.events.v1.event_type, plus each --message (fully qualified), against
the current descriptor set. FILEs are encoded FileDescriptorSets or buf images.
LEVEL: backward, forward, full, *-transitive, none, wire-strict (default).
Prints one line per incompatibility, then a summary; exits 1 when any.";

struct CheckArgs {
    baseline: PathBuf,
    current: PathBuf,
    level: CompatibilityLevel,
    messages: Vec<String>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("schema-compat: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// `Ok(compatible)`.
fn run(args: &[String]) -> anyhow::Result<bool> {
    match args.first().map(String::as_str) {
        Some("check") => check(parse_check_args(&args[1..])?),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(true)
        }
        Some(other) => bail!("unknown command `{other}`\n{USAGE}"),
        None => bail!("missing command\n{USAGE}"),
    }
}

fn parse_check_args(args: &[String]) -> anyhow::Result<CheckArgs> {
    let mut baseline = None;
    let mut current = None;
    let mut level = CompatibilityLevel::WireStrict;
    let mut messages = Vec::new();
    let mut remaining = args.iter();
    while let Some(arg) = remaining.next() {
        let (flag, inline_value) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = || -> anyhow::Result<String> {
            match inline_value.clone() {
                Some(value) => Ok(value),
                None => remaining
                    .next()
                    .cloned()
                    .with_context(|| format!("{flag} needs a value")),
            }
        };
        match flag {
            "--baseline" => baseline = Some(PathBuf::from(value()?)),
            "--current" => current = Some(PathBuf::from(value()?)),
            "--level" => level = value()?.parse()?,
            "--message" => messages.push(value()?),
            _ => bail!("unknown option `{arg}`\n{USAGE}"),
        }
    }
    Ok(CheckArgs {
        baseline: baseline.context("--baseline is required")?,
        current: current.context("--current is required")?,
        level,
        messages,
    })
}

fn check(args: CheckArgs) -> anyhow::Result<bool> {
    let baseline = read_pool(&args.baseline)?;
    let current = read_pool(&args.current)?;
    let also_check: Vec<&str> = args.messages.iter().map(String::as_str).collect();
    let report = check_event_messages(&baseline, &current, &also_check, args.level)?;
    for finding in &report.findings {
        println!("{finding}");
    }
    let affected = {
        let mut names: Vec<&str> = report
            .findings
            .iter()
            .map(|finding| finding.message.as_str())
            .collect();
        names.dedup();
        names.len()
    };
    if report.is_compatible() {
        println!(
            "schema-compat: {} message(s) checked at {}: no incompatible change",
            report.checked.len(),
            report.level
        );
    } else {
        println!(
            "schema-compat: {} incompatible change(s) in {} of {} message(s) checked at {}",
            report.findings.len(),
            affected,
            report.checked.len(),
            report.level
        );
    }
    Ok(report.is_compatible())
}

fn read_pool(path: &PathBuf) -> anyhow::Result<prost_reflect::DescriptorPool> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    decode_descriptor_set(&bytes).with_context(|| format!("decoding {}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_check_options() {
        let parsed = parse_check_args(&args(
            "--baseline a.binpb --current=b.binpb --level full-transitive --message x.Y --message=x.Z",
        ))
        .unwrap();
        assert_eq!(parsed.baseline, PathBuf::from("a.binpb"));
        assert_eq!(parsed.current, PathBuf::from("b.binpb"));
        assert_eq!(parsed.level, CompatibilityLevel::FullTransitive);
        assert_eq!(parsed.messages, ["x.Y", "x.Z"]);

        let defaults = parse_check_args(&args("--baseline a --current b")).unwrap();
        assert_eq!(defaults.level, CompatibilityLevel::WireStrict);
        assert!(defaults.messages.is_empty());
    }

    #[test]
    fn rejects_bad_check_options() {
        for (arguments, expected) in [
            ("--current b", "--baseline is required"),
            ("--baseline a", "--current is required"),
            (
                "--baseline a --current b --level sideways",
                "unknown compatibility level",
            ),
            (
                "--baseline a --current b --frobnicate",
                "unknown option `--frobnicate`",
            ),
            ("--baseline", "--baseline needs a value"),
        ] {
            let error = parse_check_args(&args(arguments)).err().unwrap();
            assert!(error.to_string().contains(expected), "{arguments}: {error}");
        }
        assert!(run(&args("compare")).is_err());
        assert!(run(&[]).is_err());
    }
}
