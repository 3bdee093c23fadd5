//! `posthog.extractor`: events, persons, sessions or person_distinct_ids through the HogQL API,
//! a page at a time, incremental and resumable.
//!
//! Incremental state (committed by the runtime only when the whole run succeeds) holds the last
//! row's timestamp and id and the `(timestamp, id)` of every row within `lookback_window_minutes`
//! of it. The next run reads from `last_timestamp − lookback` (late-ingested rows are picked up)
//! and, with `deduplication_enabled`, skips rows whose id is in that recent set — so rows sharing
//! the boundary timestamp are neither lost nor duplicated. The first run starts at
//! `initial_since`, else 30 days back (persons: from the beginning). `osiris run --full-refresh`
//! ignores the state. Pages are spooled durably (resume.rs), so a killed run continues where it
//! stopped. Retries: 429 honours `Retry-After`, 5xx and connection errors back off (up to 5
//! retries); 401/403 fail at once.

mod client;
mod discover;
mod page;
mod query;
mod resume;

use super::health::{HealthCategory, HealthReport, TableEstimate};
use super::paging::fetch_while_loading;
use super::{Driver, DriverError, Inputs, StepContext, StepOutput};
use crate::components::config::parse;
use crate::components::posthog_extractor::Config;
use crate::connections::ResolvedConnection;
use crate::drivers::streaming::{load_pipe_path, publish, staged_path};
use crate::exchange::chunk_load::{create_lean_view, create_table, push_record};
use crate::exchange::piped_insert::{PipedInsert, PipedInsertError};
use crate::exchange::stream::{PipeFeed, StreamOut};
use crate::exchange::{quote_ident, RelationKind};
use client::HogqlOutline;
pub use client::{Endpoint, PosthogClient, PosthogError};
pub use discover::discover;
use query::{columns, data_type, page_query, DataType, Position, Window, DATA_TYPES};
use resume::{Checkpoint, Spool};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Reads PostHog into the step's table.
pub struct PosthogExtractor;

const HOGQL_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]");
const NAIVE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day][first [T] [ ]][hour]:[minute]:[second][optional [.[subsecond]]]"
);

/// Parse a timestamp as PostHog or a user writes it: RFC 3339, or naive (taken as UTC).
pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .or_else(|| PrimitiveDateTime::parse(s, NAIVE_FORMAT).ok().map(PrimitiveDateTime::assume_utc))
        .or_else(|| {
            time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
                .ok()
                .map(|d| d.midnight().assume_utc())
        })
}

/// A timestamp as a HogQL literal body: UTC, microseconds.
pub fn hogql_timestamp(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC).format(HOGQL_FORMAT).unwrap_or_default()
}

/// The state committed after a successful run.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct State {
    data_type: String,
    last_timestamp: Option<String>,
    last_id: Option<String>,
    #[serde(default)]
    recent: Vec<(String, String)>,
}

struct Settings {
    dt: DataType,
    page_size: u64,
    lookback: Duration,
    dedup: bool,
    event_types: Vec<String>,
    initial_since: Option<OffsetDateTime>,
}

impl Settings {
    fn new(config: &Config) -> Result<Self, DriverError> {
        let name = config.data_type.as_str();
        let dt = data_type(name).ok_or_else(|| {
            DriverError::Config(format!("data_type `{name}` is not one of {}", DATA_TYPES.map(|d| d.name).join(", ")))
        })?;
        let initial_since = match config.initial_since.as_deref() {
            Some(s) => Some(parse_timestamp(s).ok_or_else(|| {
                DriverError::Config(format!(
                    "initial_since `{s}` is not an ISO-8601 timestamp (e.g. 2024-01-01T00:00:00Z)"
                ))
            })?),
            None => None,
        };
        Ok(Self {
            dt,
            page_size: config.page_size.clamp(1, 10_000),
            lookback: Duration::from_secs(60 * config.lookback_window_minutes),
            dedup: config.deduplication_enabled,
            event_types: config.event_types.clone().unwrap_or_default(),
            initial_since,
        })
    }

    /// The window of a fresh read given the committed state.
    fn window(&self, state: Option<&State>, now: OffsetDateTime) -> Window {
        let last = state.and_then(|s| s.last_timestamp.as_deref()).and_then(parse_timestamp);
        let since = match (last, self.initial_since) {
            (Some(l), _) => Some(l - self.lookback),
            (None, Some(i)) => Some(i),
            (None, None) if self.dt.windowed => Some(now - Duration::from_secs(30 * 86_400)),
            (None, None) => None,
        };
        Window { since: since.map(hogql_timestamp), until: hogql_timestamp(now), event_types: self.event_types.clone() }
    }
}

