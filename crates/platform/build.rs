//! Lists every gRPC service in the proto crate's descriptor set (passed through
//! its `links` metadata) and writes one `impl_with_message_limits!` invocation
//! per generated `*Server<T>`. Reading the descriptors instead of keeping a
//! hand-written list means a service added to (or removed from) `proto/` needs
//! no change here, and a server that exists is never left without limits.

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

use prost::Message as _;

fn main() -> Result<(), Box<dyn Error>> {
    let descriptor_path = env::var("DEP_ECOMMERCE_PROTO_DESCRIPTOR_SET")
        .map_err(|_| "ecommerce-proto did not export its descriptor set path")?;
    println!("cargo:rerun-if-changed={descriptor_path}");
    let descriptor_set = prost_types::FileDescriptorSet::decode(&*fs::read(&descriptor_path)?)?;

    let mut code = String::new();
    for file in &descriptor_set.file {
        let package = file.package();
        // Same rule as the proto crate's module tree: well-known types are not ours.
        if package.is_empty() || package.starts_with("google.") {
            continue;
        }
        let module = package.replace('.', "::");
        for service in &file.service {
            let name = service.name();
            writeln!(
                code,
                "impl_with_message_limits!(ecommerce_proto::{module}::{}_server::{name}Server);",
                naive_snake_case(name),
            )?;
        }
    }

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out_dir.join("proto_message_limits.rs"), code)?;
    Ok(())
}

/// The module naming of tonic-build (`OrderService` -> `order_service`), copied
/// so the generated paths match its output exactly.
fn naive_snake_case(name: &str) -> String {
    let mut snake = String::new();
    let mut chars = name.chars().peekable();
    while let Some(current) = chars.next() {
        snake.push(current.to_ascii_lowercase());
        if chars.peek().is_some_and(|next| next.is_uppercase()) {
            snake.push('_');
        }
    }
    snake
}
