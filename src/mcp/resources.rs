//! MCP resources: read-only documents an agent reads while writing a pipeline.
//!
//! Packaged (listed by `resources/list`): the OML JSON Schema, every component spec, the use
//! cases (pipelines that validate and run) and the agent guide (`docs/agent-guide.md`). From the
//! project (templates; the URIs come back from tools): a cached discovery's
//! `overview|tables|samples.json`, the drafts `oml_save` wrote and what `memory_capture` kept. Every URI maps to one file in
//! one fixed directory; names are checked before any path is built, so no URI reaches another
//! file, and every text passes the redactor.

use super::context::Context;
use super::tools::{OML_SCHEMA, USECASES};
use rmcp::model::{Resource, ResourceTemplate};

/// The URI prefix of every osiris resource (the original's).
pub const PREFIX: &str = "osiris://mcp/";

/// The agent guide, written for this project.
pub const AGENT_GUIDE: &str = include_str!("../../docs/agent-guide.md");

const SCHEMA_URI: &str = "osiris://mcp/schemas/oml/v0.1.0.json";
const GUIDE_URI: &str = "osiris://mcp/prompts/agent-guide.md";

/// Why a resource cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// No resource has this URI.
    #[error("no resource {0} (see resources/list and resources/templates/list)")]
    NotFound(String),
    /// The file behind the URI could not be read.
    #[error("cannot read {uri}: {source}")]
    Io {
        /// The URI.
        uri: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A resource's text and MIME type.
pub struct Contents {
    /// The text.
    pub text: String,
    /// Its MIME type.
    pub mime_type: &'static str,
}

/// The packaged resources.
pub fn list(ctx: &Context) -> Vec<Resource> {
    let mut out = vec![
        Resource::new(SCHEMA_URI, "oml-schema")
            .with_title("OML v0.1.0 JSON Schema")
            .with_description("The shape of a pipeline file: oml_version, name, params, steps.")
            .with_mime_type("application/schema+json"),
        Resource::new(GUIDE_URI, "agent-guide")
            .with_title("Writing osiris pipelines: a guide for agents")
            .with_description("The tool loop, OML in one screen, rules that keep a pipeline valid and safe.")
            .with_mime_type("text/markdown"),
    ];
    out.extend(ctx.registry.specs().map(|s| {
        Resource::new(format!("{PREFIX}components/{}.json", s.name), s.name.clone())
            .with_title(s.title.clone())
            .with_description(format!("Component spec: config fields, modes, capabilities. {}", s.description))
            .with_mime_type("application/json")
    }));
    out.extend(USECASES.iter().map(|(id, name, _, description, _)| {
        Resource::new(format!("{PREFIX}usecases/{id}.yaml"), format!("usecase-{id}"))
            .with_title(*name)
            .with_description(*description)
            .with_mime_type("application/yaml")
    }));
    out
}

/// The project's resources, whose URIs tools return.
pub fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(format!("{PREFIX}discovery/{{discovery_id}}/{{file}}"), "discovery")
            .with_title("A cached discovery")
            .with_description(
                "overview.json, tables.json or samples.json of a discovery_request result (its `artifacts`).",
            )
            .with_mime_type("application/json"),
        ResourceTemplate::new(format!("{PREFIX}drafts/oml/{{filename}}"), "draft")
            .with_title("A saved OML draft")
            .with_description("A pipeline saved by oml_save (its `uri`).")
            .with_mime_type("application/yaml"),
        ResourceTemplate::new(format!("{PREFIX}memory/{{session_id}}.jsonl"), "memory")
            .with_title("A captured session memory")
            .with_description("What memory_capture recorded for a session (its `uri`), one JSON line per capture.")
            .with_mime_type("application/jsonl"),
    ]
}

/// Read the resource at `uri`.
pub fn read(ctx: &Context, uri: &str) -> Result<Contents, ResourceError> {
    let not_found = || ResourceError::NotFound(uri.to_string());
    let rest = uri.strip_prefix(PREFIX).ok_or_else(not_found)?;
    let parts: Vec<&str> = rest.split('/').collect();
    let contents = match parts.as_slice() {
        ["schemas", "oml", "v0.1.0.json"] => Contents { text: OML_SCHEMA.into(), mime_type: "application/schema+json" },
        ["prompts", "agent-guide.md"] => Contents { text: AGENT_GUIDE.into(), mime_type: "text/markdown" },
        ["components", file] => {
            let name = file.strip_suffix(".json").ok_or_else(not_found)?;
            let spec = ctx.registry.spec_json(name).ok_or_else(not_found)?;
            Contents {
                text: serde_json::to_string_pretty(&spec).expect("JSON serializes"),
                mime_type: "application/json",
            }
        }
        ["usecases", file] => {
            let id = file.strip_suffix(".yaml").ok_or_else(not_found)?;
            let (_, _, _, _, oml) = USECASES.iter().find(|u| u.0 == id).ok_or_else(not_found)?;
            Contents { text: (*oml).into(), mime_type: "application/yaml" }
        }
        ["discovery", id, file] if is_discovery_id(id) && DISCOVERY_FILES.contains(file) => Contents {
            text: read_project_file(uri, &ctx.root.join(".osiris").join("discovery").join(id).join(file))?,
            mime_type: "application/json",
        },
        ["drafts", "oml", file] if is_plain_file_name(file) => Contents {
            text: read_project_file(uri, &ctx.mcp_dir().join("drafts").join("oml").join(file))?,
            mime_type: "application/yaml",
        },
        ["memory", file] if is_plain_file_name(file) && file.ends_with(".jsonl") => Contents {
            text: read_project_file(uri, &ctx.mcp_dir().join("memory").join(file))?,
            mime_type: "application/jsonl",
        },
        _ => return Err(not_found()),
    };
    Ok(Contents { text: ctx.redactor.redact(&contents.text), ..contents })
}

const DISCOVERY_FILES: [&str; 3] = ["overview.json", "tables.json", "samples.json"];

/// `disc_` and 16 lowercase hex digits, as [`crate::discovery::discovery_id`] makes them.
fn is_discovery_id(id: &str) -> bool {
    id.strip_prefix("disc_").is_some_and(|h| h.len() == 16 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

pub(super) use crate::confine::is_plain_file_name;

fn read_project_file(uri: &str, path: &std::path::Path) -> Result<String, ResourceError> {
    std::fs::read_to_string(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ResourceError::NotFound(uri.to_string()),
        _ => ResourceError::Io { uri: uri.to_string(), source },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_of_the_expected_form_reach_a_path() {
        assert!(is_discovery_id("disc_0123456789abcdef"));
        for bad in ["disc_0123456789ABCDEF", "disc_0123", "../disc_0123456789abcdef", "disc_0123456789abcdef/.."] {
            assert!(!is_discovery_id(bad), "{bad}");
        }
        assert!(is_plain_file_name("s1_20261130_101010.yaml"));
        for bad in ["..", ".hidden", "a/b", "a\\b", "", "%2e%2e"] {
            assert!(!is_plain_file_name(bad), "{bad}");
        }
    }
}
