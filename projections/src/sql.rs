//! Writing projection SQL once for both backends.
//!
//! Projection tables are named at run time, because a rebuild writes into
//! fresh tables (`case_files__r1a2b3c4d`) before swapping them in. SQL is
//! written as a template with `{table}` placeholders and rendered through
//! [`TableNames`].

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, PgConnection, Row, SqliteConnection};

use crate::ProjectionError;

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

/// Between a table's name and the random suffix of its fresh copy.
const FRESH_MARK: &str = "__r";

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
                .map(|t| (*t, format!("{t}{FRESH_MARK}{suffix:08x}")))
                .collect(),
        }
    }

    /// Whether `name` is a fresh table of [`TableNames::fresh`] for one of
    /// `tables`.
    pub fn is_fresh_name(tables: &[&str], name: &str) -> bool {
        tables.iter().any(|table| {
            name.strip_prefix(table)
                .and_then(|rest| rest.strip_prefix(FRESH_MARK))
                .is_some_and(|suffix| {
                    suffix.len() == 8 && suffix.bytes().all(|b| b.is_ascii_hexdigit())
                })
        })
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

/// One bound value: the projections store only text and integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
}

/// `count` placeholders, comma-separated: `$1, $2, …` on PostgreSQL, `?, ?,
/// …` on SQLite (where named ones are quadratic to parse in long lists).
pub fn placeholders(tx: &Tx<'_>, count: usize) -> String {
    let numbered = matches!(tx, Tx::Postgres(_));
    (1..=count)
        .map(|i| {
            if numbered {
                format!("${i}")
            } else {
                "?".to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Bound parameters per multi-row statement: under SQLite's limit (32,766)
/// and PostgreSQL's (65,535).
const MAX_PARAMETERS: usize = 30_000;

/// Runs `{head} VALUES (…), (…) {tail}` for all `rows` (each of the same
/// width), in as few statements as the parameter limits allow: how a batch
/// writes what it folded in memory. `head` and `tail` are rendered SQL, e.g.
/// `INSERT INTO t (a, b)` and `ON CONFLICT …`, or `UPDATE t SET … FROM (` and
/// `) AS v WHERE t.id = v.column1` (the columns of the rows are `column1`,
/// `column2`, … on both backends).
///
/// On PostgreSQL the rows go as one array per column, `SELECT * FROM
/// UNNEST($1::text[], $2::int8[], …) AS v(column1, column2, …)` in place of
/// the `VALUES` list: one statement whatever the number of rows, whose text
/// does not change with it, so the server parses and plans it once per
/// connection instead of planning thousands of parameters per batch. On
/// SQLite the `VALUES` statements are not kept prepared: their text changes
/// with the number of rows.
pub async fn execute_rows(
    tx: &mut Tx<'_>,
    head: &str,
    tail: &str,
    mut rows: Vec<Vec<Arg>>,
) -> Result<(), ProjectionError> {
    if let Tx::Postgres(conn) = tx {
        match Columns::from_rows(rows) {
            Ok(columns) => {
                let sql = columns.unnest_statement(head, tail);
                columns
                    .bind(sqlx::query(AssertSqlSafe(sql)))
                    .execute(&mut **conn)
                    .await?;
                return Ok(());
            }
            Err(unchanged) => rows = unchanged,
        }
    }
    for (sql, chunk) in statements(tx, head, tail, rows) {
        crate::with_tx!(tx, conn => {
            bind_all(sqlx::query(AssertSqlSafe(sql)).persistent(false), chunk)
                .execute(&mut *conn)
                .await?;
        });
    }
    Ok(())
}

/// As [`execute_rows`], for statements whose `tail` ends in `RETURNING`
/// text columns: every returned row, its columns in order. With
/// `ON CONFLICT DO NOTHING` these are exactly the rows that were new.
pub async fn fetch_text_rows(
    tx: &mut Tx<'_>,
    head: &str,
    tail: &str,
    mut rows: Vec<Vec<Arg>>,
) -> Result<Vec<Vec<String>>, ProjectionError> {
    let mut returned = Vec::new();
    if let Tx::Postgres(conn) = tx {
        match Columns::from_rows(rows) {
            Ok(columns) => {
                let sql = columns.unnest_statement(head, tail);
                let fetched = columns
                    .bind(sqlx::query(AssertSqlSafe(sql)))
                    .fetch_all(&mut **conn)
                    .await?;
                for row in fetched {
                    returned.push(text_columns(&row)?);
                }
                return Ok(returned);
            }
            Err(unchanged) => rows = unchanged,
        }
    }
    for (sql, chunk) in statements(tx, head, tail, rows) {
        crate::with_tx!(tx, conn => {
            let fetched = bind_all(sqlx::query(AssertSqlSafe(sql)).persistent(false), chunk)
                .fetch_all(&mut *conn)
                .await?;
            for row in fetched {
                returned.push(text_columns(&row)?);
            }
        });
    }
    Ok(returned)
}

fn text_columns<R: Row>(row: &R) -> Result<Vec<String>, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    (0..row.len())
        .map(|i| row.try_get::<String, _>(i))
        .collect()
}

/// A batch's rows as one array per column, for PostgreSQL's `UNNEST`.
struct Columns(Vec<Column>);

enum Column {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
}

impl Columns {
    /// The rows turned into columns; the rows back, untouched, when there
    /// are none or a column does not keep one kind (they are then written
    /// as a `VALUES` list).
    fn from_rows(rows: Vec<Vec<Arg>>) -> Result<Self, Vec<Vec<Arg>>> {
        let Some(first) = rows.first() else {
            return Err(rows);
        };
        let same_kinds = |row: &Vec<Arg>| {
            row.len() == first.len()
                && row
                    .iter()
                    .zip(first)
                    .all(|(a, b)| std::mem::discriminant(a) == std::mem::discriminant(b))
        };
        if !rows.iter().all(same_kinds) {
            return Err(rows);
        }
        let mut columns: Vec<Column> = first
            .iter()
            .map(|arg| match arg {
                Arg::Text(_) => Column::Text(Vec::with_capacity(rows.len())),
                Arg::Int(_) => Column::Int(Vec::with_capacity(rows.len())),
            })
            .collect();
        for row in rows {
            for (arg, column) in row.into_iter().zip(&mut columns) {
                match (column, arg) {
                    (Column::Text(values), Arg::Text(value)) => values.push(value),
                    (Column::Int(values), Arg::Int(value)) => values.push(value),
                    // Every row has the first row's kinds, checked above.
                    (Column::Text(_) | Column::Int(_), _) => {}
                }
            }
        }
        Ok(Self(columns))
    }

    fn unnest_statement(&self, head: &str, tail: &str) -> String {
        let arrays: Vec<String> = self
            .0
            .iter()
            .enumerate()
            .map(|(i, column)| match column {
                Column::Text(_) => format!("${}::text[]", i + 1),
                Column::Int(_) => format!("${}::int8[]", i + 1),
            })
            .collect();
        let names: Vec<String> = (1..=self.0.len()).map(|i| format!("column{i}")).collect();
        format!(
            "{head} SELECT * FROM UNNEST({}) AS v({}) {tail}",
            arrays.join(", "),
            names.join(", ")
        )
    }

    /// Binds one array per column, in column order.
    fn bind<'q>(
        self,
        mut query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        for column in self.0 {
            query = match column {
                Column::Text(values) => query.bind(values),
                Column::Int(values) => query.bind(values),
            };
        }
        query
    }
}

fn bind_all<'q, DB>(
    mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    args: Vec<Vec<Arg>>,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for arg in args.into_iter().flatten() {
        query = match arg {
            Arg::Text(value) => query.bind(value),
            Arg::Int(value) => query.bind(value),
        };
    }
    query
}

/// The statements that write `rows`: each rendered SQL text with the rows it
/// binds.
fn statements(
    tx: &Tx<'_>,
    head: &str,
    tail: &str,
    rows: Vec<Vec<Arg>>,
) -> Vec<(String, Vec<Vec<Arg>>)> {
    let Some(width) = rows.first().map(Vec::len) else {
        return Vec::new();
    };
    let numbered = matches!(tx, Tx::Postgres(_));
    let per_statement = (MAX_PARAMETERS / width.max(1)).max(1);
    let mut statements = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Arg>> = rows.by_ref().take(per_statement).collect();
        let mut sql = String::with_capacity(head.len() + tail.len() + chunk.len() * width * 6);
        sql.push_str(head);
        sql.push_str(" VALUES ");
        let mut n = 0;
        for (i, row) in chunk.iter().enumerate() {
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for j in 0..row.len() {
                n += 1;
                if j > 0 {
                    sql.push_str(", ");
                }
                if numbered {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                } else {
                    sql.push('?');
                }
            }
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(tail);
        statements.push((sql, chunk));
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_rows_go_as_one_array_per_column() {
        let rows = vec![
            vec![Arg::Text(Some("a".into())), Arg::Int(None)],
            vec![Arg::Text(None), Arg::Int(Some(2))],
        ];
        let Ok(columns) = Columns::from_rows(rows) else {
            panic!("one kind per column");
        };
        assert_eq!(
            columns.unnest_statement("INSERT INTO t (x, y)", "ON CONFLICT DO NOTHING"),
            "INSERT INTO t (x, y) SELECT * FROM UNNEST($1::text[], $2::int8[]) \
             AS v(column1, column2) ON CONFLICT DO NOTHING"
        );
        let mixed = vec![vec![Arg::Text(Some("a".into()))], vec![Arg::Int(Some(1))]];
        assert!(
            Columns::from_rows(mixed).is_err(),
            "mixed kinds fall back to VALUES"
        );
        assert!(Columns::from_rows(Vec::new()).is_err());
    }

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
