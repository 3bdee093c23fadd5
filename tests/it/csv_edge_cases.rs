//! CSV in → DuckDB → CSV out: each edge case comes out exactly as expected.

use crate::util::{copy_pipeline, Project};

fn roundtrip(input: &str, extract: &str, write: &str) -> String {
    let p = Project::new();
    p.write("in.csv", input);
    p.run_ok(&copy_pipeline(&format!("{{path: in.csv{extract}}}"), &format!("{{path: out.csv{write}}}")), "out.csv")
}

/// Run one processor query over `input` and return the CSV it writes.
fn query(input: &str, extract: &str, sql: &str) -> String {
    let p = Project::new();
    p.write("in.csv", input);
    let pipeline = format!(
        "oml_version: \"0.1.0\"\nname: q\nsteps:\n  - id: src\n    component: filesystem.csv_extractor\n    mode: read\n    config: {{path: in.csv{extract}}}\n  - id: q\n    component: duckdb.processor\n    mode: transform\n    config:\n      query: \"{sql}\"\n  - id: out\n    component: filesystem.csv_writer\n    mode: write\n    config: {{path: out.csv}}\n"
    );
    p.run_ok(&pipeline, "out.csv")
}

#[test]
fn quotes_delimiters_newlines_and_utf8_survive() {
    let input = "id,name,note\n1,\"Smith, John\",\"He said \"\"hi\"\"\"\n2,Zoë 🚀 東京,\"line1\nline2\"\n";
    assert_eq!(roundtrip(input, "", ""), input);
}

#[test]
fn empty_string_and_null_stay_distinct() {
    let input = "id,a,b\n1,,\"\"\n2,x,y\n";
    assert_eq!(roundtrip(input, "", ""), input);
    assert_eq!(
        query(
            input,
            "",
            "SELECT id, a IS NULL AS a_null, b IS NULL AS b_null, length(b) AS b_len FROM src WHERE id = 1"
        ),
        "id,a_null,b_null,b_len\n1,true,false,0\n"
    );
}

#[test]
fn header_false_names_columns_by_position() {
    assert_eq!(roundtrip("1,a\n2,b\n", ", header: false", ""), "0,1\n1,a\n2,b\n");
    assert_eq!(
        query("1,a\n2,b\n", ", header: false", "SELECT \\\"1\\\" AS letter FROM src WHERE \\\"0\\\" = 2"),
        "letter\nb\n"
    );
    assert_eq!(roundtrip("1,a\n", ", header: false", ", header: false"), "1,a\n");
}

#[test]
fn tab_delimiter_in_and_out() {
    let input = "a\tb\n1\thas,comma\n";
    assert_eq!(roundtrip(input, ", delimiter: \"\\t\"", ", delimiter: \"\\t\""), input);
}

#[test]
fn two_hundred_columns_keep_their_order() {
    let header: Vec<String> = (0..200).rev().map(|i| format!("c{i}")).collect();
    let row: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    let input = format!("{}\n{}\n{}\n", header.join(","), row.join(","), row.join(","));
    assert_eq!(roundtrip(&input, "", ""), input);
}

#[test]
fn header_only_input_gives_zero_rows_with_columns() {
    assert_eq!(roundtrip("a,b,c\n", "", ""), "a,b,c\n");
    assert_eq!(
        query("a,b,c\n", "", "SELECT count(*) AS n, (SELECT count(*) FROM (DESCRIBE src)) AS cols FROM src"),
        "n,cols\n0,3\n"
    );
}

#[test]
fn sixty_four_bit_integers_are_exact() {
    let input = "id,big\n1,9223372036854775807\n2,-9223372036854775808\n3,0\n";
    assert_eq!(roundtrip(input, "", ""), input);
    let unsigned = "big\n18446744073709551615\n";
    assert_eq!(roundtrip(unsigned, ", dtype: {big: UBIGINT}", ""), unsigned);
    assert_eq!(
        query("big\n9223372036854775807\n", "", "SELECT big - 1 AS m, typeof(big) AS t FROM src"),
        "m,t\n9223372036854775806,BIGINT\n"
    );
}

