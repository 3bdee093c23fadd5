//! `osiris logs html`: one self-contained page per run and an index of runs.
//!
//! Pages load nothing from the network (inline CSS, inline SVG, a few lines of inline script for
//! the index's filter) and a Content-Security-Policy that forbids every external fetch, so they
//! open from disk, from a bundle or from a CI artifact alike. Every text passes the redactor.
//! A finished run's page is written once and kept while it is newer than the run's
//! `status.json`, so regenerating the report of a long history costs the index and the new runs.

use super::history::{self, Filter, RunSummary};
use super::svg;
use crate::connections::Redactor;
use serde::Serialize;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Rows shown per step preview.
pub const PREVIEW_ROWS: usize = 10;
const PREVIEW_COLUMNS: usize = 24;
const CELL_CHARS: usize = 120;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}\
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}\
table{border-collapse:collapse;margin:4px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}\
.status{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px}\
tr.failed td{background:#fdecea}.error{color:#b71c1c;white-space:pre-wrap}\
.meta span{margin-right:18px}.preview{font-size:12px}.scroll{overflow-x:auto}\
input,select{font:inherit;padding:2px 6px;margin-right:8px}a{color:#1565c0}";

/// What [`write_report`] did.
#[derive(Debug, Clone, Serialize)]
pub struct ReportWritten {
    /// The index page.
    pub index: PathBuf,
    /// Run pages written now.
    pub pages_written: usize,
    /// Run pages already up to date.
    pub pages_kept: usize,
}

/// HTML-escape text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head>\
<body>{body}</body></html>\n",
        escape(title)
    )
}

fn badge(status: &str) -> String {
    format!(
        "<span class=\"status\" data-status=\"{s}\" style=\"background:{}\">{s}</span>",
        svg::status_colour(status),
        s = escape(status)
    )
}

fn rows_text(rows: Option<u64>, relation: Option<&str>) -> String {
    match (rows, relation) {
        (Some(r), _) => r.to_string(),
        (None, Some("view")) => "view".into(),
        _ => "-".into(),
    }
}

/// A step's relation, first rows: column names and cells as text.
pub struct Preview {
    /// Column names.
    pub columns: Vec<String>,
    /// Cells (NULL as None).
    pub rows: Vec<Vec<Option<String>>>,
}

/// Read the first rows of each step's relation from the run's exchange file (read-only); a step
/// whose relation is gone or cannot be read maps to the reason.
pub fn previews(run: &RunSummary) -> Vec<(String, Result<Preview, String>)> {
    let path = run.run_dir.join(crate::exchange::FILE_NAME);
    if !path.is_file() {
        return Vec::new();
    }
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly);
    let conn = match config.and_then(|c| duckdb::Connection::open_with_flags(&path, c)) {
        Ok(c) => c,
        Err(e) => return vec![("*".into(), Err(format!("the exchange file cannot be opened: {e}")))],
    };
    run.steps
        .iter()
        .filter(|s| s.relation.is_some() && s.status == "success")
        .map(|s| (s.id.clone(), preview(&conn, &s.id)))
        .collect()
}

fn preview(conn: &duckdb::Connection, step: &str) -> Result<Preview, String> {
    let query = format!("SELECT * FROM {}", crate::exchange::quote_ident(step));
    let found = crate::exchange::text_rows(conn, &query, PREVIEW_ROWS).map_err(|e| e.to_string())?;
    let cell = |v: Option<String>| v.map(|v| v.chars().take(CELL_CHARS).collect());
    Ok(Preview {
        columns: found.columns.into_iter().take(PREVIEW_COLUMNS).collect(),
        rows: found.rows.into_iter().map(|r| r.into_iter().take(PREVIEW_COLUMNS).map(cell).collect()).collect(),
    })
}

