//! `posthog.extractor`: events, persons, sessions or person_distinct_ids through PostHog's HogQL
//! API, incremental and resumable. This folder is the component: its spec and typed config. The
//! extraction (paging, dedup window, resume spool, state) is the PostHog family's, in
//! `crate::drivers::posthog`, beside the client, the health check and discovery that share it.

use crate::components::config::text_or_number;
pub use crate::drivers::posthog::PosthogExtractor;
use serde::Deserialize;

/// The step's config (spec.yaml has the descriptions and defaults). `api_key` comes from the
/// connection only and is never part of it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Numeric project id (usually from the connection; text or a number).
    #[serde(default, deserialize_with = "text_or_number")]
    pub project_id: Option<String>,
    /// PostHog cloud region, or self-hosted.
    pub region: Region,
    /// Base URL of a self-hosted PostHog.
    pub custom_base_url: Option<String>,
    /// What to extract.
    pub data_type: DataTypeName,
    /// Event names to keep (events only).
    pub event_types: Option<Vec<String>>,
    /// Minutes re-read before the last cursor.
    pub lookback_window_minutes: u64,
    /// ISO-8601 start of the first run.
    pub initial_since: Option<String>,
    /// Rows per HogQL page.
    pub page_size: u64,
    /// Drop events already seen (by id).
    pub deduplication_enabled: bool,
}

/// Where the API lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    /// `https://us.posthog.com` (the spec's default).
    #[default]
    Us,
    /// `https://eu.posthog.com`.
    Eu,
    /// `custom_base_url`.
    SelfHosted,
}

/// The data types the extractor reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataTypeName {
    /// The events table.
    Events,
    /// Persons.
    Persons,
    /// Sessions.
    Sessions,
    /// Distinct id → person.
    PersonDistinctIds,
}

impl DataTypeName {
    /// The name as the spec and HogQL table list write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Persons => "persons",
            Self::Sessions => "sessions",
            Self::PersonDistinctIds => "person_distinct_ids",
        }
    }
}
