//! Paging HTTP sources: a guard against servers that hand out the same page again (ignoring the
//! offset or seek condition they were sent), which would page forever and fill the disk with
//! copies; and the fetcher/loader pair that overlaps the next request with the last page's load.

use super::DriverError;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::mpsc::SyncSender;

/// Remembers the previous page by a fingerprint of the rows it is given: a whole page where
/// rows may repeat (REST without an order), the first and last row where each row carries a
/// unique id (PostHog).
#[derive(Debug, Default)]
pub(crate) struct PageProgress {
    previous: Option<u64>,
}

impl PageProgress {
    /// Record a page that asks for another one; false when `rows` are the same as the page
    /// before's (the paging does not advance).
    pub(crate) fn advanced<T: serde::Serialize>(&mut self, rows: &[T]) -> bool {
        let mut h = DefaultHasher::new();
        for row in rows {
            serde_json::to_string(row).ok().hash(&mut h);
        }
        let fingerprint = h.finish();
        let same = self.previous == Some(fingerprint);
        self.previous = Some(fingerprint);
        !same
    }
}

/// Run `fetch` on its own thread, handing pages through a channel `depth` deep to `load` on this
/// thread (the one holding the step's DuckDB connection): the server works on the next page while
/// the last one is loaded, and memory holds `depth` + 2 pages. A failed `load` hangs up, so a
/// fetcher waiting to hand over a page stops; a fetcher that panics is an internal error. Returns
/// the loader's failure first, then the fetcher's.
pub(crate) fn fetch_while_loading<T: Send>(
    depth: usize,
    fetch: impl FnOnce(SyncSender<T>) -> Result<(), DriverError> + Send,
    load: impl FnMut(T) -> Result<(), DriverError>,
) -> Result<(), DriverError> {
    std::thread::scope(|scope| {
        let (sender, pages) = std::sync::mpsc::sync_channel::<T>(depth);
        let fetcher = scope.spawn(move || fetch(sender));
        let loaded = pages.iter().try_for_each(load);
        drop(pages);
        let fetched = fetcher.join().unwrap_or_else(|p| {
            Err(DriverError::Internal(format!("the page fetcher panicked: {}", super::panic_message(&*p))))
        });
        loaded.and(fetched)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_same_page_twice_does_not_advance() {
        let mut p = PageProgress::default();
        let a = [json!({"id": 1}), json!({"id": 2})];
        let b = [json!({"id": 3}), json!({"id": 4})];
        assert!(p.advanced(&a));
        assert!(p.advanced(&b));
        assert!(!p.advanced(&b));
    }
}
