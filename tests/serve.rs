//! The main job: `shouwang serve --demo` on a fresh database prints the demo
//! logins, serves the API, and stops gracefully on SIGTERM — on SQLite and
//! PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const MASTER_KEY: &str = "6b0f9a3c2d1e4f5061728394a5b6c7d8e9f00112233445566778899aabbccdde";

async fn serve_demo_and_stop(database_url: &str) {
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shouwang"))
        .args(["--database-url", database_url, "--data-dir"])
        .arg(data_dir.path())
        .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
        .env("SHOUWANG_MASTER_KEY", MASTER_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    let address = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(120))
            .expect("the server starts and prints its address");
        if let Some(rest) = line.strip_prefix("守望已启动：") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        printed.push(line);
    };
    let password = printed
        .iter()
        .find_map(|line| line.trim_start().strip_prefix("supervisor"))
        .map(|rest| rest.split_whitespace().next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("demo logins are printed: {printed:?}"));
    assert!(
        printed.iter().any(|line| line.contains("200 位关爱对象")),
        "{printed:?}"
    );

    let client = reqwest::Client::new();
    let ready = client
        .get(format!("{address}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let login: serde_json::Value = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&serde_json::json!({ "username": "supervisor", "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"]
        .as_str()
        .expect("the printed demo password logs in");
    let me = client
        .get(format!("{address}/api/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let docs = client
        .get(format!("{address}/api/docs"))
        .send()
        .await
        .unwrap();
    assert!(docs.text().await.unwrap().contains("守望"));

    // SIGTERM: in-flight work finishes, the projector stops, exit code 0.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    // The reader thread may still hold the last lines: drain until it sees
    // the pipe close (the process has exited, so that comes at once).
    let mut rest = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(10)) {
        rest.push(line);
    }
    assert!(
        rest.iter().any(|line| line.contains("守望已停止")),
        "{rest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_on_sqlite() {
    let db = shouwang_testkit::sqlite_database();
    serve_demo_and_stop(db.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_on_postgres() {
    let db = shouwang_testkit::postgres_database().await;
    serve_demo_and_stop(db.url()).await;
}
