//! Schema migrations from `migrations/*.sql`, applied in order and tracked in
//! SQLite's `user_version`, each in its own transaction.

use rusqlite::Connection;

use crate::error::Result;

const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/0001_init.sql"),
    include_str!("../../../migrations/0002_roots.sql"),
    include_str!("../../../migrations/0003_space_identity.sql"),
    include_str!("../../../migrations/0004_space_codecs.sql"),
    include_str!("../../../migrations/0005_default_graph.sql"),
    include_str!("../../../migrations/0006_settings.sql"),
    include_str!("../../../migrations/0007_query_log.sql"),
    include_str!("../../../migrations/0008_sentences.sql"),
    include_str!("../../../migrations/0009_token_bits.sql"),
    include_str!("../../../migrations/0010_pages.sql"),
    include_str!("../../../migrations/0011_xrag.sql"),
];

pub fn migrate(conn: &mut Connection) -> Result<()> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