/// One extraction in progress.
struct Extraction<'a> {
    ctx: &'a StepContext<'a>,
    settings: Settings,
    spool: Spool,
    checkpoint: Checkpoint,
    seen: HashSet<String>,
    last: Option<(String, String)>,
    /// This run's kept rows within the lookback of the newest, when every page passes through here.
    window: Option<RecentWindow>,
    /// A streamed edge still to open (its view needs the columns, known from the first page).
    stream: Option<&'a StreamOut>,
    /// Where pages go besides the spool while they arrive, once open.
    pipe: Option<PagePipe<'a>>,
    /// Set once the step's table exists (its load started).
    table_made: bool,
}

/// Where pages go besides the spool while they arrive.
enum PagePipe<'a> {
    /// The streamed edge the one writer reads.
    Writer(PipeFeed<'a>),
    /// The load of the step's table (when its relation must be a table).
    Table(PipedInsert),
}

impl PagePipe<'_> {
    fn send(&mut self, chunk: &[u8]) {
        match self {
            Self::Writer(feed) => feed.send(chunk),
            Self::Table(load) => load.send(chunk),
        }
    }

    /// End the rows (with `succeeded` false, with a record that fails the reader) and wait for
    /// the reader to finish; fails when the table's load did.
    fn finish(self, succeeded: bool) -> Result<(), DriverError> {
        match self {
            Self::Writer(feed) => {
                feed.finish(succeeded);
                Ok(())
            }
            Self::Table(load) => load.finish(succeeded).map(|_| ()).map_err(piped_insert_error),
        }
    }
}

fn piped_insert_error(e: PipedInsertError) -> DriverError {
    match e {
        PipedInsertError::Pipe { .. } => DriverError::at_source(e.to_string()),
        other => DriverError::sql(other.to_string()),
    }
}

/// `(timestamp, id)` of the rows loaded within the lookback window of the newest one.
#[derive(Default)]
struct RecentWindow {
    rows: std::collections::VecDeque<(OffsetDateTime, String)>,
}

impl RecentWindow {
    /// Forget the rows older than `lookback` before the newest (rows arrive in timestamp order).
    fn trim(&mut self, lookback: Duration) {
        let Some(&(newest, _)) = self.rows.back() else { return };
        while self.rows.front().is_some_and(|(t, _)| *t < newest - lookback) {
            self.rows.pop_front();
        }
    }
}

impl<'a> Extraction<'a> {
    /// Open the pipe the pages go through besides the spool, once the columns are known: a
    /// streamed edge's (the step's view reads it and its writer starts), or, when the relation
    /// must be a table, the table's load. Writing or loading then overlaps the extraction instead
    /// of following it. A resumed run first sends the pages spooled before the interruption.
    fn open_stream(&mut self) -> Result<(), DriverError> {
        if self.checkpoint.columns.is_empty() {
            return Ok(());
        }
        let (ctx, columns) = (self.ctx, &self.checkpoint.columns);
        let pipe = if let Some(out) = self.stream.take() {
            self.pipe.insert(PagePipe::Writer(publish(ctx, out, columns)?))
        } else if ctx.materialize && !self.table_made {
            // The step's table, filled through a pipe (exchange::piped_insert).
            create_table(ctx.conn, ctx.step_id, columns).map_err(|e| DriverError::sql(e.to_string()))?;
            self.table_made = true;
            let fifo = load_pipe_path(ctx.run_dir, ctx.step_id);
            let load = PipedInsert::start(ctx.conn, ctx.step_id, columns, fifo, Some(ctx.block_cache.clone()))
                .map_err(piped_insert_error)?;
            self.pipe.insert(PagePipe::Table(load))
        } else {
            return Ok(());
        };
        if self.checkpoint.bytes > 0 {
            self.spool
                .replay(self.checkpoint.bytes, |chunk| pipe.send(chunk))
                .map_err(|e| DriverError::at_source(format!("cannot read the resume spool: {e}")))?;
        }
        Ok(())
    }

