//! Cursor pagination: `?limit=` (1..200, default 50) and an opaque `?cursor=`.
//!
//! Lists are ordered by id, and ids are UUID v7, so "the rows after this id" is a stable,
//! index-backed keyset page that never skips or repeats a row when others are inserted.
//!
//! Written here rather than taken from a crate: the store pages with sea-orm (`id > after`), and
//! what is left is the cursor a client holds, the opaque encoding of the last id it was shown
//! (no filter, no tenant), parsed and checked as any input is: a few lines no crate saves.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

/// How many rows one page holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageLimit(u64);

/// Why a limit was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be between 1 and 200")]
pub struct LimitError;

impl PageLimit {
    /// The default page size.
    pub const DEFAULT: Self = Self(50);
    /// The largest page a client may ask for.
    pub const MAX: u64 = 200;

    /// Parses `?limit=`; absent means the default.
    ///
    /// # Errors
    /// [`LimitError`] outside 1..=200.
    pub fn parse(raw: Option<u64>) -> Result<Self, LimitError> {
        match raw {
            None => Ok(Self::DEFAULT),
            Some(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            Some(_) => Err(LimitError),
        }
    }

    /// The page size.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// Where the next page starts: after the row with this id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The last id of the previous page.
    pub after: Uuid,
}

/// A cursor that this service did not issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("is not a cursor this service issued")]
pub struct CursorError;

const CURSOR_VERSION: u8 = 1;

impl Cursor {
    /// The opaque text form handed to clients.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(17);
        bytes.push(CURSOR_VERSION);
        bytes.extend_from_slice(self.after.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Parses a cursor a client sent back.
    ///
    /// # Errors
    /// [`CursorError`] for anything this service did not issue.
    pub fn decode(raw: &str) -> Result<Self, CursorError> {
        if raw.len() > 64 {
            return Err(CursorError);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| CursorError)?;
        match bytes.split_first() {
            Some((&CURSOR_VERSION, rest)) => {
                let id = Uuid::from_slice(rest).map_err(|_| CursorError)?;
                Ok(Self { after: id })
            }
            _ => Err(CursorError),
        }
    }
}

/// Cuts a page fetched with `limit + 1` rows: the extra row only tells that more exist.
pub fn into_page<T>(mut rows: Vec<T>, limit: PageLimit, id_of: impl Fn(&T) -> Uuid) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit.get()).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(|row| Cursor { after: id_of(row) }.encode());
        (rows, next)
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn limits_default_and_bound() {
        assert_eq!(PageLimit::parse(None), Ok(PageLimit(50)));
        assert_eq!(PageLimit::parse(Some(1)), Ok(PageLimit(1)));
        assert_eq!(PageLimit::parse(Some(200)), Ok(PageLimit(200)));
        assert_eq!(PageLimit::parse(Some(0)), Err(LimitError));
        assert_eq!(PageLimit::parse(Some(201)), Err(LimitError));
    }

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let cursor = Cursor { after: Uuid::now_v7() };
        assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
        assert_eq!(Cursor::decode("not-a-cursor"), Err(CursorError));
        assert_eq!(Cursor::decode(""), Err(CursorError));
        assert_eq!(Cursor::decode(&"A".repeat(100)), Err(CursorError));
    }

    #[test]
    fn pages_report_a_next_cursor_only_when_more_rows_exist() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let limit = PageLimit::parse(Some(2)).unwrap_or(PageLimit::DEFAULT);
        let (page, next) = into_page(ids.clone(), limit, |id| *id);
        assert_eq!(page.len(), 2);
        assert_eq!(next.map(|c| Cursor::decode(&c)), Some(Ok(Cursor { after: ids[1] })));
        let (page, next) = into_page(ids[..2].to_vec(), limit, |id| *id);
        assert_eq!((page.len(), next), (2, None));
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_text_never_panics(raw in ".{0,100}") {
            let _ = Cursor::decode(&raw);
        }
    }
}