/// The page of one run.
pub fn render_run(run: &RunSummary, previews: &[(String, Result<Preview, String>)], redactor: &Redactor) -> String {
    let t = |s: &str| escape(&redactor.redact(s));
    let mut b = String::new();
    let _ = write!(
        b,
        "<p><a href=\"../index.html\">← all runs</a></p><h1>{} {}</h1><p class=\"meta\"><span>run <code id=\"run-id\">{}</code></span>\
<span>started {}</span><span>duration {} ms</span><span>total rows <b id=\"total-rows\">{}</b></span><span>steps {}/{}</span>{}{}</p>",
        t(&run.pipeline),
        badge(&run.status),
        t(&run.run_id),
        t(run.started_at.as_deref().unwrap_or("-")),
        run.duration_ms,
        run.total_rows,
        run.steps_ok(),
        run.steps.len(),
        run.profile.as_deref().map(|p| format!("<span>profile {}</span>", t(p))).unwrap_or_default(),
        run.peak_rss_bytes
            .map(|b| format!("<span>peak memory {:.1} MiB</span>", b as f64 / 1_048_576.0))
            .unwrap_or_default(),
    );
    if let Some(e) = &run.error {
        let _ = write!(
            b,
            "<h2>Error</h2><p class=\"error\" id=\"run-error\">step <b>{}</b> ({}): {}</p>",
            t(e["step"].as_str().unwrap_or("-")),
            t(e["kind"].as_str().unwrap_or("")),
            t(e["message"].as_str().unwrap_or(""))
        );
    }
    let _ = write!(b, "<h2>Pipeline</h2><div class=\"scroll\">{}</div>", svg::dag(run));
    let _ = write!(b, "<h2>Timeline</h2><div class=\"scroll\">{}</div>", svg::timeline(run));
    b.push_str("<h2>Steps</h2><table id=\"steps\"><thead><tr><th>step</th><th>component</th><th>mode</th><th>status</th><th>rows</th><th>ms</th><th>relation</th><th>error</th></tr></thead><tbody>");
    for s in &run.steps {
        let _ = write!(
            b,
            "<tr id=\"step-{id}\" class=\"{status}\" data-step=\"{id}\"><td>{id}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"error\">{}</td></tr>",
            t(&s.component),
            t(&s.mode),
            badge(&s.status),
            rows_text(s.rows, s.relation.as_deref()),
            s.duration_ms,
            match (&s.relation, &s.streams_to) {
                (_, Some(to)) => format!("streamed → {}", t(to)),
                (Some(r), None) => t(r),
                (None, None) => "-".into(),
            },
            s.error.as_deref().map(t).unwrap_or_default(),
            id = t(&s.id),
            status = t(&s.status),
        );
    }
    b.push_str("</tbody></table>");
    if !run.warnings.is_empty() {
        b.push_str("<h2>Warnings</h2><ul id=\"warnings\">");
        for w in &run.warnings {
            let _ = write!(b, "<li>{}</li>", t(w));
        }
        b.push_str("</ul>");
    }
    if !previews.is_empty() {
        let _ = write!(b, "<h2>Data (first {PREVIEW_ROWS} rows per step)</h2>");
    }
    for (step, p) in previews {
        let _ = write!(b, "<h3>{}</h3>", t(step));
        match p {
            Err(e) => {
                let _ = write!(b, "<p class=\"error\">{}</p>", t(e));
            }
            Ok(p) => {
                b.push_str("<div class=\"scroll\"><table class=\"preview\"><tr>");
                for c in &p.columns {
                    let _ = write!(b, "<th>{}</th>", t(c));
                }
                b.push_str("</tr>");
                for row in &p.rows {
                    b.push_str("<tr>");
                    for cell in row {
                        match cell {
                            Some(v) => {
                                let _ = write!(b, "<td>{}</td>", t(v));
                            }
                            None => b.push_str("<td><i>NULL</i></td>"),
                        }
                    }
                    b.push_str("</tr>");
                }
                b.push_str("</table></div>");
            }
        }
    }
    redactor.redact(&page(&format!("{} — {} ({})", run.pipeline, run.run_id, run.status), &b))
}

const FILTER_SCRIPT: &str =
    "<script>(function(){var q=document.getElementById('q'),s=document.getElementById('status-filter');\
function f(){var t=q.value.toLowerCase(),v=s.value;document.querySelectorAll('#runs tbody tr').forEach(function(r){\
r.hidden=!((!t||r.dataset.search.indexOf(t)>=0)&&(!v||r.dataset.status===v));});}\
q.addEventListener('input',f);s.addEventListener('change',f);})();</script>";

/// The index of runs.
pub fn render_index(runs: &[RunSummary], redactor: &Redactor) -> String {
    let t = |s: &str| escape(&redactor.redact(s));
    let mut b = format!(
        "<h1>osiris runs</h1><p>{} runs. <input id=\"q\" placeholder=\"filter: pipeline or run id\">\
<select id=\"status-filter\"><option value=\"\">any status</option><option>success</option><option>failed</option>\
<option>cancelled</option><option>running</option></select></p>\
<table id=\"runs\"><thead><tr><th>run</th><th>pipeline</th><th>status</th><th>started</th><th>ms</th><th>rows</th><th>steps</th></tr></thead><tbody>",
        runs.len()
    );
    for r in runs {
        let _ = write!(
            b,
            "<tr data-status=\"{status}\" data-search=\"{search}\"><td><a href=\"{id}/index.html\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}/{}</td></tr>",
            t(&r.pipeline),
            badge(&r.status),
            t(r.started_at.as_deref().unwrap_or("-")),
            r.duration_ms,
            r.total_rows,
            r.steps_ok(),
            r.steps.len(),
            id = t(&r.run_id),
            status = t(&r.status),
            search = t(&format!("{} {}", r.pipeline, r.run_id).to_lowercase()),
        );
    }
    b.push_str("</tbody></table>");
    b.push_str(FILTER_SCRIPT);
    redactor.redact(&page("osiris runs", &b))
}

/// Write the index and the page of every run `filter` selects under `out`. A finished run's
/// page newer than its `status.json` is kept unless `force`.
pub fn write_report(
    runs_dir: &Path,
    out: &Path,
    filter: &Filter,
    redactor: &Redactor,
    force: bool,
) -> std::io::Result<ReportWritten> {
    let runs = history::list(runs_dir, filter);
    std::fs::create_dir_all(out)?;
    let mut written = 0;
    let mut kept = 0;
    for run in &runs {
        let dir = out.join(&run.run_id);
        let page_path = dir.join("index.html");
        if !force && run.status != "running" && is_newer(&page_path, &run.run_dir.join("status.json")) {
            kept += 1;
            continue;
        }
        std::fs::create_dir_all(&dir)?;
        let html = render_run(run, &previews(run), redactor);
        crate::runtime::write_replacing(&page_path, &html)?;
        written += 1;
    }
    let index = out.join("index.html");
    crate::runtime::write_replacing(&index, render_index(&runs, redactor))?;
    Ok(ReportWritten { index, pages_written: written, pages_kept: kept })
}

/// Write the page of one run to `out/<run_id>/index.html` (always re-rendered).
pub fn write_run_page(run: &RunSummary, out: &Path, redactor: &Redactor) -> std::io::Result<PathBuf> {
    let dir = out.join(&run.run_id);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("index.html");
    crate::runtime::write_replacing(&path, render_run(run, &previews(run), redactor))?;
    Ok(path)
}

fn is_newer(a: &Path, b: &Path) -> bool {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((m(a), m(b)), (Some(x), Some(y)) if x >= y)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
