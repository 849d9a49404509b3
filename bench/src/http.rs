//! Part 7: the real HTTP server under load.
//!
//! The server is built exactly as `shouwang serve` builds it (the API's
//! `AppState` + `shouwang_api::serve`, with the projector running), bound to a
//! loopback port 0 in this process. The load generator is reqwest (crates.io):
//! 64 tasks share one `Client` whose pool keeps up to 64 keep-alive
//! connections, each task sending its next request as soon as the previous
//! one answered (closed loop), for a fixed duration.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use shouwang_api::{ApiSettings, AppState};
use shouwang_domain::vocabulary::UserRole;
use shouwang_domain::volunteer::PointsPolicy;
use shouwang_infrastructure::clock::shanghai_today;
use shouwang_infrastructure::users::{NewUser, add_user};
use shouwang_infrastructure::{Application, Database, Store};
use shouwang_projections::Projector;
use tokio::sync::watch;
use uuid::Uuid;

use crate::workload::percentile;

pub const CONNECTIONS: usize = 64;
const PASSWORD: &str = "bench password 123";
/// The worker's township and the village of every seeded case.
const TOWNSHIP: &str = "360121100";
const VILLAGE: &str = "360121100001";

/// What one mix measured.
#[derive(Debug, Clone, Copy)]
pub struct HttpStats {
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl HttpStats {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// `POST /api/v1/cases/{id}/visits`, each with its own Idempotency-Key.
    RecordVisit,
    /// `GET /api/v1/cases/{id}`.
    ReadCaseFile,
}

impl Mix {
    pub fn label(self) -> &'static str {
        match self {
            Mix::RecordVisit => "A: POST record visit",
            Mix::ReadCaseFile => "B: GET case file",
        }
    }
}

/// A running server with seeded cases and two sessions.
pub struct Server {
    address: String,
    client: Client,
    worker_token: String,
    supervisor_token: String,
    projector: Projector,
    cases: Vec<Uuid>,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    projector_task: tokio::task::JoinHandle<Result<(), shouwang_projections::ProjectionError>>,
}

