//! Which services read the two streams is decided by what each service
//! starts, not declared as data (the broker permissions let every service
//! read the revocations stream): check the documents' readers against the
//! services' sources.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ecommerce_asyncapi::facts::{follows_revocations, reads_reporting_stream};
use ecommerce_platform::services;

/// Every `.rs` file of `services/<service>/src`, concatenated.
fn sources(service: &str) -> io::Result<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../services")
        .join(service)
        .join("src");
    let mut files = Vec::new();
    collect(&dir, &mut files)?;
    if files.is_empty() {
        return Err(io::Error::other(format!(
            "no sources under {}",
            dir.display()
        )));
    }
    let mut code = String::new();
    for file in files {
        code.push_str(&fs::read_to_string(file)?);
        code.push('\n');
    }
    Ok(code)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    Ok(())
}

#[test]
fn the_revocation_readers_are_the_services_that_start_the_runtime_auth_layer() {
    for service in services::ALL {
        let code = sources(service.name).unwrap();
        let follows = code.contains(".auth_layer()") || code.contains(".follow_revocations(");
        assert_eq!(
            follows,
            follows_revocations(service.name),
            "{}: its sources and ecommerce_asyncapi::facts::follows_revocations disagree",
            service.name
        );
    }
}

#[test]
fn only_reporting_reads_the_reporting_stream() {
    for service in services::ALL {
        let reads = sources(service.name)
            .unwrap()
            .contains(".reporting_stream()");
        assert_eq!(
            reads,
            reads_reporting_stream(service.name),
            "{}: its sources and ecommerce_asyncapi::facts::reads_reporting_stream disagree",
            service.name
        );
    }
}
