//! Whole-table dumps, for comparing a projection built incrementally with a
//! rebuilt one (tests, and operators checking a rebuild).

use shouwang_infrastructure::Database;
use sqlx::AssertSqlSafe;

use crate::projector::ProjectionError;

/// Every row of `table` as a JSON array text, sorted.
pub async fn dump_table(db: &Database, table: &str) -> Result<Vec<String>, ProjectionError> {
    let mut rows: Vec<String> = match db {
        Database::Sqlite { pool, .. } => {
            let columns: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
            )))
            .fetch_all(pool)
            .await?;
            let list = columns
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ");
            sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT json_array({list}) FROM {table}"
            )))
            .fetch_all(pool)
            .await?
        }
        Database::Postgres { pool } => {
            sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT json_build_array(VARIADIC (SELECT array_agg(value ORDER BY ordinality) \
                 FROM json_each_text(row_to_json(t)) WITH ORDINALITY))::text FROM {table} t"
            )))
            .fetch_all(pool)
            .await?
        }
    };
    rows.sort();
    Ok(rows)
}
