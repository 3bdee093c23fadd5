//! A guard against servers that hand out the same page again (ignoring the offset or seek
//! condition they were sent), which would page forever and fill the disk with copies.

use std::hash::{DefaultHasher, Hash, Hasher};

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
