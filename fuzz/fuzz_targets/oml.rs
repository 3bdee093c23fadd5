//! Any bytes as an OML file: parsing, validation, planning and compiling end in a value or in
//! diagnostics (exit 2 for the CLI), never in a panic. Params are supplied as `--param` would,
//! so typed substitution is exercised too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use osiris::oml::ParamInputs;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let registry = osiris::registry::Registry::builtin_shared();
    let mut inputs = ParamInputs::default();
    inputs.cli.push(("n".into(), "3".into()));
    let Ok(pipeline) = osiris::oml::parse(text, Path::new("fuzz.yaml"), &inputs) else { return };
    let Ok(plan) = osiris::compiler::plan(pipeline, registry) else { return };
    let compiled = osiris::compiler::compile(&plan, registry);
    let _ = osiris::compiler::to_yaml(&compiled.manifest);
});
