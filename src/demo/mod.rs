//! `shouwang demo`: a realistic synthetic county (南昌县, 8 townships).
//! Every command is decided by the domain, so every rule applies; the care
//! cases are decided in memory and appended many people per transaction
//! (see [`bulk`]), the community part goes through the command buses; the
//! whole store contract (sealing, chain, blind index, snapshots, idempotency
//! records) applies to both.

mod bulk;
mod community;
mod ids;
mod images;

use std::fmt;
use std::time::Instant;

use anyhow::Context;
use chrono::{Datelike, Days, NaiveDate};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use shouwang_domain::care_case::{
    AssessRisk, AssignCaregiver, CareCase, CaseAction, CaseCommand, CloseCase, CorrectEntry,
    MakeReferral, OpenCase, RecordOutcome, RecordProfile, RecordService, RecordVisit,
    ResolveReferral,
};
use shouwang_domain::values::IdNumber;
use shouwang_domain::vocabulary::{
    ActionLine, CareCategory, CloseReason, Department, Gender, HelpArrangement,
    IdentificationChannel, OutcomeAchievement, RiskFactor, RiskLevel, ServiceType, VisitMethod,
};
use shouwang_domain::volunteer::PointsPolicy;
use shouwang_infrastructure::{Application, Store};
use uuid::Uuid;

use self::bulk::DecidedStream;
use self::ids::DemoIds;

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Number of cared-for people to create.
    #[arg(long, default_value_t = 200)]
    pub people: u32,
    /// Seed for the generator: the same seed gives the same people.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// No longer used: care cases are written in batches (see `bulk`), the
    /// community part in order. Still accepted so existing scripts run.
    #[arg(long, default_value_t = 4, hide = true)]
    pub concurrency: usize,
}

pub(crate) const COUNTY: &str = "360121";
pub(crate) const TOWNSHIPS: &[(&str, &str)] = &[
    ("100", "莲塘镇"),
    ("101", "向塘镇"),
    ("102", "三江镇"),
    ("103", "塘南镇"),
    ("104", "幽兰镇"),
    ("105", "蒋巷镇"),
    ("106", "武阳镇"),
    ("107", "冈上镇"),
];
const VILLAGES_PER_TOWNSHIP: u32 = 12;
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹",
    "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕", "熊", "涂", "万", "喻", "邹", "饶", "章", "龚",
];
const GIVEN: &[&str] = &[
    "秀英", "桂英", "玉兰", "凤英", "建国", "国华", "德明", "水生", "春花", "冬梅", "金花", "荣华",
    "志强", "海燕", "小红", "子涵", "梓萱", "浩然", "欣怡", "宇轩", "佳怡", "俊杰", "雨桐", "家豪",
    "淑芬", "长根", "木根", "福生", "根发", "美华", "丽萍", "文斌", "晓东", "红梅", "腊梅", "细妹",
];
const VILLAGE_NAMES: &[&str] = &[
    "东湖", "新联", "黄岗", "花园", "塘头", "岗上", "河背", "湾里", "横岗", "洲头", "前进", "和平",
];

/// What `demo` wrote.
#[derive(Debug, Default)]
pub struct DemoSummary {
    /// The demo's social organizations and their workers (for demo logins).
    pub organizations: Vec<(Uuid, Vec<Uuid>)>,
    people: u64,
    events: u64,
    seconds: f64,
    community: community::CommunityCounts,
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "演示数据已生成：南昌县（{COUNTY}）{} 位关爱对象，{} 个社会组织，{} 名志愿者，{} 条需求，{} 场活动（{} 张佐证图片），共 {} 条事件，用时 {:.1} 秒（{:.0} 条事件/秒）。",
            self.people,
            self.community.organizations,
            self.community.volunteers,
            self.community.needs,
            self.community.activities,
            self.community.evidence_images,
            self.events,
            self.seconds,
            self.events as f64 / self.seconds.max(0.001)
        )
    }
}

/// A social-work organization of the demo county with its workers.
#[derive(Debug, Clone)]
pub(crate) struct DemoOrganization {
    pub(crate) id: Uuid,
    pub(crate) workers: Vec<Uuid>,
}

