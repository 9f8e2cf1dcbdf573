//! A refresh compared page by page with the last one: pages are parsed only once one differs,
//! so a refresh of an unchanged account costs a hash of its bytes and publishes the very same
//! pools (`Arc::ptr_eq`) as the refresh before.

use crate::batch::{BatchError, ListedPage, Page, PoolSummary};
use std::collections::HashMap;
use std::sync::Arc;

/// Keyed by lower-cased id.
pub type Pools = Arc<HashMap<String, PoolSummary>>;

/// The pools of the last whole listing, and what each of its pages was.
#[derive(Clone, Default)]
pub(super) struct Listed {
    marks: Vec<Mark>,
    pub(super) pools: Pools,
}

/// A page by its bytes' fingerprint, and the next link those bytes hold.
#[derive(Clone)]
struct Mark {
    fingerprint: u64,
    next_link: Option<String>,
}

/// One listing under way.
pub(super) struct Reading {
    last: Option<Listed>,
    marks: Vec<Mark>,
    /// Pages the same as the last listing's so far, kept unparsed in case a later one differs.
    held: Vec<ListedPage>,
    /// Whether a page differed from the last listing's (every page since is parsed at once).
    differs: bool,
    pools: HashMap<String, PoolSummary>,
}

impl Reading {
    pub(super) fn after(last: Option<Listed>) -> Reading {
        Reading { differs: last.is_none(), last, marks: Vec::new(), held: Vec::new(), pools: HashMap::new() }
    }

    /// Takes the next page; its items go to `each` when `want_each` (the first listing shown
    /// page by page), which parses it even when it did not change. Answers its next link.
    pub(super) fn add(
        &mut self,
        page: ListedPage,
        want_each: bool,
        each: impl FnOnce(&[PoolSummary]),
    ) -> Result<Option<String>, BatchError> {
        let fingerprint = page.fingerprint();
        let was = self.last.as_ref().and_then(|last| last.marks.get(self.marks.len()));
        let same = !self.differs && was.is_some_and(|mark| mark.fingerprint == fingerprint);
        if same && !want_each {
            let next_link = was.and_then(|mark| mark.next_link.clone());
            self.marks.push(Mark { fingerprint, next_link: next_link.clone() });
            self.held.push(page);
            return Ok(next_link);
        }
        self.differs |= !same;
        self.parse_held()?;
        let parsed: Page<PoolSummary> = page.parse()?;
        each(&parsed.value);
        self.marks.push(Mark { fingerprint, next_link: parsed.next_link.clone() });
        self.keep(parsed.value);
        Ok(parsed.next_link)
    }

    /// The whole listing: the last one's very pools when every page was the same.
    pub(super) fn finish(mut self) -> Result<Listed, BatchError> {
        let count = self.last.as_ref().map(|last| last.marks.len());
        if let (false, Some(last)) = (self.differs || count != Some(self.marks.len()), self.last.take()) {
            return Ok(Listed { marks: self.marks, pools: last.pools });
        }
        self.parse_held()?;
        Ok(Listed { marks: self.marks, pools: Arc::new(self.pools) })
    }

    fn parse_held(&mut self) -> Result<(), BatchError> {
        for page in std::mem::take(&mut self.held) {
            let parsed: Page<PoolSummary> = page.parse()?;
            self.keep(parsed.value);
        }
        Ok(())
    }

    fn keep(&mut self, pools: Vec<PoolSummary>) {
        self.pools.extend(pools.into_iter().map(|p| (p.id().to_lowercase(), p)));
    }
}
