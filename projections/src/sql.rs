//! Writing projection SQL once for both backends.
//!
//! Projection tables are named at run time, because a rebuild writes into
//! fresh tables (`case_files__r1a2b3c4d`) before swapping them in. SQL is
//! written as a template with `{table}` placeholders and rendered through
//! [`TableNames`].

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, PgConnection, SqliteConnection};

/// An open transaction on either backend, handed to `Projection::apply`.
#[derive(Debug)]
pub enum Tx<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

/// Runs `$body` with `$conn` bound to the transaction's concrete connection
/// (`&mut SqliteConnection` or `&mut PgConnection`).
#[macro_export]
macro_rules! with_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::sql::Tx::Sqlite(connection) => {
                let $conn = &mut **connection;
                $body
            }
            $crate::sql::Tx::Postgres(connection) => {
                let $conn = &mut **connection;
                $body
            }
        }
    };
}

/// The actual name of each table a projection owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    names: BTreeMap<&'static str, String>,
}

impl TableNames {
    /// The live tables: each under its own name.
    pub fn live(tables: &[&'static str]) -> Self {
        Self {
            names: tables.iter().map(|t| (*t, (*t).to_owned())).collect(),
        }
    }

    /// Fresh tables for a rebuild, all with one random suffix.
    pub fn fresh(tables: &[&'static str]) -> Self {
        let suffix: u32 = rand::random();
        Self {
            names: tables
                .iter()
                .map(|t| (*t, format!("{t}__r{suffix:08x}")))
                .collect(),
        }
    }

    /// The actual name of `table`.
    ///
    /// # Panics
    /// When `table` is not one of the projection's tables — a programming
    /// error caught by the projection's first test.
    pub fn get(&self, table: &str) -> &str {
        self.names
            .get(table)
            .unwrap_or_else(|| panic!("table {table} is not declared by this projection"))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.names
            .iter()
            .map(|(base, actual)| (*base, actual.as_str()))
    }

    /// Replaces every `{table}` in `template` by the table's actual name.
    pub fn render(&self, template: &str) -> String {
        let mut sql = template.to_owned();
        for (base, actual) in &self.names {
            sql = sql.replace(&format!("{{{base}}}"), actual);
        }
        sql
    }

    /// [`Self::render`], marked as safe SQL for sqlx: table names come from
    /// the projection's own declarations, never from input.
    pub fn sql(&self, template: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(self.render(template))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_live_and_fresh_names() {
        let live = TableNames::live(&["a", "a_b"]);
        assert_eq!(
            live.render("INSERT INTO {a} SELECT * FROM {a_b}"),
            "INSERT INTO a SELECT * FROM a_b"
        );
        let fresh = TableNames::fresh(&["a", "a_b"]);
        let rendered = fresh.render("CREATE INDEX {a}_by_x ON {a} (x)");
        assert!(rendered.starts_with("CREATE INDEX a__r"), "{rendered}");
        assert_ne!(fresh.get("a"), "a");
        assert!(fresh.get("a_b").starts_with("a_b__r"));
    }
}
