//! The HTML report in a real browser: Debian's chromium renders the run page and the index
//! headless (`scripts/test-tools.sh` installs it). The DOM after scripts ran must hold every step
//! id, status, row count and the failed run's error; the network log must show no request
//! other than the page's own files.

use crate::operating::{example_project, FAILING};
use crate::util::Project;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn chromium() -> &'static str {
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(c).is_file() {
            return c;
        }
    }
    panic!("chromium is not installed: run scripts/test-tools.sh (the browser test is never skipped)");
}

/// One request in chromium's network log: its URL and traffic annotation (which part of the
/// browser asked: the page's resource loader, or one of chromium's own services).
struct Request {
    url: String,
    annotation: Option<u64>,
}

/// Render `page` headless with a network log; returns the DOM after scripts ran and every
/// request the browser made.
fn render(p: &Project, page: &Path, tag: &str) -> (String, Vec<Request>) {
    let netlog = p.path(&format!("{tag}.netlog.json"));
    let profile = p.path(&format!("{tag}.chromium-profile"));
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("</html>"),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(&netlog).unwrap_or_default();
    // The log may be cut short at exit; each request's parameters are one flat JSON object.
    let object = regex::Regex::new(r#"\{[^{}]*"url":"[^"]+"[^{}]*\}"#).unwrap();
    let requests = object
        .find_iter(&log)
        .filter_map(|m| serde_json::from_str::<Value>(m.as_str()).ok())
        .map(|v| Request {
            url: v["url"].as_str().unwrap_or_default().to_string(),
            annotation: v["traffic_annotation"].as_u64(),
        })
        .collect();
    (dom, requests)
}

/// The traffic annotations chromium gives to requests a page makes, learnt from a control page
/// that loads an external image (so the check below is known to catch a page's request).
fn page_annotations(p: &Project) -> Vec<u64> {
    let control =
        p.write("control.html", "<html><body><img src=\"http://127.0.0.1:9/osiris-control.png\"></body></html>");
    let (_, requests) = render(p, &control, "control");
    let seen: Vec<u64> =
        requests.iter().filter(|r| r.url.contains("osiris-control.png")).filter_map(|r| r.annotation).collect();
    assert!(!seen.is_empty(), "the control page's request is in the network log");
    seen
}

fn screenshot(page: &Path, png: &Path) {
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,1100"])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(out.status.success() && png.is_file(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// No request the page made left the machine's files (chromium's own background services,
/// which have other annotations, are not the page's doing).
fn assert_local_only(requests: &[Request], page_annotations: &[u64]) {
    let external: Vec<&str> = requests
        .iter()
        .filter(|r| r.annotation.is_some_and(|a| page_annotations.contains(&a)))
        .map(|r| r.url.as_str())
        .filter(|u| !u.starts_with("file://") && !u.starts_with("data:"))
        .collect();
    assert!(external.is_empty(), "the report requested {external:?}");
}

#[test]
fn report_pages_render_in_chromium_with_every_step_and_the_error() {
    let p = example_project();
    let ok = p.osiris(&["run", "orders_report.yaml", "--json"]).expect_code(0).json();
    p.write("in.csv", "a\n1\n");
    p.write("fails.yaml", FAILING);
    let failed = p.osiris(&["run", "fails.yaml", "--json"]).expect_code(1).json();
    p.osiris(&["logs", "html", "--out", "report"]).expect_code(0);

    let annotations = page_annotations(&p);
    let page = |run: &Value| p.path(&format!("report/{}/index.html", run["run_id"].as_str().unwrap()));
    let (dom, urls) = render(&p, &page(&ok), "ok");
    assert_local_only(&urls, &annotations);
    for step in ok["steps"].as_array().unwrap() {
        let id = step["id"].as_str().unwrap();
        let row = dom.split(&format!("<tr id=\"step-{id}\"")).nth(1).unwrap_or_else(|| panic!("no row for {id}"));
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(row.contains(step["status"].as_str().unwrap()), "{id}: {row}");
        let rows = step["rows"].as_u64().map(|r| r.to_string()).unwrap_or_else(|| "view".into());
        assert!(row.contains(&format!(">{rows}<")), "{id} shows {rows}: {row}");
        assert!(dom.contains(&format!("data-step=\"{id}\"")), "{id} is in the drawings");
    }
    assert!(dom.contains(&format!(">{}<", ok["total_rows"])), "total rows shown");

    let (dom, urls) = render(&p, &page(&failed), "failed");
    assert_local_only(&urls, &annotations);
    assert!(dom.contains("id=\"run-error\"") && dom.contains("no_such_column"), "the error is on the page");
    assert!(dom.contains("<tr id=\"step-broken-sql\" class=\"failed\""), "the failing step is highlighted");

    let (dom, urls) = render(&p, &p.path("report/index.html"), "index");
    assert_local_only(&urls, &annotations);
    for run in [&ok, &failed] {
        assert!(dom.contains(run["run_id"].as_str().unwrap()));
        assert!(dom.contains(&format!("data-status=\"{}\"", run["status"].as_str().unwrap())));
    }
    screenshot(&page(&ok), &p.path("ok.png"));
}