/// Social organizations of the demo: six for a county, one more per 5,000
/// people beyond that, so that at province scale an organization looks after
/// a few thousand people, not hundreds of thousands.
fn organization_count(people: u32) -> usize {
    (people as usize / 5_000).max(6)
}

pub async fn generate(store: &Store, args: &DemoArgs) -> anyhow::Result<DemoSummary> {
    let started = Instant::now();
    let app = Application::new(store.clone(), PointsPolicy::default());
    let today = shouwang_infrastructure::clock::shanghai_today();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let organizations: Vec<DemoOrganization> = (0..organization_count(args.people))
        .map(|_| DemoOrganization {
            id: uuid_from(&mut rng),
            workers: (0..5).map(|_| uuid_from(&mut rng)).collect(),
        })
        .collect();

    let bar = ProgressBar::new(u64::from(args.people)).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} 位关爱对象 {per_sec} 剩余 {eta} {msg}")
            .context("progress template")?,
    );
    let (case_ids, case_events) =
        write_cases(store, args, today, rng, organizations.clone(), &bar).await?;
    bar.finish_and_clear();
    let cases_seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        "关爱对象已写入：{} 位，{case_events} 条事件，用时 {cases_seconds:.1} 秒（{:.0} 条事件/秒）；接着写入社会组织、志愿者、需求和活动",
        args.people,
        case_events as f64 / cases_seconds.max(0.001)
    );
    let community = community::generate(
        &app,
        args.seed,
        today,
        &organizations,
        &case_ids,
        args.people,
    )
    .await?;
    Ok(DemoSummary {
        organizations: organizations
            .iter()
            .map(|o| (o.id, o.workers.clone()))
            .collect(),
        people: u64::from(args.people),
        events: case_events + community.events,
        seconds: started.elapsed().as_secs_f64(),
        community,
    })
}

/// Streams written together: each transaction carries one command of each
/// (see [`bulk::Pool`]), about a thousand events, so that the commit's flush
/// is a small part of the work while little is held in memory.
const POOL_STREAMS: usize = 1_000;

/// People the deciding task hands over at a time.
const CHUNK_PEOPLE: usize = 100;

/// Plans every person from `rng` (in order, so one seed gives the same
/// people), lets the domain decide their commands in a task of its own, and
/// writes them through a [`bulk::Pool`] while the next ones are being
/// decided. Returns the case ids in order and the events written.
async fn write_cases(
    store: &Store,
    args: &DemoArgs,
    today: NaiveDate,
    mut rng: StdRng,
    organizations: Vec<DemoOrganization>,
    bar: &ProgressBar,
) -> anyhow::Result<(Vec<Uuid>, u64)> {
    // Up to twice the pool ahead: the writer never waits, memory stays small.
    let (sender, mut receiver) =
        tokio::sync::mpsc::channel::<Vec<DecidedStream>>(2 * POOL_STREAMS / CHUNK_PEOPLE);
    let people = args.people;
    let seed = args.seed;
    let deciding_store = store.clone();
    let decider = tokio::spawn(async move {
        let mut ids = DemoIds::new(seed, 0);
        let mut chunk = Vec::with_capacity(CHUNK_PEOPLE);
        for index in 0..people {
            let plan = plan_person(&mut rng, index, today, &organizations);
            let case_id = ids.next();
            chunk.push(
                bulk::decide::<CareCase>(&deciding_store, &mut ids, case_id, plan, &()).await?,
            );
            if (chunk.len() == CHUNK_PEOPLE || index + 1 == people)
                && sender.send(std::mem::take(&mut chunk)).await.is_err()
            {
                // The writer stopped on an error of its own, reported there.
                break;
            }
        }
        anyhow::Ok(())
    });
    let mut case_ids = Vec::with_capacity(people as usize);
    let mut events = 0;
    let mut pool = bulk::Pool::new(POOL_STREAMS);
    let mut deciding = true;
    loop {
        while deciding && pool.has_room() {
            match receiver.recv().await {
                Some(chunk) => {
                    for stream in chunk {
                        case_ids.push(stream.id);
                        pool.push(stream);
                    }
                }
                None => deciding = false,
            }
        }
        if pool.is_empty() {
            break;
        }
        let (written, finished) = pool.write_round(store).await?;
        events += written;
        bar.inc(finished);
        bar.set_message(format!("{events} 条事件"));
    }
    decider.await.context("演示数据的决策任务异常退出")??;
    Ok((case_ids, events))
}

