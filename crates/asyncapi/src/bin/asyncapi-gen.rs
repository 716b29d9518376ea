//! `asyncapi-gen --write | --check [--dir DIR]`: regenerates the committed
//! AsyncAPI documents (`docs/asyncapi/<service>.json`), or fails naming
//! those that differ from what would be generated.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Parser};
use ecommerce_asyncapi::{REGENERATE, check, default_dir, write};

/// Generates one AsyncAPI 3.0 document per service from the topology
/// declaration and the proto descriptors.
#[derive(Debug, Parser)]
#[command(name = "asyncapi-gen", version)]
#[command(group(ArgGroup::new("mode").required(true).args(["write", "check"])))]
struct Args {
    /// Write every document, removing the ones no service generates.
    #[arg(long)]
    write: bool,
    /// Exit non-zero, naming each file that differs from what `--write` writes.
    #[arg(long)]
    check: bool,
    /// The directory of the documents (default: docs/asyncapi of this repository).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let dir = args.dir.unwrap_or_else(default_dir);
    if args.write {
        let changed = write(&dir)?;
        for path in &changed {
            println!("updated {}", path.display());
        }
        if changed.is_empty() {
            println!("{} is up to date", dir.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let drift = check(&dir)?;
    if drift.is_empty() {
        println!("{} is up to date", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    for difference in &drift {
        eprintln!("{difference}");
    }
    eprintln!("regenerate them: {REGENERATE}");
    Ok(ExitCode::FAILURE)
}
