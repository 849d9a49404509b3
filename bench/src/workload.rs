//! The command-path workload, shared word for word by the bench and the
//! postgres-es peer (`bench/peer` includes this file), so both run exactly
//! the same commands: per case one `OpenCase` then one `RecordVisit`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use shouwang_domain::care_case::{CaseAction, CaseCommand, OpenCase, RecordVisit};
use shouwang_domain::vocabulary::{
    CareCategory, Gender, IdentificationChannel, RiskLevel, VisitMethod,
};
use uuid::Uuid;

/// The fixed "today" of every bench command.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default()
}

fn days_before(days: u64) -> NaiveDate {
    today().checked_sub_days(Days::new(days)).unwrap_or(today())
}

/// A valid GB 11643 ID number (check character computed here so the peer
/// needs nothing but the domain's types).
fn id_number(index: u64) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    // Born 1950-03-15, odd sequence = male.
    let first_17 = format!("36012119500315{:03}", (index % 500) * 2 + 1);
    let sum: u32 = first_17
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    format!("{first_17}{}", CHECK[(sum % 11) as usize])
}

pub fn open_case(index: u64) -> CaseCommand {
    CaseCommand {
        today: today(),
        action: CaseAction::OpenCase(OpenCase {
            name: "王秀英".to_owned(),
            gender: Gender::Male,
            birth_date: NaiveDate::from_ymd_opt(1950, 3, 15).unwrap_or_default(),
            id_number: id_number(index),
            phone: format!("138{:08}", index % 100_000_000),
            address: format!(
                "江西省南昌市南昌县莲塘镇东湖村{}组{}号",
                index % 9 + 1,
                index % 80 + 1
            ),
            residence_region: "360121100001".to_owned(),
            categories: vec![
                CareCategory::EmptyNestElder,
                CareCategory::MinimumLivingAllowance,
            ],
            identified_via: IdentificationChannel::VisitDiscovery,
            risk_level: RiskLevel::Medium,
            organization_id: Some(Uuid::from_u128(7)),
            opened_on: days_before(300),
        }),
    }
}

pub fn record_visit(round: u64) -> CaseCommand {
    CaseCommand {
        today: today(),
        action: CaseAction::RecordVisit(RecordVisit {
            visited_on: days_before(200 - (round % 150)),
            visitor_ids: vec![Uuid::from_u128(11)],
            method: VisitMethod::HomeVisit,
            minutes: 45,
            findings: "身体状况平稳，屋内卫生尚可，药品充足，已叮嘱按时服药并留下联系电话"
                .to_owned(),
            wellbeing_notes: "精神尚可，血压偏高，睡眠一般".to_owned(),
            follow_up_needed: round.is_multiple_of(5),
        }),
    }
}

/// Throughput and latency of one measured run.
#[derive(Debug, Clone, Copy)]
pub struct RunStats {
    pub operations: u64,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl RunStats {
    pub fn per_second(&self) -> f64 {
        self.operations as f64 / self.seconds.max(1e-9)
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// Runs `jobs[i]` on client `i` (each client sequential, clients
/// concurrent) and measures every call.
pub async fn run_clients<J, F, Fut>(jobs: Vec<Vec<J>>, call: F) -> anyhow::Result<RunStats>
where
    J: Send + 'static,
    F: Fn(J) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let mut handles = Vec::new();
    for client_jobs in jobs {
        let call = call.clone();
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(client_jobs.len());
            for job in client_jobs {
                let t = Instant::now();
                call(job).await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for handle in handles {
        latencies.extend(handle.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Ok(RunStats {
        operations: latencies.len() as u64,
        seconds,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
    })
}

/// One command of the workload: (case id, command).
pub type Job = (Uuid, CaseCommand);

/// `cases` fresh cases dealt round-robin to `clients`; each client opens a
/// case and records a visit on it, case after case.
pub fn command_jobs(clients: usize, cases: u64, first_index: u64) -> Vec<Vec<Job>> {
    let mut jobs: Vec<Vec<Job>> = (0..clients).map(|_| Vec::new()).collect();
    for i in 0..cases {
        let id = Uuid::now_v7();
        let client = (i % clients as u64) as usize;
        jobs[client].push((id, open_case(first_index + i)));
        jobs[client].push((id, record_visit(i)));
    }
    jobs
}