    /// End the pipe, if one is open: its reader gets the end of the rows (or, when the extraction
    /// failed, a record that fails it) and has finished when this returns. Fails when the table's
    /// load did.
    fn close_stream(&mut self, succeeded: bool) -> Result<(), DriverError> {
        self.pipe.take().map_or(Ok(()), |pipe| pipe.finish(succeeded))
    }

    /// The step's relation once every page is in the spool: a view over the spool (moved into
    /// the run dir, which keeps it) when one consumer reads it, the spool being the only copy of
    /// the rows (a view over a streamed edge's pipe is replaced); else the table loaded while
    /// pages arrived, or, when none was (no page came), an empty one.
    fn finish(&self) -> Result<RelationKind, DriverError> {
        let (ctx, columns) = (self.ctx, &self.checkpoint.columns);
        let spooled = self.spool.pages();
        let sql = |e: duckdb::Error| DriverError::sql(e.to_string());
        if !ctx.materialize && self.checkpoint.rows > 0 {
            let staged = staged_path(ctx.run_dir, ctx.step_id);
            let io = |e: std::io::Error| DriverError::at_source(format!("cannot stage {}: {e}", staged.display()));
            std::fs::create_dir_all(staged.parent().unwrap_or(ctx.run_dir)).map_err(io)?;
            if std::fs::rename(&spooled, &staged).is_err() {
                // Another file system: copy (the spool goes with the resume directory).
                std::fs::copy(&spooled, &staged).map_err(io)?;
            }
            create_lean_view(ctx.conn, ctx.step_id, columns, &staged).map_err(sql)?;
            return Ok(RelationKind::View);
        }
        if self.table_made {
            return Ok(RelationKind::Table);
        }
        ctx.conn.execute_batch(&format!("DROP VIEW IF EXISTS {}", quote_ident(ctx.step_id))).map_err(sql)?;
        create_table(ctx.conn, ctx.step_id, columns).map_err(sql)?;
        Ok(RelationKind::Table)
    }

    /// Turn a fetched page into spooled and loaded rows, in order.
    fn load_page(&mut self, page: Fetched) -> Result<(), DriverError> {
        let answer: page::HogqlPage = serde_json::from_slice(&page.body)
            .map_err(|e| DriverError::at_source(format!("unusable HogQL answer: {e}")))?;
        if self.checkpoint.columns.is_empty() {
            self.checkpoint.columns = columns(&self.settings.dt, &answer.columns, &answer.types);
            self.open_stream()?;
        }
        let id_index = answer.columns.iter().position(|c| c == self.settings.dt.id);
        let ts_index = self.settings.dt.timestamp.and_then(|ts| answer.columns.iter().position(|c| c == ts));
        let mut chunk = String::with_capacity(answer.results.len() * 128);
        let mut kept = 0u64;
        for row in &answer.results {
            let id = id_index.and_then(|i| row.get(i)).and_then(page::Cell::text);
            if self.settings.dedup && id.is_some_and(|id| self.seen.contains(id)) {
                self.checkpoint.deduplicated += 1;
                continue;
            }
            push_record(&mut chunk, row.iter().map(page::Cell::text));
            kept += 1;
            if let (Some(window), Some(id)) = (self.window.as_mut(), id) {
                let t = ts_index.and_then(|i| row.get(i)).and_then(page::Cell::text).and_then(parse_timestamp);
                if let Some(t) = t {
                    window.rows.push_back((t, id.to_string()));
                }
            }
        }
        if let Some(window) = self.window.as_mut() {
            window.trim(self.settings.lookback);
        }
        self.last = page.last;
        self.checkpoint.pages += 1;
        self.checkpoint.position = page.position;
        self.checkpoint.bytes += chunk.len() as u64;
        self.checkpoint.rows += kept;
        // The writer gets the page first: a spool that then fails to commit fails the step, and
        // the writer with it.
        if let Some(pipe) = self.pipe.as_mut() {
            pipe.send(chunk.as_bytes());
        }
        self.spool
            .commit(chunk.as_bytes(), &self.checkpoint)
            .map_err(|e| DriverError::at_source(format!("cannot write the resume spool: {e}")))?;
        self.ctx.telemetry.event(
            "extraction.page",
            Some(self.ctx.step_id),
            json!({"page": self.checkpoint.pages, "rows": kept, "rows_total": self.checkpoint.rows}),
        );
        Ok(())
    }
}