impl Server {
    /// Starts the server on `db` (migrated, empty), creates a social worker
    /// and a supervisor, logs both in and opens `cases` cases through the API.
    pub async fn start(db: Database, store: Store, cases: usize) -> anyhow::Result<Self> {
        let organization = Uuid::now_v7();
        for (username, role, scope) in [
            ("worker", UserRole::SocialWorker, TOWNSHIP),
            ("supervisor", UserRole::Supervisor, "360121"),
        ] {
            add_user(
                &db,
                NewUser {
                    username: username.to_owned(),
                    display_name: format!("压测{username}"),
                    role,
                    region_scope: scope.to_owned(),
                    organization_id: Some(organization),
                    password: PASSWORD.to_owned(),
                },
            )
            .await?;
        }
        // As in `shouwang serve`: the projector runs beside the API.
        let projector = Projector::new(store.clone(), shouwang_projections::all_projections());
        projector.prepare().await.context("准备读模型")?;
        let (stop, stopped) = watch::channel(false);
        let projector_task = {
            let projector = projector.clone();
            let stopped = stopped.clone();
            tokio::spawn(async move { projector.run(stopped).await })
        };
        let state = AppState::new(
            Application::new(store, PointsPolicy::default()),
            projector.clone(),
            ApiSettings::default(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = format!("http://{}", listener.local_addr()?);
        let mut shutdown = stopped;
        let server = tokio::spawn(shouwang_api::serve(listener, state, async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        }));
        let client = Client::builder()
            .pool_max_idle_per_host(CONNECTIONS)
            .timeout(Duration::from_secs(30))
            .build()?;
        let mut server = Server {
            address,
            client,
            worker_token: String::new(),
            supervisor_token: String::new(),
            projector,
            cases: Vec::new(),
            stop,
            server,
            projector_task,
        };
        server.worker_token = server.login("worker").await?;
        server.supervisor_token = server.login("supervisor").await?;
        server.seed(cases).await?;
        Ok(server)
    }

    async fn login(&self, username: &str) -> anyhow::Result<String> {
        let response = self
            .client
            .post(format!("{}/api/v1/auth/login", self.address))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await?;
        if response.status() != StatusCode::OK {
            bail!("login {username}: {}", response.text().await?);
        }
        let body: Value = response.json().await?;
        body["token"]
            .as_str()
            .map(str::to_owned)
            .context("login: no token")
    }

    /// Opens the cases over HTTP, `CONNECTIONS` at a time, then waits until
    /// the projector has built every case file.
    async fn seed(&mut self, cases: usize) -> anyhow::Result<()> {
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..CONNECTIONS.min(cases) {
            let (client, url, token, next) = (
                self.client.clone(),
                format!("{}/api/v1/cases", self.address),
                self.worker_token.clone(),
                next.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut opened = Vec::new();
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < cases {
                    let response = client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("Idempotency-Key", Uuid::now_v7().to_string())
                        .json(&open_case_body())
                        .send()
                        .await?;
                    if response.status() != StatusCode::CREATED {
                        bail!("open case: {}", response.text().await?);
                    }
                    let body: Value = response.json().await?;
                    opened.push(body["id"].as_str().context("no case id")?.parse::<Uuid>()?);
                }
                anyhow::Ok(opened)
            }));
        }
        for task in tasks {
            self.cases.extend(task.await??);
        }
        self.projector.catch_up().await?;
        Ok(())
    }

    /// `CONNECTIONS` closed-loop clients for `duration`. Case `k` of client
    /// `c` is case `(c + k·CONNECTIONS) mod cases`: with a multiple of
    /// `CONNECTIONS` cases no two clients ever write the same case, so the
    /// figures hold no optimistic-concurrency retries.
    pub async fn run(&self, mix: Mix, duration: Duration) -> anyhow::Result<HttpStats> {
        let cases: Arc<[Uuid]> = self.cases.clone().into();
        // The first failure of a mix is printed (stderr), to say what failed.
        let reported = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let deadline = Instant::now() + duration;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..CONNECTIONS {
            let (client, address, cases, reported) = (
                self.client.clone(),
                self.address.clone(),
                cases.clone(),
                reported.clone(),
            );
            let token = match mix {
                Mix::RecordVisit => self.worker_token.clone(),
                Mix::ReadCaseFile => self.supervisor_token.clone(),
            };
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                let mut k = 0usize;
                while Instant::now() < deadline {
                    let case = cases[(c + k * CONNECTIONS) % cases.len()];
                    let request = match mix {
                        Mix::RecordVisit => client
                            .post(format!("{address}/api/v1/cases/{case}/visits"))
                            .header("Idempotency-Key", Uuid::now_v7().to_string())
                            .json(&visit_body(k)),
                        Mix::ReadCaseFile => client.get(format!("{address}/api/v1/cases/{case}")),
                    }
                    .bearer_auth(&token);
                    let t = Instant::now();
                    let failure = match request.send().await {
                        // The body is read in full: that is part of serving it.
                        Ok(response) => {
                            let status = response.status();
                            match response.bytes().await {
                                Ok(_) if status.is_success() => None,
                                Ok(body) => {
                                    Some(format!("{status}: {}", String::from_utf8_lossy(&body)))
                                }
                                Err(error) => Some(error.to_string()),
                            }
                        }
                        Err(error) => Some(error.to_string()),
                    };
                    latencies.push(t.elapsed());
                    if let Some(failure) = failure {
                        errors += 1;
                        if !reported.swap(true, std::sync::atomic::Ordering::Relaxed) {
                            eprintln!("{}: first failure: {failure}", mix.label());
                        }
                    }
                    k += 1;
                }
                (latencies, errors)
            }));
        }
        let mut latencies = Vec::new();
        let mut errors = 0;
        for task in tasks {
            let (l, e) = task.await?;
            latencies.extend(l);
            errors += e;
        }
        let seconds = started.elapsed().as_secs_f64();
        latencies.sort_unstable();
        // The next mix starts from read models that hold every write.
        self.projector.catch_up().await?;
        Ok(HttpStats {
            requests: latencies.len() as u64,
            errors,
            seconds,
            p50_ms: percentile(&latencies, 50.0),
            p99_ms: percentile(&latencies, 99.0),
        })
    }

    /// Stops the server and the projector.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.server.await??;
        self.projector_task.await??;
        Ok(())
    }
}

fn open_case_body() -> Value {
    json!({
        "name": "王秀英",
        "gender": "female",
        "birth_date": "1949-12-31",
        "id_number": "11010519491231002X",
        "phone": "13807910000",
        "address": "莲塘镇东湖村 3 组 12 号",
        "residence_region": VILLAGE,
        "categories": ["empty_nest_elder"],
        "identified_via": "visit_discovery",
        "risk_level": "high",
        "organization_id": null,
        "opened_on": shanghai_today()
            .checked_sub_days(chrono::Days::new(300))
            .unwrap_or_default(),
    })
}

fn visit_body(round: usize) -> Value {
    let day = shanghai_today()
        .checked_sub_days(chrono::Days::new(200 - (round % 150) as u64))
        .unwrap_or_default();
    json!({
        "visited_on": day,
        "visitor_ids": [Uuid::from_u128(11)],
        "method": "home_visit",
        "minutes": 45,
        "findings": "身体状况平稳，屋内卫生尚可，药品充足，已叮嘱按时服药并留下联系电话",
        "wellbeing_notes": "精神尚可，血压偏高，睡眠一般",
        "follow_up_needed": round.is_multiple_of(5),
    })
}
