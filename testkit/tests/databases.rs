//! The testkit's own tests: fresh PostgreSQL and SQLite databases are real,
//! connectable, empty and distinct.

use sqlx::{Connection, PgConnection, SqliteConnection};

/// Number of user tables (outside the system schemas) in a PostgreSQL database.
async fn pg_user_tables(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_catalog.pg_tables \
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_one(conn)
    .await
    .expect("counting user tables")
}

#[tokio::test]
async fn two_postgres_databases_are_distinct_connectable_and_empty() {
    let first = shouwang_testkit::postgres_database().await;
    let second = shouwang_testkit::postgres_database().await;
    assert_ne!(first.name(), second.name());
    assert_ne!(first.url(), second.url());
    assert!(first.name().starts_with("shouwang_test_"));

    let mut a = PgConnection::connect(first.url()).await.unwrap();
    let mut b = PgConnection::connect(second.url()).await.unwrap();
    let name_a: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut a)
        .await
        .unwrap();
    let name_b: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut b)
        .await
        .unwrap();
    assert_eq!(name_a, first.name());
    assert_eq!(name_b, second.name());
    assert_eq!(pg_user_tables(&mut a).await, 0);
    assert_eq!(pg_user_tables(&mut b).await, 0);

    // What one test writes, the other does not see.
    sqlx::raw_sql("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        .execute(&mut a)
        .await
        .unwrap();
    assert_eq!(pg_user_tables(&mut a).await, 1);
    assert_eq!(pg_user_tables(&mut b).await, 0);

    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test]
async fn throwaway_cluster_is_used_without_database_url() {
    let db = shouwang_testkit::postgres_database().await;
    if std::env::var("DATABASE_URL").is_ok_and(|url| !url.trim().is_empty()) {
        return; // the external server is in use; covered by the other tests
    }
    assert!(
        db.url().starts_with("postgres://postgres@127.0.0.1:"),
        "{}",
        db.url()
    );
    assert!(
        !db.url().contains(":5432/"),
        "must not be the system server"
    );
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let (fsync, max_connections, encoding): (String, String, String) = sqlx::query_as(
        "SELECT current_setting('fsync'), current_setting('max_connections'), \
         pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(fsync, "off");
    assert_eq!(max_connections, "300");
    assert_eq!(encoding, "UTF8");
    conn.close().await.unwrap();
}

/// Many tests in parallel threads, each with its own runtime, share one server.
#[test]
fn many_parallel_runtimes_share_one_server() {
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(async {
                        let db = shouwang_testkit::postgres_database().await;
                        let mut conn = PgConnection::connect(db.url()).await.unwrap();
                        assert_eq!(pg_user_tables(&mut conn).await, 0);
                        conn.close().await.unwrap();
                        db.url()
                            .rsplit_once(':')
                            .unwrap()
                            .1
                            .split('/')
                            .next()
                            .unwrap()
                            .to_owned()
                    })
            })
        })
        .collect();
    let ports: std::collections::BTreeSet<String> =
        threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(ports.len(), 1, "one server per process: {ports:?}");
}

#[tokio::test]
async fn two_sqlite_databases_are_distinct_connectable_and_empty() {
    let first = shouwang_testkit::sqlite_database();
    let second = shouwang_testkit::sqlite_database();
    assert_ne!(first.url(), second.url());
    assert!(first.url().starts_with("sqlite://") && first.url().ends_with("/test.db?mode=rwc"));

    let mut a = SqliteConnection::connect(first.url()).await.unwrap();
    let mut b = SqliteConnection::connect(second.url()).await.unwrap();
    sqlx::raw_sql("CREATE TABLE t (id integer)")
        .execute(&mut a)
        .await
        .unwrap();
    let tables = "SELECT count(*) FROM sqlite_schema WHERE type = 'table'";
    let in_a: i64 = sqlx::query_scalar(tables).fetch_one(&mut a).await.unwrap();
    let in_b: i64 = sqlx::query_scalar(tables).fetch_one(&mut b).await.unwrap();
    assert_eq!((in_a, in_b), (1, 0));
    a.close().await.unwrap();
    b.close().await.unwrap();
    assert!(first.dir().join("test.db").is_file());
}

#[test]
fn sqlite_url_encodes_awkward_paths() {
    let url = shouwang_testkit::sqlite_url(std::path::Path::new("/tmp/a b?c#d"));
    assert_eq!(url, "sqlite:///tmp/a%20b%3Fc%23d/test.db?mode=rwc");
}
