//! Compilation: deterministic bytes, fingerprints that move only with what changed, and
//! running a compiled manifest.

use crate::util::{files_under, Project};
use std::collections::BTreeMap;

const PIPELINE: &str = "oml_version: \"0.1.0\"\nname: compiled\nparams:\n  min: 1\nsteps:\n  - id: extract\n    component: filesystem.csv_extractor\n    mode: read\n    config: {path: in.csv}\n  - id: filter\n    component: duckdb.processor\n    mode: transform\n    config:\n      query: \"SELECT * FROM extract WHERE x >= ${params.min}\"\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    config: {path: out.csv}\n";

fn snapshot(p: &Project, dir: &str) -> BTreeMap<String, Vec<u8>> {
    files_under(&p.path(dir))
        .into_iter()
        .map(|f| (f.strip_prefix(p.path(dir)).unwrap().display().to_string(), std::fs::read(&f).unwrap()))
        .collect()
}

fn manifest(p: &Project, dir: &str) -> serde_json::Value {
    let text = p.read(&format!("{dir}/manifest.yaml"));
    osiris::oml::Document::parse(&text).unwrap().value
}

#[test]
fn compiling_twice_gives_identical_bytes() {
    let p = Project::new();
    p.write("p.yaml", PIPELINE);
    p.osiris(&["compile", "p.yaml", "--out", "a"]).expect_code(0);
    p.osiris(&["compile", "p.yaml", "--out", "b"]).expect_code(0);
    let (a, b) = (snapshot(&p, "a"), snapshot(&p, "b"));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        ["cfg/extract.json", "cfg/filter.json", "cfg/write.json", "manifest.yaml"]
    );
    assert_eq!(a, b);
    let cfg: serde_json::Value = serde_json::from_slice(&a["cfg/extract.json"]).unwrap();
    assert_eq!(cfg["component"], "filesystem.csv_extractor");
    assert_eq!(cfg["mode"], "extract");
    assert_eq!(cfg["delimiter"], ",", "spec defaults are filled in");
}

#[test]
fn changing_a_param_changes_only_param_dependent_fingerprints() {
    let p = Project::new();
    p.write("p.yaml", PIPELINE);
    p.osiris(&["compile", "p.yaml", "--out", "a"]).expect_code(0);
    p.osiris(&["compile", "p.yaml", "--out", "b", "--param", "min=5"]).expect_code(0);
    let (ma, mb) = (manifest(&p, "a"), manifest(&p, "b"));
    let fp = |m: &serde_json::Value, k: &str| m["pipeline"]["fingerprints"][k].clone();
    for same in ["registry_fp", "compiler_fp", "profile"] {
        assert_eq!(fp(&ma, same), fp(&mb, same), "{same}");
    }
    for changed in ["oml_fp", "params_fp", "manifest_fp"] {
        assert_ne!(fp(&ma, changed), fp(&mb, changed), "{changed}");
    }
    assert_ne!(ma["meta"]["manifest_hash"], mb["meta"]["manifest_hash"]);
    assert_eq!(p.read("a/cfg/extract.json"), p.read("b/cfg/extract.json"));
    assert_eq!(p.read("a/cfg/write.json"), p.read("b/cfg/write.json"));
    assert!(p.read("b/cfg/filter.json").contains("x >= 5"));
}

#[test]
fn a_compiled_manifest_and_last_compile_run() {
    let p = Project::new();
    p.write("in.csv", "x\n1\n5\n");
    p.write("p.yaml", PIPELINE);
    let r = p.osiris(&["compile", "p.yaml", "--json", "--param", "min=2"]);
    r.expect_code(0);
    let manifest_path = r.json()["manifest_path"].as_str().unwrap().to_string();
    assert!(manifest_path.contains("build/pipelines/p/"), "{manifest_path}");
    p.osiris(&["run", &manifest_path, "-q"]).expect_code(0);
    assert_eq!(p.read("out.csv"), "x\n5\n");
    std::fs::remove_file(p.path("out.csv")).unwrap();
    p.osiris(&["run", "--last-compile", "-q"]).expect_code(0);
    assert_eq!(p.read("out.csv"), "x\n5\n");
}