#[test]
fn decimals_are_doubles_unless_typed() {
    let input = "price\n12.50\n0.1\n";
    assert_eq!(roundtrip(input, "", ""), "price\n12.5\n0.1\n");
    assert_eq!(roundtrip(input, ", dtype: {price: \"DECIMAL(10,2)\"}", ""), "price\n12.50\n0.10\n");
    assert_eq!(query(input, ", dtype: {price: \"DECIMAL(10,2)\"}", "SELECT sum(price) AS s FROM src"), "s\n12.60\n");
}

#[test]
fn dates_and_timestamps_keep_their_text_by_default_and_parse_on_request() {
    let input = "d,ts,tsz\n2024-01-05,2024-01-05 10:00:00,2024-01-05T10:00:00Z\n2024-02-29,2024-02-29 23:59:59.123456,2024-02-29T23:59:59Z\n";
    assert_eq!(roundtrip(input, "", ""), input);
    assert_eq!(query(input, "", "SELECT typeof(d) AS td FROM src LIMIT 1"), "td\nVARCHAR\n");
    assert_eq!(
        query(input, ", parse_dates: true", "SELECT typeof(d) AS td, typeof(ts) AS tt, d + 1 AS next FROM src LIMIT 1"),
        "td,tt,next\nDATE,TIMESTAMP,2024-01-06\n"
    );
    assert_eq!(
        query(input, ", parse_dates: [ts]", "SELECT typeof(d) AS td, typeof(ts) AS tt FROM src LIMIT 1"),
        "td,tt\nVARCHAR,TIMESTAMP\n"
    );
}

#[test]
fn writer_options_quoting_newline_and_header() {
    let input = "id,name,amount\n1,a b,2.5\n2,,3\n";
    assert_eq!(
        roundtrip(input, "", ", quoting: all"),
        "\"id\",\"name\",\"amount\"\n\"1\",\"a b\",\"2.5\"\n\"2\",,\"3.0\"\n"
    );
    assert_eq!(roundtrip(input, "", ", quoting: nonnumeric, header: false"), "1,\"a b\",2.5\n2,,3.0\n");
    assert_eq!(roundtrip("a,b\n1,\"x\ny\"\n", "", ", newline: crlf"), "a,b\r\n1,\"x\ny\"\r\n");
}

#[test]
fn writer_encodings() {
    let p = Project::new();
    p.write("in.csv", "name\nZoë\n");
    p.write("p.yaml", &copy_pipeline("{path: in.csv}", "{path: out.csv, encoding: latin-1}"));
    p.osiris(&["run", "p.yaml", "-q"]).expect_code(0);
    assert_eq!(std::fs::read(p.path("out.csv")).unwrap(), b"name\nZo\xeb\n");
    p.write("p.yaml", &copy_pipeline("{path: in.csv}", "{path: out16.csv, encoding: utf-16}"));
    p.osiris(&["run", "p.yaml", "-q"]).expect_code(0);
    let bytes = std::fs::read(p.path("out16.csv")).unwrap();
    let units: Vec<u16> = bytes[2..].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    assert_eq!(&bytes[..2], &[0xFF, 0xFE]);
    assert_eq!(String::from_utf16(&units).unwrap(), "name\nZoë\n");
}