fn uuid_from(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

pub(crate) fn days_before(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_sub_days(Days::new(days)).unwrap_or(date)
}

#[derive(Debug, Clone, Copy)]
enum Profile {
    Elder,
    Child,
    DisabledAdult,
    OtherAdult,
}

fn plan_person(
    rng: &mut StdRng,
    index: u32,
    today: NaiveDate,
    organizations: &[DemoOrganization],
) -> Vec<CaseCommand> {
    let profile = *[
        (Profile::Elder, 60),
        (Profile::Child, 15),
        (Profile::DisabledAdult, 15),
        (Profile::OtherAdult, 10),
    ]
    .choose_weighted(rng, |(_, weight)| *weight)
    .map(|(profile, _)| profile)
    .unwrap_or(&Profile::Elder);
    let (age_range, category_pool): (std::ops::RangeInclusive<i32>, &[CareCategory]) = match profile
    {
        Profile::Elder => (
            60..=95,
            &[
                CareCategory::EmptyNestElder,
                CareCategory::FrailElder,
                CareCategory::LeftBehindElder,
                CareCategory::MinimumLivingAllowance,
                CareCategory::ExtremePoverty,
            ],
        ),
        Profile::Child => (
            3..=16,
            &[
                CareCategory::LeftBehindChild,
                CareCategory::ChildInDifficulty,
                CareCategory::Orphan,
                CareCategory::DeFactoUnsupportedChild,
            ],
        ),
        Profile::DisabledAdult => (
            18..=59,
            &[
                CareCategory::Disabled,
                CareCategory::SeverelyDisabled,
                CareCategory::MinimumLivingAllowance,
            ],
        ),
        Profile::OtherAdult => (
            18..=59,
            &[
                CareCategory::Unemployed,
                CareCategory::LowIncome,
                CareCategory::LeftBehindWoman,
                CareCategory::ReleasedPrisoner,
                CareCategory::RelocatedResident,
            ],
        ),
    };
    let category_count = rng.random_range(1..=2);
    let mut categories: Vec<CareCategory> = category_pool
        .choose_multiple(rng, category_count)
        .copied()
        .collect();
    categories.sort_by_key(|c| c.code());

    let gender = if rng.random_bool(0.5) {
        Gender::Male
    } else {
        Gender::Female
    };
    let age = rng.random_range(age_range);
    let birth_date = NaiveDate::from_ymd_opt(
        today.year() - age,
        rng.random_range(1..=12),
        rng.random_range(1..=28),
    )
    .unwrap_or(today);
    let id_number = demo_id_number(rng, birth_date, gender);
    let (township_code, township_name) = *TOWNSHIPS.choose(rng).unwrap_or(&TOWNSHIPS[0]);
    let village = rng.random_range(1..=VILLAGES_PER_TOWNSHIP);
    let region = format!("{COUNTY}{township_code}{village:03}");
    let village_name = VILLAGE_NAMES[(village as usize - 1) % VILLAGE_NAMES.len()];
    let name = format!(
        "{}{}",
        SURNAMES.choose(rng).unwrap_or(&"王"),
        GIVEN.choose(rng).unwrap_or(&"秀英")
    );
    let risk = *[
        (RiskLevel::Low, 50),
        (RiskLevel::Medium, 30),
        (RiskLevel::High, 15),
        (RiskLevel::Crisis, 5),
    ]
    .choose_weighted(rng, |(_, weight)| *weight)
    .map(|(level, _)| level)
    .unwrap_or(&RiskLevel::Low);
    let organization = &organizations[index as usize % organizations.len()];
    let worker = *organization
        .workers
        .choose(rng)
        .unwrap_or(&organization.workers[0]);
    let opened_on = days_before(today, rng.random_range(200..=400));

    let command = |action: CaseAction| CaseCommand { today, action };
    let mut plan = vec![
        command(CaseAction::OpenCase(OpenCase {
            name,
            gender,
            birth_date,
            id_number,
            phone: format!(
                "13{}{:08}",
                rng.random_range(0..10),
                rng.random_range(0..100_000_000)
            ),
            address: format!(
                "江西省南昌市南昌县{township_name}{village_name}村{}组{}号",
                rng.random_range(1..=9),
                rng.random_range(1..=80)
            ),
            residence_region: region,
            categories,
            identified_via: *IdentificationChannel::ALL
                .choose(rng)
                .unwrap_or(&IdentificationChannel::ALL[0]),
            risk_level: risk,
            organization_id: Some(organization.id),
            opened_on,
        })),
        command(CaseAction::RecordProfile(RecordProfile {
            economic_source: ["低保金", "养老金", "子女赡养", "务农收入", "特困供养金"]
                .choose(rng)
                .unwrap_or(&"低保金")
                .to_string(),
            family_structure: ["独居", "老两口同住", "与孙辈同住", "与父母同住"]
                .choose(rng)
                .unwrap_or(&"独居")
                .to_string(),
            health: ["基本健康", "高血压", "糖尿病、行动不便", "长期卧床"]
                .choose(rng)
                .unwrap_or(&"基本健康")
                .to_string(),
            care_situation: ["子女在外务工，邻居照看", "村医定期随访", "无人照料"]
                .choose(rng)
                .unwrap_or(&"无人照料")
                .to_string(),
            lives_alone: rng.random_bool(0.4),
            monthly_income_fen: rng.random_range(30_000..=250_000),
            notes: "建档时入户核实".to_owned(),
            recorded_on: opened_on,
        })),
        command(CaseAction::AssessRisk(AssessRisk {
            level: risk,
            factors: RiskFactor::ALL.choose_multiple(rng, 2).copied().collect(),
            assessed_on: opened_on,
        })),
        command(CaseAction::AssignCaregiver(AssignCaregiver {
            organization_id: organization.id,
            worker_id: worker,
            arrangement: *HelpArrangement::ALL
                .choose(rng)
                .unwrap_or(&HelpArrangement::ALL[0]),
            started_on: opened_on,
        })),
    ];

    // A year of visits at the rhythm the risk tier asks for, with jitter.
    let interval = match risk {
        RiskLevel::Crisis | RiskLevel::High => 7,
        RiskLevel::Medium => 30,
        RiskLevel::Low => 90,
    };
    let mut day = opened_on;
    let mut visit_versions = Vec::new();
    let mut service_day = opened_on;
    loop {
        let jitter = rng.random_range(0..=interval / 3 + 1);
        day = day + Days::new(interval + jitter - interval / 6);
        if day > today {
            break;
        }
        visit_versions.push(plan.len() as u64 + 1);
        plan.push(command(CaseAction::RecordVisit(RecordVisit {
            visited_on: day,
            visitor_ids: vec![worker],
            method: *VisitMethod::ALL.choose(rng).unwrap_or(&VisitMethod::ALL[0]),
            minutes: rng.random_range(10..=120),
            findings: [
                "身体状况平稳",
                "屋内卫生较差，需协助清扫",
                "情绪低落，思念子女",
                "药品即将用完",
            ]
            .choose(rng)
            .unwrap_or(&"身体状况平稳")
            .to_string(),
            wellbeing_notes: ["精神尚可", "睡眠不好", "血压偏高", "情绪稳定"]
                .choose(rng)
                .unwrap_or(&"精神尚可")
                .to_string(),
            follow_up_needed: rng.random_bool(0.2),
        })));
        if (day - service_day).num_days() >= 45 && rng.random_bool(0.6) {
            service_day = day;
            let service_count = rng.random_range(1..=2);
            let service_types = ServiceType::ALL
                .choose_multiple(rng, service_count)
                .copied()
                .collect();
            let charitable = rng.random_bool(0.3);
            plan.push(command(CaseAction::RecordService(RecordService {
                delivered_on: day,
                service_types,
                action_line: ActionLine::ALL.choose(rng).copied(),
                provider_organization_id: organization.id,
                volunteers: rng.random_range(0..=4),
                minutes: rng.random_range(30..=240),
                money_fen: if charitable {
                    rng.random_range(0..=50_000)
                } else {
                    0
                },
                material_value_fen: if charitable {
                    rng.random_range(0..=80_000)
                } else {
                    0
                },
                description: "上门开展关爱服务".to_owned(),
            })));
        }
    }

    if rng.random_bool(0.2) {
        let referral_id = uuid_from(rng);
        let referred_on = days_before(today, rng.random_range(30..=150));
        plan.push(command(CaseAction::MakeReferral(MakeReferral {
            referral_id,
            department: *Department::ALL
                .choose(rng)
                .unwrap_or(&Department::SocialAssistance),
            reason: "需协调落实相关保障政策".to_owned(),
            referred_on,
        })));
        if rng.random_bool(0.7) {
            plan.push(command(CaseAction::ResolveReferral(ResolveReferral {
                referral_id,
                answer: "已办结，相关待遇已落实".to_owned(),
                resolved_on: days_before(today, rng.random_range(0..=25)),
            })));
        }
    }
    if let Some(&version) = visit_versions.first().filter(|_| rng.random_bool(0.05)) {
        let mut fields = serde_json::Map::new();
        fields.insert("minutes".to_owned(), serde_json::json!(45));
        plan.push(command(CaseAction::CorrectEntry(CorrectEntry {
            corrected_version: version,
            corrected_fields: fields,
            reason: "补录时服务时长填写有误".to_owned(),
        })));
    }
    if rng.random_bool(0.3) {
        plan.push(command(CaseAction::RecordOutcome(RecordOutcome {
            goal: "生活有人照应，每周至少一次探访".to_owned(),
            achievement: *OutcomeAchievement::ALL
                .choose(rng)
                .unwrap_or(&OutcomeAchievement::Achieved),
            satisfaction: rng.random_range(3..=5),
            own_words: ["社工常来看我，心里踏实", "服务很好", "希望多来几次"]
                .choose(rng)
                .unwrap_or(&"服务很好")
                .to_string(),
            evaluated_on: today,
        })));
    }
    if rng.random_bool(0.05) {
        plan.push(command(CaseAction::CloseCase(CloseCase {
            reason: *[
                CloseReason::MovedAway,
                CloseReason::GoalAchieved,
                CloseReason::NoLongerEligible,
            ]
            .choose(rng)
            .unwrap_or(&CloseReason::GoalAchieved),
            note: "经评估结案".to_owned(),
            closed_on: today,
        })));
    }
    plan
}

/// A valid 18-character ID number (GB 11643) for a person of the demo county.
fn demo_id_number(rng: &mut StdRng, birth_date: NaiveDate, gender: Gender) -> String {
    let mut sequence: u32 = rng.random_range(0..500) * 2;
    if gender == Gender::Male {
        sequence += 1;
    }
    let first_17 = format!("{COUNTY}{}{sequence:03}", birth_date.format("%Y%m%d"));
    let check = IdNumber::check_character_for(&first_17).unwrap_or('0');
    format!("{first_17}{check}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_people_have_valid_id_numbers_and_region_codes() {
        let mut rng = StdRng::seed_from_u64(7);
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let organizations = vec![DemoOrganization {
            id: Uuid::nil(),
            workers: vec![Uuid::nil()],
        }];
        for index in 0..200 {
            let plan = plan_person(&mut rng, index, today, &organizations);
            let CaseAction::OpenCase(open) = &plan[0].action else {
                panic!("first command opens the case")
            };
            let id = IdNumber::parse(&open.id_number).expect("valid ID number");
            assert_eq!(id.birth_date(), open.birth_date);
            assert_eq!(id.gender(), open.gender);
            shouwang_domain::values::RegionCode::parse(&open.residence_region)
                .expect("valid region");
        }
    }
}