/// A page as the fetcher hands it on: the answer's body (parsed by the loader, off the path of
/// the next request) and where the read stands after it.
struct Fetched {
    body: Vec<u8>,
    /// The seek position after this page.
    position: Position,
    /// The last `(timestamp, id)` read so far.
    last: Option<(String, String)>,
}

/// Where the fetcher starts and what it needs: everything the next request depends on, which
/// is known as soon as a page's answer is parsed (its last row), so the next page is requested
/// while the loader is still spooling and loading the last one.
struct Pager<'a> {
    client: &'a PosthogClient,
    dt: DataType,
    page_size: u64,
    window: Window,
    position: Position,
    last: Option<(String, String)>,
    pages: u64,
    progress: crate::drivers::paging::PageProgress,
}

impl Pager<'_> {
    /// Fetch pages in order until a short page, handing each to `out`; stops early when the
    /// loader hangs up (it failed).
    fn run(
        mut self,
        cancel: &std::sync::atomic::AtomicBool,
        mut on_retry: impl FnMut(&str, Duration),
        out: std::sync::mpsc::SyncSender<Fetched>,
    ) -> Result<(), DriverError> {
        loop {
            let q = page_query(&self.dt, &self.window, &self.position, self.page_size);
            let body = self.client.query_bytes(&q, cancel, &mut on_retry).map_err(|e| match e {
                PosthogError::Cancelled => DriverError::Cancelled,
                other => DriverError::at_source(other.to_string()),
            })?;
            let unusable = |e: serde_json::Error| DriverError::at_source(format!("unusable HogQL answer: {e}"));
            let outline: HogqlOutline = serde_json::from_slice(&body).map_err(unusable)?;
            let row = |raw: &serde_json::value::RawValue| serde_json::from_str::<Vec<Value>>(raw.get());
            let full = outline.results.len() as u64 >= self.page_size;
            if full {
                let ends = [outline.results.first(), outline.results.last()];
                let ends: Vec<Vec<Value>> =
                    ends.into_iter().flatten().map(|r| row(r)).collect::<Result<_, _>>().map_err(unusable)?;
                if !self.progress.advanced(&ends) {
                    return Err(DriverError::at_source(format!(
                        "PostHog answered page {} with the rows of the page before: the paging does not advance, so the extraction stops instead of looping",
                        self.pages + 1
                    )));
                }
            }
            let index = |name: &str| outline.columns.iter().position(|c| c == name);
            let ts_index = self.dt.timestamp.and_then(index);
            let id_index = index(self.dt.id);
            let mut last_row = None;
            for raw in outline.results.iter().rev() {
                let row = row(raw).map_err(unusable)?;
                let id = id_index.and_then(|i| row.get(i)).and_then(page::value_text);
                let ts = ts_index.and_then(|i| row.get(i)).and_then(Value::as_str).and_then(parse_timestamp);
                if let (Some(id), Some(ts)) = (id, ts) {
                    last_row = Some((hogql_timestamp(ts), id));
                    break;
                }
            }
            let fetched = outline.results.len() as u64;
            drop(outline);
            if last_row.is_some() {
                self.last = last_row;
            }
            self.pages += 1;
            self.position = match (&self.position, &self.last, self.dt.timestamp) {
                (_, Some((t, id)), Some(_)) => Position::After { timestamp: t.clone(), id: id.clone() },
                (Position::Offset(o), _, None) => Position::Offset(o + fetched),
                (Position::Start, _, None) => Position::Offset(fetched),
                (p, _, _) => p.clone(),
            };
            let page = Fetched { body, position: self.position.clone(), last: self.last.clone() };
            if out.send(page).is_err() || !full {
                return Ok(());
            }
            if cancel.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(DriverError::Cancelled);
            }
        }
    }
}