#[test]
fn an_unencodable_character_fails_without_leaving_a_file() {
    let p = Project::new();
    p.write("in.csv", "name\n東京\n");
    p.write("p.yaml", &copy_pipeline("{path: in.csv}", "{path: out.csv, encoding: ascii}"));
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(1);
    assert_eq!(r.json()["error"]["step"], "write");
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("U+6771"), "{r:?}");
    let leftovers: Vec<_> = std::fs::read_dir(p.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("out"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn extractor_options_skip_limit_columns_na_values_comment() {
    let input = "# exported\nskip me\nid,name,score\n1,a,N/A\n2,b,7\n3,c,8\n";
    let out =
        roundtrip(input, ", comment: \"#\", skip_rows: 1, columns: [score, id], na_values: [\"N/A\"], limit: 2", "");
    assert_eq!(out, "score,id\n,1\n7,2\n");
}

#[test]
fn gzip_input_is_read() {
    let p = Project::new();
    let mut gz = Vec::new();
    {
        use std::io::Write;
        let mut child = std::process::Command::new("gzip")
            .arg("-c")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("gzip on PATH");
        child.stdin.take().unwrap().write_all(b"a,b\n1,2\n").unwrap();
        let out = child.wait_with_output().unwrap();
        gz.extend(out.stdout);
    }
    std::fs::write(p.path("in.csv.gz"), gz).unwrap();
    assert_eq!(p.run_ok(&copy_pipeline("{path: in.csv.gz}", "{path: out.csv}"), "out.csv"), "a,b\n1,2\n");
}

#[test]
fn crlf_input_is_read_and_written_with_the_chosen_terminator() {
    assert_eq!(roundtrip("a,b\r\n1,\"x\r\ny\"\r\n2,z\r\n", "", ""), "a,b\n1,\"x\r\ny\"\n2,z\n");
}

#[test]
fn input_encodings_latin1_and_utf16_are_decoded() {
    let p = Project::new();
    std::fs::write(p.path("latin.csv"), b"name\nZo\xeb\n").unwrap();
    let mut utf16 = vec![0xFF, 0xFE];
    for u in "name\nZoë 🚀\n".encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    std::fs::write(p.path("wide.csv"), utf16).unwrap();
    p.write("p.yaml", &copy_pipeline("{path: latin.csv, encoding: latin-1}", "{path: out.csv}"));
    p.osiris(&["run", "p.yaml", "-q"]).expect_code(0);
    assert_eq!(p.read("out.csv"), "name\nZoë\n");
    p.write("p.yaml", &copy_pipeline("{path: wide.csv, encoding: utf-16}", "{path: out.csv}"));
    p.osiris(&["run", "p.yaml", "-q"]).expect_code(0);
    assert_eq!(p.read("out.csv"), "name\nZoë 🚀\n");
}

#[test]
fn create_dirs_false_fails_on_a_missing_directory_and_true_creates_it() {
    let p = Project::new();
    p.write("in.csv", "a\n1\n");
    p.write("p.yaml", &copy_pipeline("{path: in.csv}", "{path: deep/er/out.csv, create_dirs: false}"));
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(1);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("create_dirs is false"), "{r:?}");
    assert!(!p.exists("deep"));
    p.write("p.yaml", &copy_pipeline("{path: in.csv}", "{path: deep/er/out.csv}"));
    p.osiris(&["run", "p.yaml", "-q"]).expect_code(0);
    assert_eq!(p.read("deep/er/out.csv"), "a\n1\n");
}

/// Numbers DOUBLE cannot hold exactly keep every digit: DECIMAL(38, s) for fractions, HUGEINT for
/// integers beyond 64 bits; numbers DOUBLE holds stay DOUBLE (and print as before).
#[test]
fn exact_decimals_and_128_bit_integers_survive_csv_to_csv() {
    let input = "id,big,huge,small\n1,12345678901234567890.123456789,123456789012345678901234,1.5\n2,-98765432109876543210.5,-170141183460469231731687303715884105727,2.25\n";
    assert_eq!(
        roundtrip(input, "", ""),
        "id,big,huge,small\n1,12345678901234567890.123456789,123456789012345678901234,1.5\n2,-98765432109876543210.500000000,-170141183460469231731687303715884105727,2.25\n"
    );
    assert_eq!(
        query(input, "", "SELECT typeof(big) AS b, typeof(huge) AS h, typeof(small) AS s FROM src LIMIT 1"),
        "b,h,s\n\"DECIMAL(38,9)\",HUGEINT,DOUBLE\n"
    );
}

/// A value past the sample that the chosen type cannot hold fails the step, naming the column and
/// the dtype that reads it; nothing is written.
#[test]
fn a_late_value_the_sampled_type_cannot_hold_fails_instead_of_rounding() {
    let p = Project::new();
    let mut input = String::from("id,price\n");
    for i in 0..25_000 {
        input.push_str(&format!("{i},{}.25\n", i % 1000));
    }
    input.push_str("25000,0.12345678901234567\n");
    p.write("in.csv", &input);
    p.write("p.yaml", &copy_pipeline("{path: in.csv}", "{path: out.csv}"));
    let r = p.osiris(&["run", "p.yaml", "--json"]);
    r.expect_code(1);
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("\"price\" holds `0.12345678901234567`") && message.contains("dtype: {price: VARCHAR}"),
        "{message}"
    );
    assert!(!p.exists("out.csv"));
    let fixed = p.run_ok(&copy_pipeline("{path: in.csv, dtype: {price: VARCHAR}}", "{path: out.csv}"), "out.csv");
    assert!(fixed.ends_with("25000,0.12345678901234567\n"));
}
