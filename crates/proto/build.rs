//! Compiles every `.proto` under the repository's `proto/` directory with the
//! vendored `protoc`, writes the encoded `FileDescriptorSet`, and emits a module
//! tree that mirrors the protobuf packages (`ecommerce.orders.v1` becomes
//! `ecommerce::orders::v1`), so a new package needs no change here.

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

use prost::Message as _;

const DESCRIPTOR_FILE: &str = "ecommerce_descriptor.bin";

include!("redacted_messages.rs");

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto").canonicalize()?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let descriptor_path = out_dir.join(DESCRIPTOR_FILE);

    // A directory path makes cargo rescan the whole tree for changes.
    println!("cargo:rerun-if-changed={}", proto_root.display());
    println!("cargo:rerun-if-changed=redacted_messages.rs");

    let mut proto_files = Vec::new();
    collect_proto_files(&proto_root, &mut proto_files)?;
    proto_files.sort();

    let mut prost_config = prost_build::Config::new();
    prost_config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    // BTreeMap instead of HashMap keeps map fields in key order, so encoding a
    // message is deterministic (checkout snapshots are signed over their bytes).
    prost_config.btree_map(["."]);

    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptor_path)
        // No default stubs: a new RPC fails to compile until its service
        // implements it, instead of answering UNIMPLEMENTED unnoticed.
        .generate_default_stubs(false)
        // They carry a password, a token or a payment method token:
        // src/redacted.rs prints them without it, so no `{:?}` can leak a
        // secret into a log.
        .skip_debug(REDACTED_MESSAGES.iter().copied())
        .compile_with_config(
            prost_config,
            &proto_files,
            &[proto_root.clone(), protoc_bin_vendored::include_path()?],
        )?;

    write_module_tree(&descriptor_path, &out_dir.join("modules.rs"))?;
    println!(
        "cargo::metadata=descriptor_set={}",
        descriptor_path.display()
    );
    Ok(())
}

fn collect_proto_files(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), Box<dyn Error>> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_proto_files(&path, found)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            found.push(path);
        }
    }
    Ok(())
}

/// A node of the package tree: child modules and whether a generated file
/// (named after the full package) belongs at this node.
#[derive(Default)]
struct ModuleNode {
    children: BTreeMap<String, ModuleNode>,
    package: Option<String>,
}

fn write_module_tree(descriptor_path: &Path, target: &Path) -> Result<(), Box<dyn Error>> {
    let descriptor_set = prost_types::FileDescriptorSet::decode(&*fs::read(descriptor_path)?)?;
    let mut root = ModuleNode::default();
    for file in &descriptor_set.file {
        let package = file.package();
        // Well-known types come from prost-types, not from our own output.
        if package.is_empty() || package.starts_with("google.") {
            continue;
        }
        let mut node = &mut root;
        for segment in package.split('.') {
            node = node.children.entry(segment.to_owned()).or_default();
        }
        node.package = Some(package.to_owned());
    }
    let mut code = String::new();
    render_modules(&root, &mut code)?;
    fs::write(target, code)?;
    Ok(())
}

fn render_modules(node: &ModuleNode, code: &mut String) -> Result<(), Box<dyn Error>> {
    if let Some(package) = &node.package {
        writeln!(
            code,
            "include!(concat!(env!(\"OUT_DIR\"), \"/{package}.rs\"));"
        )?;
    }
    for (name, child) in &node.children {
        writeln!(code, "pub mod {name} {{")?;
        render_modules(child, code)?;
        writeln!(code, "}}")?;
    }
    Ok(())
}
