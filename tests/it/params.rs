//! `${params.NAME}` placeholders that the pipeline does not declare, as original Osiris
//! pipelines use them: a value supplied from outside fills them; nobody supplying one is exit 2.

use crate::util::Project;

/// A pipeline filtering `in.csv` by `${params.region}`, with no `params:` block, and with a
/// profile `eu` that supplies it.
fn project() -> Project {
    let p = Project::new();
    p.write("in.csv", "id,region\n1,EU\n2,US\n3,EU\n");
    p.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: undeclared\nprofiles:\n  eu: {params: {region: EU}}\nsteps:\n  - id: extract\n    component: filesystem.csv_extractor\n    mode: read\n    config: {path: in.csv}\n  - id: pick\n    component: duckdb.processor\n    mode: transform\n    needs: [extract]\n    config:\n      query: \"SELECT id FROM input_df WHERE region = '${params.region}' ORDER BY id\"\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [pick]\n    config: {path: out.csv}\n",
    );
    p
}

fn assert_ran_for_eu(p: &Project, r: &crate::util::Run) {
    r.expect_code(0);
    assert_eq!(p.read("out.csv"), "id\n1\n3\n", "{r:?}");
    assert!(r.stderr.contains("`${params.region}` is not declared"), "a warning suggests declaring it: {r:?}");
}

#[test]
fn an_undeclared_placeholder_is_filled_by_param() {
    let p = project();
    assert_ran_for_eu(&p, &p.osiris(&["run", "p.yaml", "--param", "region=EU"]));
}

#[test]
fn an_undeclared_placeholder_is_filled_by_the_environment() {
    let p = project();
    assert_ran_for_eu(&p, &p.osiris_env(&["run", "p.yaml"], &[("OSIRIS_PARAM_REGION", "EU")]));
}

#[test]
fn an_undeclared_placeholder_is_filled_by_the_profile() {
    let p = project();
    assert_ran_for_eu(&p, &p.osiris(&["run", "p.yaml", "--profile", "eu"]));
}

#[test]
fn an_undeclared_placeholder_nobody_supplies_is_invalid_and_nothing_runs() {
    let p = project();
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(2);
    assert!(
        r.stdout.contains("refers to an undeclared parameter") && r.stdout.contains("--param region=VALUE"),
        "{r:?}"
    );
    assert!(!p.exists("out.csv") && !p.exists(".osiris/runs"));
}

#[test]
fn a_param_no_placeholder_uses_is_a_typo_and_invalid() {
    let p = project();
    let r = p.osiris(&["run", "p.yaml", "--param", "regoin=EU", "--json"]);
    r.expect_code(2);
    assert!(r.stdout.contains("did you mean `region`?"), "{r:?}");
    assert!(!p.exists("out.csv"));
}

/// A declared integer parameter given text is invalid input naming the value, not a string
/// spliced into SQL.
#[test]
fn a_param_not_of_its_declared_type_is_invalid_input() {
    let p = Project::new();
    p.write("in.csv", "x\n1\n5\n");
    p.write(
        "p.yaml",
        "oml_version: \"0.1.0\"\nname: typed\nparams:\n  min: 1\nsteps:\n  - id: extract\n    component: filesystem.csv_extractor\n    mode: read\n    config: {path: in.csv}\n  - id: pick\n    component: duckdb.processor\n    mode: transform\n    needs: [extract]\n    config:\n      query: \"SELECT x FROM input_df WHERE x >= ${params.min}\"\n  - id: write\n    component: filesystem.csv_writer\n    mode: write\n    needs: [pick]\n    config: {path: out.csv}\n",
    );
    let r = p.osiris(&["run", "p.yaml", "--param", "min=1 OR 1=1", "--json"]);
    r.expect_code(2);
    assert_eq!(r.json()["errors"][0]["type"], "invalid_param_type", "{r:?}");
    assert!(!p.exists("out.csv"));
    p.osiris(&["run", "p.yaml", "--param", "min=5", "--quiet"]).expect_code(0);
    assert_eq!(p.read("out.csv"), "x\n5\n");
}
