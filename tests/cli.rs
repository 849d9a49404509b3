//! End-to-end tests of the command line, on SQLite and PostgreSQL: the real
//! binary against a real database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

const MASTER_KEY: &str = "6b0f9a3c2d1e4f5061728394a5b6c7d8e9f00112233445566778899aabbccdde";

struct Target {
    url: String,
    data_dir: tempfile::TempDir,
}

impl Target {
    fn shouwang(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_shouwang"))
            .args(["--database-url", &self.url, "--data-dir"])
            .arg(self.data_dir.path())
            .args(args)
            .env("SHOUWANG_MASTER_KEY", MASTER_KEY)
            .env_remove("SHOUWANG_DATABASE_URL")
            .output()
            .expect("run shouwang")
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn sqlite_target() -> (Target, shouwang_testkit::SqliteTestDatabase) {
    let db = shouwang_testkit::sqlite_database();
    let target = Target {
        url: db.url().to_owned(),
        data_dir: tempfile::tempdir().unwrap(),
    };
    (target, db)
}

async fn postgres_target() -> (Target, shouwang_testkit::PgTestDatabase) {
    let db = shouwang_testkit::postgres_database().await;
    let target = Target {
        url: db.url().to_owned(),
        data_dir: tempfile::tempdir().unwrap(),
    };
    (target, db)
}

/// The acceptance check: `demo --people 200 && verify`.
fn demo_then_verify(target: &Target) {
    assert_success(&target.shouwang(&["migrate"]));
    // Migrating twice is harmless.
    assert_success(&target.shouwang(&["migrate"]));
    let demo = target.shouwang(&["demo", "--people", "200"]);
    assert_success(&demo);
    assert!(
        stdout(&demo).contains("200 位关爱对象"),
        "{}",
        stdout(&demo)
    );
    for part in ["6 个社会组织", "50 条需求", "10 场活动"] {
        assert!(stdout(&demo).contains(part), "{part}: {}", stdout(&demo));
    }
    let verify = target.shouwang(&["verify"]);
    assert_success(&verify);
    assert!(stdout(&verify).contains("校验通过"), "{}", stdout(&verify));
    // Every read model rebuilds from the demo history.
    let rebuild = target.shouwang(&["rebuild"]);
    assert_success(&rebuild);
    for projection in shouwang_projections::all_projections() {
        assert!(
            stdout(&rebuild).contains(&format!("已重建读模型 {}", projection.name())),
            "{}",
            stdout(&rebuild)
        );
    }
    let unknown = target.shouwang(&["rebuild", "no_such_model"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("没有名为 no_such_model 的读模型"));
    // Every event the demo wrote is covered by a verified chain.
    assert_eq!(
        events_mentioned(&stdout(&verify)),
        events_mentioned(&stdout(&demo)),
        "{} / {}",
        stdout(&verify),
        stdout(&demo)
    );
}

/// The number written just before "条事件" in a message.
fn events_mentioned(text: &str) -> u64 {
    let before = &text[..text.find(" 条事件").expect("an event count")];
    let digits: String = before
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().expect("a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_then_verify_on_sqlite() {
    let (target, _db) = sqlite_target().await;
    demo_then_verify(&target);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_then_verify_on_postgres() {
    let (target, _db) = postgres_target().await;
    demo_then_verify(&target);
}

/// Tampering with a stored event makes `verify` fail naming the event.
async fn verify_exits_non_zero_on_tampering(target: &Target) {
    assert_success(&target.shouwang(&["demo", "--people", "3"]));
    let (stream_id, version) = {
        let db = shouwang_infrastructure::Database::connect(&target.url)
            .await
            .unwrap();
        let found = shouwang_infrastructure::with_pool!(&db, pool => {
            let (stream_id, version): (String, i64) = sqlx::query_as(
                "SELECT stream_id, stream_version FROM events WHERE event_type = 'VisitRecorded' \
                 ORDER BY position LIMIT 1",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            let drop_guard = match db.backend() {
                shouwang_infrastructure::Backend::Sqlite => "DROP TRIGGER events_no_update",
                shouwang_infrastructure::Backend::Postgres => {
                    "DROP TRIGGER events_append_only ON events"
                }
            };
            sqlx::query(drop_guard).execute(pool).await.unwrap();
            sqlx::query(
                "UPDATE events SET payload = REPLACE(payload, '\"minutes\":', '\"minutes\":1') \
                 WHERE stream_id = $1 AND stream_version = $2",
            )
            .bind(&stream_id)
            .bind(version)
            .execute(pool)
            .await
            .unwrap();
            (stream_id, version)
        });
        db.close().await;
        found
    };
    let verify = target.shouwang(&["verify"]);
    assert_eq!(verify.status.code(), Some(2), "{}", stdout(&verify));
    let report = stdout(&verify);
    assert!(report.contains("校验失败"), "{report}");
    assert!(
        report.contains(&format!("{stream_id} 第 {version} 条事件")),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_tampering_on_sqlite() {
    let (target, _db) = sqlite_target().await;
    verify_exits_non_zero_on_tampering(&target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_tampering_on_postgres() {
    let (target, _db) = postgres_target().await;
    verify_exits_non_zero_on_tampering(&target).await;
}

#[test]
fn embedded_default_creates_database_and_private_key_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_shouwang"))
        .args(["--data-dir"])
        .arg(dir.path())
        .arg("migrate")
        .env_remove("SHOUWANG_DATABASE_URL")
        .env_remove("SHOUWANG_MASTER_KEY")
        .env_remove("SHOUWANG_MASTER_KEY_FILE")
        .output()
        .unwrap();
    assert_success(&output);
    assert!(dir.path().join("shouwang.db").exists());
    let key = dir.path().join("master.key");
    assert!(key.exists());
    assert!(String::from_utf8_lossy(&output.stderr).contains("主密钥"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(Path::new(&key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn an_unknown_database_url_is_refused_with_a_clear_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_shouwang"))
        .args(["--database-url", "mysql://localhost/x", "migrate"])
        .env("SHOUWANG_MASTER_KEY", MASTER_KEY)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("无法识别"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_managed_from_the_command_line() {
    let (target, _db) = sqlite_target().await;
    let added = target.shouwang(&[
        "users",
        "add",
        "--username",
        "admin",
        "--name",
        "管理员",
        "--role",
        "admin",
    ]);
    assert_success(&added);
    let printed = stdout(&added);
    let password = printed
        .lines()
        .find_map(|line| line.strip_prefix("初始密码（只显示这一次）："))
        .expect("a generated password is printed once");
    assert_eq!(password.len(), 20);
    let db = shouwang_infrastructure::Database::connect(&target.url)
        .await
        .unwrap();
    let policy = shouwang_infrastructure::users::SessionPolicy::default();
    shouwang_infrastructure::users::login(&db, "admin", password, &policy)
        .await
        .unwrap();

    let again = target.shouwang(&[
        "users",
        "add",
        "--username",
        "admin",
        "--name",
        "x",
        "--role",
        "admin",
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("用户名 admin 已存在"));
    let bad_role = target.shouwang(&[
        "users",
        "add",
        "--username",
        "boss",
        "--name",
        "x",
        "--role",
        "boss",
    ]);
    assert!(!bad_role.status.success());

    let list = target.shouwang(&["users", "list"]);
    assert!(
        stdout(&list).contains("admin\t管理员\tadmin\t全国"),
        "{}",
        stdout(&list)
    );
    let reset = target.shouwang(&["users", "reset-password", "admin"]);
    assert_success(&reset);
    assert!(
        shouwang_infrastructure::users::login(&db, "admin", password, &policy)
            .await
            .is_err()
    );
    assert_success(&target.shouwang(&["users", "disable", "admin"]));
    assert!(stdout(&target.shouwang(&["users", "list"])).contains("已停用"));
}
