//! AsyncAPI 3.0.0 documents of the services' RabbitMQ events, generated from
//! what the services run on, so they cannot drift from it:
//!
//! - [`facts`]: what each service sends and receives, from the topology
//!   declaration (`ecommerce_broker::topology`), the broker permissions and
//!   the generated event table;
//! - [`protobuf`]: each event's AMQP body (the envelope with the event's
//!   message) as a self-contained `.proto` text, from the compiled descriptors;
//! - [`document`]: one service's document as JSON.
//!
//! The documents are committed under `docs/asyncapi/<service>.json`;
//! `asyncapi-gen --write` regenerates them, `asyncapi-gen --check` (and the
//! crate's `tests/committed.rs`) fails when a committed one differs, and
//! `scripts/asyncapi-check` validates them with the AsyncAPI CLI.
//!
//! ```no_run
//! let document = ecommerce_asyncapi::document("payments-svc")?;
//! print!("{}", ecommerce_asyncapi::render(document)?);
//! # Ok::<(), ecommerce_asyncapi::AsyncApiError>(())
//! ```

pub mod document;
pub mod facts;
pub mod protobuf;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use ecommerce_platform::services;
use ecommerce_platform::settings::ServiceInfo;
use serde_json::Value;

use crate::facts::{ServiceFacts, System};

/// Where the documents are committed, relative to the repository root.
pub const DOCS_DIR: &str = "docs/asyncapi";

/// The command that regenerates the committed documents.
pub const REGENERATE: &str = "cargo run -p ecommerce-asyncapi --bin asyncapi-gen -- --write";

/// Why a document could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum AsyncApiError {
    #[error("unknown service `{0}`")]
    UnknownService(String),
    #[error("{0} neither sends nor receives events: it has no document")]
    Silent(String),
    #[error("the compiled descriptors: {0}")]
    Descriptors(String),
    #[error("the topology declaration: {0}")]
    Topology(String),
    #[error("cannot render {0}")]
    Unsupported(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not serialize a document: {0}")]
    Json(#[from] serde_json::Error),
}

/// What `service` (e.g. `payments-svc`) sends and receives.
pub fn service_facts(service: &str) -> Result<ServiceFacts, AsyncApiError> {
    let info = services::ALL
        .iter()
        .find(|info| info.name == service)
        .ok_or_else(|| AsyncApiError::UnknownService(service.to_owned()))?;
    System::default().facts(info)
}

/// The AsyncAPI document of `service`; [`AsyncApiError::Silent`] for a
/// service that neither sends nor receives events.
pub fn document(service: &str) -> Result<Value, AsyncApiError> {
    let facts = service_facts(service)?;
    if facts.is_silent() {
        return Err(AsyncApiError::Silent(service.to_owned()));
    }
    document::build(&System::default(), &facts)
}

/// The services that have a document, in the service table's order.
pub fn documented_services() -> Result<Vec<ServiceInfo>, AsyncApiError> {
    let system = System::default();
    let mut documented = Vec::new();
    for service in services::ALL {
        if !system.facts(&service)?.is_silent() {
            documented.push(service);
        }
    }
    Ok(documented)
}

/// `document` as committed: pretty JSON with sorted keys and a final newline.
pub fn render(mut document: Value) -> Result<String, AsyncApiError> {
    // Sorted whatever serde_json's `preserve_order` feature says, so the
    // bytes depend on the content alone.
    document.sort_all_objects();
    let mut text = serde_json::to_string_pretty(&document)?;
    text.push('\n');
    Ok(text)
}

/// Every document: file name (`<service>.json`) to its text.
pub fn generate() -> Result<BTreeMap<String, String>, AsyncApiError> {
    let system = System::default();
    let mut files = BTreeMap::new();
    for service in services::ALL {
        let facts = system.facts(&service)?;
        if facts.is_silent() {
            continue;
        }
        let text = render(document::build(&system, &facts)?)?;
        files.insert(format!("{}.json", service.name), text);
    }
    Ok(files)
}

/// `docs/asyncapi` of the repository this crate was built in.
pub fn default_dir() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // crates/asyncapi -> the repository root.
    let root = crate_dir.ancestors().nth(2).unwrap_or(crate_dir);
    root.join(DOCS_DIR)
}

/// How a directory differs from what [`generate`] gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Drift {
    /// A document that should be there is not.
    Missing(PathBuf),
    /// A committed document differs from the generated one.
    Differs(PathBuf),
    /// A `.json` file no service generates (a service that stopped
    /// sending and receiving, or was renamed).
    Unexpected(PathBuf),
}

impl Drift {
    pub fn path(&self) -> &Path {
        match self {
            Self::Missing(path) | Self::Differs(path) | Self::Unexpected(path) => path,
        }
    }
}

impl std::fmt::Display for Drift {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing(path) => write!(formatter, "{} is missing", path.display()),
            Self::Differs(path) => write!(
                formatter,
                "{} differs from the generated document",
                path.display()
            ),
            Self::Unexpected(path) => write!(
                formatter,
                "{} is not generated by any service",
                path.display()
            ),
        }
    }
}

/// How `dir` differs from the generated documents (empty: up to date).
pub fn check(dir: &Path) -> Result<Vec<Drift>, AsyncApiError> {
    drift(dir, &generate()?)
}

/// Writes every document into `dir` (created if missing) and removes the
/// `.json` files no service generates; returns the files it changed.
pub fn write(dir: &Path) -> Result<Vec<PathBuf>, AsyncApiError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| AsyncApiError::Io { path, source }
    };
    let generated = generate()?;
    fs::create_dir_all(dir).map_err(io(dir))?;
    let mut changed = Vec::new();
    for difference in drift(dir, &generated)? {
        match &difference {
            Drift::Unexpected(path) => fs::remove_file(path).map_err(io(path))?,
            Drift::Missing(_) | Drift::Differs(_) => {}
        }
        changed.push(difference.path().to_owned());
    }
    for (name, text) in generated {
        let path = dir.join(name);
        fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(changed)
}

fn drift(dir: &Path, generated: &BTreeMap<String, String>) -> Result<Vec<Drift>, AsyncApiError> {
    let mut differences = Vec::new();
    for (name, text) in generated {
        let path = dir.join(name);
        match fs::read_to_string(&path) {
            Ok(committed) if committed == *text => {}
            Ok(_) => differences.push(Drift::Differs(path)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                differences.push(Drift::Missing(path));
            }
            Err(source) => return Err(AsyncApiError::Io { path, source }),
        }
    }
    for path in json_files(dir)? {
        let generated_here = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| generated.contains_key(name));
        if !generated_here {
            differences.push(Drift::Unexpected(path));
        }
    }
    Ok(differences)
}

/// The `.json` files directly in `dir`, sorted (none when it does not exist).
fn json_files(dir: &Path) -> Result<Vec<PathBuf>, AsyncApiError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(AsyncApiError::Io {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| AsyncApiError::Io {
                path: dir.to_owned(),
                source,
            })?
            .path();
        if path
            .extension()
            .is_some_and(|extension| extension == "json")
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
