//! Generates the event table from the descriptor set the proto crate's build
//! wrote (passed through its `links` metadata). A contract that breaks the
//! codec's rules (duplicate type string, version mismatch, ...) fails here.

use std::path::PathBuf;
use std::{env, fs};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let descriptor_path = env::var("DEP_ECOMMERCE_PROTO_DESCRIPTOR_SET")
        .map_err(|_| "ecommerce-proto did not export its descriptor set path")?;
    println!("cargo:rerun-if-changed={descriptor_path}");
    let descriptor_set = fs::read(&descriptor_path)?;
    let source = ecommerce_event_codegen::generate(&descriptor_set, "::ecommerce_proto")
        .map_err(|error| format!("the event contracts in proto/ are invalid: {error}"))?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out_dir.join("event_table.rs"), source)?;
    Ok(())
}
