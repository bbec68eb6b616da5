//! Typed ids for the rows pith keeps: a file, an item (a photo, a document, a
//! transcript), a chunk (the unit that is indexed and retrieved) and a vector
//! space. All four are SQLite `INTEGER PRIMARY KEY`s; as newtypes they cannot
//! be swapped for one another by accident (an item id passed where a chunk id
//! is meant compiles to nothing useful and used to return the wrong rows).
//!
//! The indexes label points with unsigned integers (`usize` in the HNSW graph,
//! a `u64` fast field in tantivy). [`ChunkId::label`] and
//! [`ChunkId::from_label`] are the only conversions, so those integer types
//! stay inside `index/`. This module imports nothing from the crate.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                self.0.to_sql()
            }
        }

        impl FromSql for $name {
            fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
                i64::column_result(v).map($name)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <i64 as utoipa::PartialSchema>::schema()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

row_id!(
    /// A row of `files`: one path on disk.
    FileId
);
row_id!(
    /// A row of `items`: what a search returns (a photo, a document).
    ItemId
);
row_id!(
    /// A row of `chunks`: the unit the text and vector indexes hold.
    ChunkId
);
row_id!(
    /// A row of `spaces`: one (label, model, dimension) vector space.
    SpaceId
);

impl ChunkId {
    /// The point label in an index. SQLite rowids pith creates are positive,
    /// so the conversion is lossless.
    pub fn label(self) -> usize {
        self.0 as usize
    }

    pub fn from_label(label: usize) -> ChunkId {
        ChunkId(label as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_sqlite_and_json() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let got: ChunkId = c.query_row("SELECT ?1", [ChunkId(42)], |r| r.get(0)).unwrap();
        assert_eq!(got, ChunkId(42));
        assert_eq!(serde_json::to_string(&ItemId(7)).unwrap(), "7");
        assert_eq!(serde_json::from_str::<SpaceId>("3").unwrap(), SpaceId(3));
        assert_eq!(ChunkId::from_label(ChunkId(9).label()), ChunkId(9));
    }
}
