//! `osiris components list|show`.

use super::output::print_json;
use osiris::diagnostics::did_you_mean;
use osiris::registry::Registry;
use serde_json::json;

/// Subcommands of `components`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// List every component with its modes and whether this build can run it.
    List {
        /// JSON array on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Show one component: description, modes, config fields with types and defaults, examples.
    Show {
        /// Component name, e.g. filesystem.csv_extractor.
        name: String,
        /// The whole spec as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

pub fn execute(c: Command) -> anyhow::Result<i32> {
    let registry = Registry::builtin();
    match c {
        Command::List { json } => {
            if json {
                let items: Vec<_> = registry
                    .specs()
                    .map(|s| json!({"name": s.name, "version": s.version, "modes": s.modes, "description": s.description, "runnable": registry.is_runnable(&s.name)}))
                    .collect();
                print_json(&json!(items));
            } else {
                println!("{:<26} {:<8} {:<26} runnable", "component", "version", "modes");
                for s in registry.specs() {
                    let runnable = if registry.is_runnable(&s.name) { "yes" } else { "not yet" };
                    println!("{:<26} {:<8} {:<26} {runnable}", s.name, s.version, s.modes.join(", "));
                }
            }
            Ok(0)
        }
        Command::Show { name, json } => {
            let Some(spec) = registry.get(&name) else {
                let hint =
                    did_you_mean(&name, registry.names()).map(|s| format!(" Did you mean `{s}`?")).unwrap_or_default();
                eprintln!("error: unknown component `{name}`.{hint} See `osiris components list`.");
                return Ok(2);
            };
            if json {
                print_json(&registry.spec_json(&spec.name).unwrap_or_default());
                return Ok(0);
            }
            println!("{} {} — {}", spec.name, spec.version, spec.title);
            println!("{}\n", spec.description);
            println!(
                "modes: {}{}",
                spec.modes.join(", "),
                if registry.is_runnable(&spec.name) { "" } else { "  (driver not implemented yet)" }
            );
            if let Some(caps) = registry.capabilities(&spec.name).and_then(|c| c.as_object().cloned()) {
                let yes: Vec<&str> = caps.iter().filter(|(_, v)| **v == true).map(|(k, _)| k.as_str()).collect();
                println!("capabilities: {}", yes.join(", "));
            }
            let required = spec.required();
            println!("\nconfig fields:");
            let props = spec.config_schema.get("properties").and_then(|p| p.as_object()).cloned().unwrap_or_default();
            for (k, p) in &props {
                let ty = p.get("type").map(|t| t.to_string().replace('"', "")).unwrap_or_default();
                let mut notes = Vec::new();
                if required.contains(&k.as_str()) {
                    notes.push("required".to_string());
                }
                if let Some(d) = p.get("default") {
                    notes.push(format!("default {d}"));
                }
                if let Some(e) = p.get("enum") {
                    notes.push(format!("one of {e}"));
                }
                if let Some(f) = spec.connection_field(k) {
                    notes.push(format!("from connection ({:?})", f.policy).to_lowercase());
                }
                println!("  {k:<26} {ty:<18} {}", notes.join("; "));
                if let Some(d) = p.get("description").and_then(|d| d.as_str()) {
                    println!("  {:<26} {d}", "");
                }
            }
            if let Some(examples) = spec.raw.get("examples").and_then(|e| e.as_array()) {
                println!("\nexamples:");
                for ex in examples {
                    println!("  # {}\n  config: {}", ex["title"].as_str().unwrap_or(""), ex["config"]);
                }
            }
            Ok(0)
        }
    }
}