/// The `(timestamp, id)` pairs within the lookback window of `last` for the next run's dedup:
/// this run's rows and the still-recent pairs of the previous state (rows this run skipped as
/// duplicates are among them). This run's rows come from the window kept while pages loaded, or,
/// after a resume (earlier pages were loaded by another process), are read back from the relation.
fn recent_rows(
    ctx: &StepContext,
    settings: &Settings,
    ts_column: &str,
    last: &str,
    previous: Option<&State>,
    window: Option<RecentWindow>,
) -> Result<Vec<(String, String)>, DriverError> {
    let cutoff = parse_timestamp(last)
        .map(|t| t - settings.lookback)
        .ok_or_else(|| DriverError::at_source(format!("bad timestamp {last}")))?;
    let mut recent: Vec<(String, String)> = previous
        .map(|p| p.recent.iter().filter(|(t, _)| parse_timestamp(t).is_some_and(|t| t >= cutoff)).cloned().collect())
        .unwrap_or_default();
    if let Some(window) = window {
        recent.extend(window.rows.into_iter().filter(|(t, _)| *t >= cutoff).map(|(t, id)| (hogql_timestamp(t), id)));
        return Ok(recent);
    }
    let cutoff_us = (cutoff.unix_timestamp_nanos() / 1000) as i64;
    let sql = format!(
        "SELECT epoch_us({ts}), CAST({id} AS VARCHAR) FROM {table} WHERE epoch_us({ts}) >= ? ORDER BY 1",
        ts = quote_ident(ts_column),
        id = quote_ident(settings.dt.id),
        table = quote_ident(ctx.step_id)
    );
    let mut stmt = ctx.conn.prepare(&sql).map_err(|e| DriverError::sql(e.to_string()))?;
    let rows = stmt
        .query_map([cutoff_us], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .map_err(|e| DriverError::sql(e.to_string()))?;
    for row in rows {
        let (us, id) = row.map_err(|e| DriverError::sql(e.to_string()))?;
        let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
            .map_err(|e| DriverError::at_source(e.to_string()))?;
        recent.push((hogql_timestamp(t), id));
    }
    Ok(recent)
}

/// What a resume spool belongs to: the same project, data type, filter and dedup setting.
fn fingerprint(config: &Config) -> String {
    format!(
        "{}|{:?}|{}|{}|{:?}|{}",
        config.project_id.as_deref().unwrap_or_default(),
        config.region,
        config.custom_base_url.as_deref().unwrap_or_default(),
        config.data_type.as_str(),
        config.event_types.clone().unwrap_or_default(),
        config.deduplication_enabled
    )
}

impl Driver for PosthogExtractor {
    fn keeps_state(&self) -> bool {
        true
    }

    /// One consumer reads the spooled pages through a view (`Extraction::finish`).
    fn can_be_view(&self) -> bool {
        true
    }

    fn view_reads_staged_rows(&self) -> bool {
        true
    }

    /// Pages go to a writer that reads only this step while they arrive (`Extraction::open_stream`).
    fn can_stream(&self) -> bool {
        true
    }

    fn run(&self, ctx: &StepContext, config: &Map<String, Value>, _inputs: &Inputs) -> Result<StepOutput, DriverError> {
        let config: Config = parse(config).map_err(DriverError::Config)?;
        let settings = Settings::new(&config)?;
        let client = PosthogClient::new(&Endpoint::of(&config), ctx.connection, Duration::from_secs(30))
            .map_err(DriverError::Config)?;
        let state: Option<State> = ctx
            .state
            .and_then(|v| serde_json::from_value::<State>(v.clone()).ok())
            .filter(|s| s.data_type == settings.dt.name);
        let seen: HashSet<String> = state.iter().flat_map(|s| s.recent.iter().map(|(_, id)| id.clone())).collect();
        let spool = Spool::new(ctx.resume_dir);
        let print = fingerprint(&config);
        let resumed = spool.resume(&print);
        let checkpoint = resumed.clone().unwrap_or_else(|| Checkpoint {
            fingerprint: print,
            window: settings.window(state.as_ref(), OffsetDateTime::now_utc()),
            position: Position::Start,
            columns: Vec::new(),
            bytes: 0,
            rows: 0,
            pages: 0,
            deduplicated: 0,
        });
        let last = match &checkpoint.position {
            Position::After { timestamp, id } => Some((timestamp.clone(), id.clone())),
            _ => None,
        };
        // Rows arrive in timestamp order, so the dedup window can be kept as pages load, unless
        // earlier pages were loaded by the run that was interrupted.
        let window = (resumed.is_none() && settings.dt.timestamp.is_some()).then(RecentWindow::default);
        let mut run = Extraction {
            ctx,
            settings,
            spool,
            checkpoint,
            seen,
            last,
            window,
            stream: ctx.stream,
            pipe: None,
            table_made: false,
        };
        let result = (|| {
            if let Some(c) = &resumed {
                // The spooled pages stay where they are; the relation is made from the spool.
                ctx.telemetry.event("extraction.resumed", Some(ctx.step_id), json!({"pages": c.pages, "rows": c.rows}));
            }
            run.open_stream()?;
            let pager = Pager {
                client: &client,
                dt: run.settings.dt,
                page_size: run.settings.page_size,
                window: run.checkpoint.window.clone(),
                position: run.checkpoint.position.clone(),
                last: run.last.clone(),
                pages: run.checkpoint.pages,
                progress: Default::default(),
            };
            let (telemetry, step_id, cancel) = (ctx.telemetry, ctx.step_id, ctx.cancel);
            // One page waiting besides the one being spooled and the one being fetched: the
            // spool's fsync must not hold back the next request.
            fetch_while_loading(
                1,
                move |sender| pager.run(cancel, super::retry_event(telemetry, step_id, None), sender),
                |page| run.load_page(page),
            )
        })();
        let closed = run.close_stream(result.is_ok());
        let relation = match result.and(closed).and_then(|()| run.finish()) {
            Ok(relation) => relation,
            Err(e) => {
                ctx.drop_partial_relation();
                return Err(e);
            }
        };
        let rows = run.checkpoint.rows;
        ctx.telemetry.metric("rows_read", (rows + run.checkpoint.deduplicated) as f64, Some(ctx.step_id));
        ctx.telemetry.metric("rows_deduplicated", run.checkpoint.deduplicated as f64, Some(ctx.step_id));
        ctx.telemetry.metric("rows_output", rows as f64, Some(ctx.step_id));
        let new_state = match (run.settings.dt.timestamp, run.last) {
            (None, _) => None,
            (Some(ts_column), Some((ts, id))) => {
                drop(std::mem::take(&mut run.seen));
                let recent = recent_rows(ctx, &run.settings, ts_column, &ts, state.as_ref(), run.window.take())?;
                Some(State {
                    data_type: run.settings.dt.name.into(),
                    last_timestamp: Some(ts),
                    last_id: Some(id),
                    recent,
                })
            }
            // Nothing new: the committed state stays as it was.
            (Some(_), None) => state,
        };
        Ok(StepOutput {
            relation: Some(relation),
            rows: Some(rows),
            state: new_state.map(|s| serde_json::to_value(s).unwrap_or(Value::Null)),
        })
    }
}

/// Health check for `connections doctor`: a `SELECT 1` (key accepted, project reachable) and the
/// data types with row estimates.
pub fn doctor(connection: &ResolvedConnection) -> HealthReport {
    let client = match connection
        .fields_as::<Endpoint>()
        .and_then(|e| PosthogClient::new(&e, Some(connection), Duration::from_secs(5)))
    {
        Ok(c) => c.with_retries(0),
        Err(e) => return HealthReport::failure(HealthCategory::Config, e),
    };
    let never = std::sync::atomic::AtomicBool::new(false);
    let started = std::time::Instant::now();
    if let Err(e) = client.query("SELECT 1", &never, |_, _| {}) {
        let category = match e {
            PosthogError::Auth(_) => HealthCategory::Auth,
            PosthogError::NotFound(_) => HealthCategory::Config,
            _ => HealthCategory::Network,
        };
        return HealthReport::failure(category, e.to_string()).timed(started);
    }
    let latency_ms = started.elapsed().as_millis() as u64;
    let tables = DATA_TYPES
        .iter()
        .map(|d| TableEstimate {
            schema: None,
            table: d.name.to_string(),
            estimated_rows: client
                .query(&format!("SELECT count() FROM {}", d.table), &never, |_, _| {})
                .ok()
                .and_then(|a| a.results.first().and_then(|r| r.first()).and_then(Value::as_u64)),
        })
        .collect();
    HealthReport {
        latency_ms: Some(latency_ms),
        tables,
        ..HealthReport::success(format!("HogQL answered in {latency_ms} ms"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_in_every_form_posthog_sends_and_format_with_microseconds() {
        for s in ["2024-01-05T10:00:00.123456Z", "2024-01-05T12:00:00.123456+02:00", "2024-01-05 10:00:00.123456"] {
            assert_eq!(hogql_timestamp(parse_timestamp(s).unwrap()), "2024-01-05 10:00:00.123456", "{s}");
        }
        assert_eq!(hogql_timestamp(parse_timestamp("2024-01-05").unwrap()), "2024-01-05 00:00:00.000000");
        assert!(parse_timestamp("yesterday").is_none());
    }
}
