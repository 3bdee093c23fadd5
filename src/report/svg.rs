//! The report's two drawings, as inline SVG text: the DAG (steps coloured by status, edges marked
//! table / view / streamed) and the timeline (one bar per step from its start to its end, so
//! parallel branches show as overlapping bars).

use super::history::{RunSummary, StepSummary};
use super::html::escape;
use std::collections::HashMap;
use std::fmt::Write;

const NODE_W: usize = 170;
const NODE_H: usize = 40;
const COL_GAP: usize = 60;
const ROW_GAP: usize = 18;

/// Fill colour of a step by status.
pub fn status_colour(status: &str) -> &'static str {
    match status {
        "success" => "#2e7d32",
        "failed" => "#c62828",
        "cancelled" => "#6d4c41",
        "running" => "#1565c0",
        _ => "#9e9e9e",
    }
}

/// Column of each step: the length of the longest chain of `needs` leading to it.
fn layers(steps: &[StepSummary]) -> Vec<usize> {
    let index: HashMap<&str, usize> = steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    let mut layer = vec![0usize; steps.len()];
    // Steps are in execution (topological) order, so one pass settles every column.
    for (i, s) in steps.iter().enumerate() {
        layer[i] = s.needs.iter().filter_map(|n| index.get(n.as_str())).map(|&j| layer[j] + 1).max().unwrap_or(0);
    }
    layer
}

/// The pipeline as a left-to-right graph.
pub fn dag(run: &RunSummary) -> String {
    let layer = layers(&run.steps);
    let mut row_in_layer = vec![0usize; run.steps.len()];
    let mut rows_per_layer: HashMap<usize, usize> = HashMap::new();
    for (i, &l) in layer.iter().enumerate() {
        let r = rows_per_layer.entry(l).or_default();
        row_in_layer[i] = *r;
        *r += 1;
    }
    let cols = layer.iter().max().map_or(1, |m| m + 1);
    let rows = rows_per_layer.values().max().copied().unwrap_or(1);
    let width = cols * (NODE_W + COL_GAP) + 20;
    let height = rows * (NODE_H + ROW_GAP) + 20;
    let pos = |i: usize| (10 + layer[i] * (NODE_W + COL_GAP), 10 + row_in_layer[i] * (NODE_H + ROW_GAP));
    let index: HashMap<&str, usize> = run.steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"dag\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"pipeline graph\">\
<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0L10,5L0,10z\" fill=\"#555\"/></marker></defs>"
    );
    for (to, step) in run.steps.iter().enumerate() {
        for need in &step.needs {
            let Some(&from) = index.get(need.as_str()) else { continue };
            let producer = &run.steps[from];
            let kind = if producer.streams_to.as_deref() == Some(step.id.as_str()) {
                "streamed"
            } else {
                producer.relation.as_deref().unwrap_or("table")
            };
            let (x1, y1) = pos(from);
            let (x2, y2) = pos(to);
            let (x1, y1, x2, y2) = (x1 + NODE_W, y1 + NODE_H / 2, x2, y2 + NODE_H / 2);
            let dash = match kind {
                "view" => " stroke-dasharray=\"6 4\"",
                "streamed" => " stroke-dasharray=\"2 3\" stroke-width=\"2.5\"",
                _ => "",
            };
            let _ = write!(
                svg,
                "<g class=\"edge\" data-kind=\"{kind}\"><line x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" stroke=\"#555\"{dash} marker-end=\"url(#arrow)\"/>\
<text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#333\" text-anchor=\"middle\">{kind}</text></g>",
                (x1 + x2) / 2,
                (y1 + y2) / 2 - 4
            );
        }
    }
    for (i, s) in run.steps.iter().enumerate() {
        let (x, y) = pos(i);
        let label: String = s.id.chars().take(22).collect();
        let _ = write!(
            svg,
            "<g class=\"node\" data-step=\"{id}\" data-status=\"{status}\"><title>{id} ({component}): {status}</title>\
<rect x=\"{x}\" y=\"{y}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"6\" fill=\"{fill}\"/>\
<text x=\"{tx}\" y=\"{ty}\" font-size=\"12\" fill=\"#fff\" text-anchor=\"middle\">{label}</text>\
<text x=\"{tx}\" y=\"{ty2}\" font-size=\"9\" fill=\"#eee\" text-anchor=\"middle\">{status}</text></g>",
            id = escape(&s.id),
            component = escape(&s.component),
            status = escape(&s.status),
            fill = status_colour(&s.status),
            tx = x + NODE_W / 2,
            ty = y + 17,
            ty2 = y + 31,
            label = escape(&label),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One bar per step on a shared time axis.
pub fn timeline(run: &RunSummary) -> String {
    const LABEL_W: usize = 180;
    const PLOT_W: usize = 640;
    const BAR_H: usize = 18;
    let end = run
        .steps
        .iter()
        .filter_map(|s| s.started_ms.map(|b| b + s.duration_ms))
        .max()
        .unwrap_or(0)
        .max(run.duration_ms)
        .max(1);
    let height = run.steps.len() * (BAR_H + 6) + 30;
    let width = LABEL_W + PLOT_W + 20;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"step timeline\">"
    );
    for tick in 0..=4 {
        let x = LABEL_W + PLOT_W * tick / 4;
        let _ = write!(
            svg,
            "<line x1=\"{x}\" y1=\"0\" x2=\"{x}\" y2=\"{}\" stroke=\"#ddd\"/><text x=\"{x}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#555\">{} ms</text>",
            height - 16,
            height - 4,
            end as usize * tick / 4
        );
    }
    for (i, s) in run.steps.iter().enumerate() {
        let y = 4 + i * (BAR_H + 6);
        let label: String = s.id.chars().take(26).collect();
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            LABEL_W - 6,
            y + 13,
            escape(&label)
        );
        let Some(start) = s.started_ms else { continue };
        let x = LABEL_W + (start as usize * PLOT_W) / end as usize;
        let w = ((s.duration_ms as usize * PLOT_W) / end as usize).max(2);
        let _ = write!(
            svg,
            "<rect class=\"bar\" data-step=\"{id}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{BAR_H}\" rx=\"3\" fill=\"{}\"><title>{id}: {start}–{} ms</title></rect>",
            status_colour(&s.status),
            start + s.duration_ms,
            id = escape(&s.id),
        );
    }
    svg.push_str("</svg>");
    svg
}
