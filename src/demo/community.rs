//! The community side of the demo county: social organizations with members,
//! liaison officers and supply lists; volunteers earning points; needs in
//! every state of the 一社一单 flow; activities (附件1/附件2) with generated
//! evidence photos.

use anyhow::Context;
use chrono::{Days, NaiveDate};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use shouwang_domain::activity::{
    ActivityAction, ActivityCommand, AddParticipatingOrganization, CancelActivity,
    CompleteActivity, PlanActivity, RecordBeneficiaries, RecordFunds, RecordServiceTime,
    WriteDetails,
};
use shouwang_domain::codes::CreditCode;
use shouwang_domain::need::{
    AcceptNeed, DeclineNeed, DispatchNeed, EscalateNeed, EvaluateNeed, FulfilNeed, NeedAction,
    NeedCommand, RaiseNeed, RecordNeedProgress, WithdrawNeed,
};
use shouwang_domain::organization::{
    AddMember, AddSupplyEntry, DesignateLiaison, OrganizationAction, OrganizationCommand,
    RegisterOrganization, SuspendOrganization,
};
use shouwang_domain::vocabulary::{
    ActionLine, EscalationLevel, FundSource, MemberRole, NeedCategory, NeedSource, NeedUrgency,
    OrganizationKind, RegionLevel, ServiceType,
};
use shouwang_domain::volunteer::{
    CreditPoints, CreditSource, RedeemPoints, RegisterVolunteer, VolunteerAction, VolunteerCommand,
};
use shouwang_infrastructure::{Application, CommandMetadata};
use uuid::Uuid;

use super::ids::DemoIds;
use super::images::demo_png;
use super::{COUNTY, DemoOrganization, TOWNSHIPS, days_before};

const ORGANIZATION_NAMES: &[(&str, OrganizationKind)] = &[
    (
        "南昌县莲塘镇社会工作服务站",
        OrganizationKind::SocialWorkAgency,
    ),
    (
        "南昌县向塘镇邻里守望志愿服务队",
        OrganizationKind::VolunteerOrganization,
    ),
    (
        "南昌县三江镇乐龄互助会",
        OrganizationKind::ServicesForResidents,
    ),
    (
        "南昌县心语心理援助中心",
        OrganizationKind::PsychologicalAssistance,
    ),
    (
        "南昌县社区社会组织联合会",
        OrganizationKind::HubOrganization,
    ),
    ("南昌县公益法律服务社", OrganizationKind::LegalServices),
];

/// What the community part wrote.
#[derive(Debug, Default)]
pub struct CommunityCounts {
    pub organizations: u64,
    pub volunteers: u64,
    pub needs: u64,
    pub activities: u64,
    pub evidence_images: u64,
    pub events: u64,
}

struct Writer<'a> {
    app: &'a Application,
    today: NaiveDate,
    counts: CommunityCounts,
    ids: DemoIds,
}

impl Writer<'_> {
    /// `CommandMetadata::system("demo")` with a command id drawn from the
    /// seed instead of the clock.
    fn meta(&mut self) -> CommandMetadata {
        let command_id = self.ids.next();
        CommandMetadata {
            command_id,
            correlation_id: command_id,
            ..CommandMetadata::system("demo")
        }
    }

    async fn organization(
        &mut self,
        id: Uuid,
        action: impl Into<OrganizationAction>,
    ) -> anyhow::Result<()> {
        let metadata = self.meta();
        let receipt = self
            .app
            .organizations
            .execute(
                &id.to_string(),
                OrganizationCommand::new(self.today, action),
                metadata,
            )
            .await
            .map_err(|e| anyhow::anyhow!("演示数据的社会组织指令失败：{e}"))?;
        self.counts.events += receipt.events;
        Ok(())
    }

    async fn need(&mut self, id: Uuid, action: impl Into<NeedAction>) -> anyhow::Result<()> {
        let metadata = self.meta();
        let receipt = self
            .app
            .execute_need(id, NeedCommand::new(self.today, action), metadata)
            .await
            .map_err(|e| anyhow::anyhow!("演示数据的需求指令失败：{e}"))?;
        self.counts.events += receipt.events;
        Ok(())
    }

    async fn activity(
        &mut self,
        id: Uuid,
        action: impl Into<ActivityAction>,
    ) -> anyhow::Result<()> {
        let metadata = self.meta();
        let receipt = self
            .app
            .execute_activity(id, ActivityCommand::new(self.today, action), metadata)
            .await
            .map_err(|e| anyhow::anyhow!("演示数据的活动指令失败：{e}"))?;
        self.counts.events += receipt.events;
        Ok(())
    }

    async fn volunteer(
        &mut self,
        id: Uuid,
        action: impl Into<VolunteerAction>,
    ) -> anyhow::Result<()> {
        let metadata = self.meta();
        let receipt = self
            .app
            .volunteers
            .execute(
                &id.to_string(),
                VolunteerCommand::new(self.today, action),
                metadata,
            )
            .await
            .map_err(|e| anyhow::anyhow!("演示数据的志愿者指令失败：{e}"))?;
        self.counts.events += receipt.events;
        Ok(())
    }
}

/// The name and kind of the demo's `index`-th organization: the six of the
/// county first, then further stations of the same kinds at province scale.
fn organization_name(index: usize) -> (String, OrganizationKind) {
    let (name, kind) = ORGANIZATION_NAMES[index % ORGANIZATION_NAMES.len()];
    match index / ORGANIZATION_NAMES.len() {
        0 => (name.to_owned(), kind),
        round => (format!("{name}第{}分站", round + 1), kind),
    }
}

/// A valid 统一社会信用代码 for a social organization registered by the
/// county's civil-affairs bureau (登记管理机关 5 = 民政, 类别 2 = 社会服务机构).
fn credit_code(index: usize) -> anyhow::Result<String> {
    let first_17 = format!("52{COUNTY}MJ{:07}", 1_000 + index);
    let check = CreditCode::check_character_for(&first_17).context("校验码")?;
    Ok(format!("{first_17}{check}"))
}

pub async fn generate(
    app: &Application,
    seed: u64,
    today: NaiveDate,
    organizations: &[DemoOrganization],
    case_ids: &[Uuid],
    people: u32,
) -> anyhow::Result<CommunityCounts> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5EED_C0DE);
    let mut writer = Writer {
        app,
        today,
        counts: CommunityCounts::default(),
        ids: DemoIds::new(seed, 1),
    };
    let registered_on = days_before(today, 420);

    for (index, organization) in organizations.iter().enumerate() {
        let (name, kind) = organization_name(index);
        let (township, _) = TOWNSHIPS[index % TOWNSHIPS.len()];
        let hub = kind == OrganizationKind::HubOrganization;
        writer
            .organization(
                organization.id,
                RegisterOrganization {
                    name,
                    credit_code: credit_code(index)?,
                    kind,
                    level: if hub {
                        RegionLevel::County
                    } else {
                        RegionLevel::Township
                    },
                    region_code: if hub {
                        format!("{COUNTY}000000")
                    } else {
                        format!("{COUNTY}{township}000")
                    },
                    hub,
                    registered_on,
                },
            )
            .await?;
        for (number, worker) in organization.workers.iter().enumerate() {
            writer
                .organization(
                    organization.id,
                    AddMember {
                        member_id: *worker,
                        display_name: format!(
                            "社工{}{}",
                            ["张", "李", "王", "刘", "陈"][number % 5],
                            number + 1
                        ),
                        role: if number == 0 {
                            MemberRole::PersonInCharge
                        } else {
                            MemberRole::SocialWorker
                        },
                        joined_on: registered_on,
                    },
                )
                .await?;
        }
        writer
            .organization(
                organization.id,
                DesignateLiaison {
                    member_id: organization.workers[0],
                    designated_on: registered_on,
                },
            )
            .await?;
        for service_type in ServiceType::ALL.choose_multiple(&mut rng, 3) {
            writer
                .organization(
                    organization.id,
                    AddSupplyEntry {
                        service_type: *service_type,
                        areas: vec![format!("{COUNTY}{township}")],
                        description: format!("{}，每周服务", service_type.label_zh()),
                    },
                )
                .await?;
        }
        writer.counts.organizations += 1;
    }
    // One organization is suspended: it cannot receive dispatches.
    let suspended = organizations.last().context("演示组织")?;
    writer
        .organization(
            suspended.id,
            SuspendOrganization {
                reason: "年度检查未通过，限期整改".into(),
                suspended_on: days_before(today, 30),
            },
        )
        .await?;
    let active: Vec<&DemoOrganization> = organizations[..organizations.len() - 1].iter().collect();

    // Activities (附件1/附件2), most completed with evidence photos, one cancelled.
    // Up to a county's worth as before; at province scale one per 500
    // people (at most 2,000), as they go through the command bus one by one.
    let activity_count = (people / 20).clamp(3, 200).max((people / 500).min(2_000));
    let mut activity_ids = Vec::new();
    for index in 0..activity_count {
        let id = writer.ids.next();
        let organizer = active[index as usize % active.len()];
        let (township, township_name) = *TOWNSHIPS.choose(&mut rng).context("乡镇")?;
        let day = days_before(today, rng.random_range(10..=300));
        let starts_at = day.and_hms_opt(9, 0, 0).context("时间")?;
        let ends_at = day.and_hms_opt(16, 30, 0).context("时间")?;
        let action_line = *ActionLine::ALL.choose(&mut rng).context("行动")?;
        writer
            .activity(
                id,
                PlanActivity {
                    name: format!(
                        "{township_name}“{}”关爱行动第{}期",
                        action_line.label_zh(),
                        index + 1
                    ),
                    organizer_name: ORGANIZATION_NAMES
                        [index as usize % (ORGANIZATION_NAMES.len() - 1)]
                        .0
                        .to_owned(),
                    organizer_organization_id: Some(organizer.id),
                    action_line: Some(action_line),
                    region_code: format!("{COUNTY}{township}000"),
                    region_level: RegionLevel::Township,
                    place: format!("{township_name}新时代文明实践站"),
                    starts_at,
                    ends_at,
                    leader: ["刘建国", "陈海燕", "熊文斌", "万丽萍"]
                        .choose(&mut rng)
                        .context("负责人")?
                        .to_string(),
                },
            )
            .await?;
        if index == activity_count - 1 {
            writer
                .activity(
                    id,
                    CancelActivity {
                        reason: "暴雨预警，活动取消".into(),
                        cancelled_on: day,
                    },
                )
                .await?;
            writer.counts.activities += 1;
            continue;
        }
        for participant in active.choose_multiple(&mut rng, 2) {
            let (name, _) = organization_name(
                organizations
                    .iter()
                    .position(|o| o.id == participant.id)
                    .unwrap_or(0),
            );
            writer
                .activity(
                    id,
                    AddParticipatingOrganization {
                        organization_name: name,
                        organization_id: Some(participant.id),
                        headcount: rng.random_range(3..=15),
                    },
                )
                .await?;
        }
        writer
            .activity(
                id,
                RecordFunds {
                    source: *FundSource::ALL.choose(&mut rng).context("资金来源")?,
                    money_fen: rng.random_range(0..=20_000) * 100,
                    material_value_fen: rng.random_range(0..=500_000),
                    note: "慰问物资与活动经费".into(),
                },
            )
            .await?;
        let persons = rng.random_range(10..=60);
        let linked: Vec<Uuid> = case_ids
            .choose_multiple(&mut rng, 3.min(case_ids.len()))
            .copied()
            .collect();
        writer
            .activity(
                id,
                RecordBeneficiaries {
                    person_times: persons + rng.random_range(0..=20),
                    persons: persons.max(linked.len() as u32),
                    linked_case_ids: linked,
                    missing_case_ids: Vec::new(),
                },
            )
            .await?;
        let minutes = rng.random_range(600..=6_000);
        writer.activity(id, RecordServiceTime { minutes }).await?;
        writer
            .activity(
                id,
                WriteDetails {
                    details: format!(
                        "本次活动由{}牵头，联合辖区社会组织和志愿者，围绕{}开展入户探访、健康义诊、政策宣传和生活照料服务，\
                         为辖区空巢老人、留守儿童等困难群众送去慰问物资，现场登记需求并列入需求台账，做到一人一档、动态更新。",
                        ORGANIZATION_NAMES[0].0,
                        action_line.label_zh()
                    ),
                },
            )
            .await?;
        let images = rng.random_range(1..=2);
        for image in 0..images {
            let bytes = demo_png(u64::from(index) * 10 + image, 96, 64);
            let metadata = writer.meta();
            app.upload_evidence(
                id,
                today,
                &bytes,
                &format!("活动现场{}.png", image + 1),
                metadata,
            )
            .await
            .map_err(|e| anyhow::anyhow!("演示数据的佐证图片上传失败：{e}"))?;
            writer.counts.evidence_images += 1;
            writer.counts.events += 1;
        }
        writer
            .activity(
                id,
                CompleteActivity {
                    actual_starts_at: starts_at,
                    actual_ends_at: ends_at,
                    person_times: persons + 5,
                    persons,
                    service_minutes: minutes,
                    completed_on: day,
                },
            )
            .await?;
        activity_ids.push(id);
        writer.counts.activities += 1;
    }

    // Volunteers credited for the activities they served in.
    let volunteer_count = (people / 10).clamp(5, 500).max((people / 200).min(5_000));
    for index in 0..volunteer_count {
        let id = writer.ids.next();
        let organization = active[index as usize % active.len()];
        writer
            .volunteer(
                id,
                RegisterVolunteer {
                    organization_id: organization.id,
                    name: format!(
                        "{}{}",
                        ["熊", "万", "涂", "喻", "邹"][index as usize % 5],
                        ["志勇", "春兰", "晓燕", "国平"][index as usize % 4]
                    ),
                    phone: format!("139{:08}", rng.random_range(0..100_000_000)),
                    registered_on: registered_on + Days::new(10),
                },
            )
            .await?;
        for activity in activity_ids.choose_multiple(&mut rng, 2) {
            writer
                .volunteer(
                    id,
                    CreditPoints {
                        source: CreditSource::Activity(*activity),
                        verified_minutes: rng.random_range(60..=480),
                        verified_by: organization.workers[0],
                        verified_on: days_before(today, 5),
                    },
                )
                .await?;
        }
        if index % 3 == 0 && !activity_ids.is_empty() {
            writer
                .volunteer(
                    id,
                    RedeemPoints {
                        reward: "爱心超市兑换生活用品".into(),
                        points: 5,
                        redeemed_on: days_before(today, 2),
                    },
                )
                .await?;
        }
        writer.counts.volunteers += 1;
    }

    // Needs in every state of the flow.
    let need_count = (people / 4).clamp(8, 2_000).max((people / 50).min(20_000));
    for index in 0..need_count {
        let id = writer.ids.next();
        let case_id = case_ids
            .get(index as usize % case_ids.len().max(1))
            .copied();
        let (township, _) = *TOWNSHIPS.choose(&mut rng).context("乡镇")?;
        let raised_on = days_before(today, rng.random_range(20..=120));
        let organization = active[index as usize % active.len()];
        let (category, description) = *[
            (NeedCategory::Living, "家中灯泡损坏，夜间行动不便"),
            (NeedCategory::Medical, "需要陪同到县医院复查"),
            (NeedCategory::Education, "孩子需要课后学业辅导"),
            (NeedCategory::Environment, "村组道路缺少路灯"),
            (NeedCategory::Legal, "赡养纠纷需要法律咨询"),
            (NeedCategory::Psychological, "独居后情绪低落，需要心理疏导"),
        ]
        .choose(&mut rng)
        .context("需求")?;
        let community = category == NeedCategory::Environment;
        writer
            .need(
                id,
                RaiseNeed {
                    case_id: if community { None } else { case_id },
                    region_code: format!("{COUNTY}{township}{:03}", rng.random_range(1..=12)),
                    category,
                    description: description.to_owned(),
                    micro_wish: !community && rng.random_bool(0.5),
                    urgency: *NeedUrgency::ALL.choose(&mut rng).context("紧急程度")?,
                    source: *NeedSource::ALL.choose(&mut rng).context("来源")?,
                    raised_on,
                },
            )
            .await?;
        let dispatched_on = raised_on + Days::new(2);
        let dispatch = DispatchNeed {
            organization_id: organization.id,
            organization_active: true,
            // Some orders fall due before today and stay open: overdue.
            due_on: dispatched_on + Days::new(rng.random_range(7..=30)),
            dispatched_on,
            instructions: String::new(),
        };
        match index % 8 {
            0 => {} // on the ledger
            1 => writer.need(id, dispatch).await?,
            2 => {
                writer.need(id, dispatch).await?;
                writer
                    .need(
                        id,
                        AcceptNeed {
                            acting_organization_id: organization.id,
                            accepted_on: dispatched_on + Days::new(1),
                        },
                    )
                    .await?;
                writer
                    .need(
                        id,
                        RecordNeedProgress {
                            acting_organization_id: organization.id,
                            note: "已联系需求人，约定上门时间".into(),
                            recorded_on: dispatched_on + Days::new(2),
                        },
                    )
                    .await?;
            }
            3 | 4 => {
                writer.need(id, dispatch.clone()).await?;
                if index % 8 == 4 {
                    writer
                        .need(
                            id,
                            DeclineNeed {
                                acting_organization_id: organization.id,
                                reason: "服务范围不符".into(),
                                declined_on: dispatched_on + Days::new(1),
                            },
                        )
                        .await?;
                    writer
                        .need(
                            id,
                            DispatchNeed {
                                dispatched_on: dispatched_on + Days::new(1),
                                ..dispatch.clone()
                            },
                        )
                        .await?;
                }
                writer
                    .need(
                        id,
                        AcceptNeed {
                            acting_organization_id: organization.id,
                            accepted_on: dispatched_on + Days::new(2),
                        },
                    )
                    .await?;
                writer
                    .need(
                        id,
                        FulfilNeed {
                            acting_organization_id: organization.id,
                            what_was_done: "已上门服务并解决".into(),
                            minutes: rng.random_range(30..=240),
                            money_fen: 0,
                            material_value_fen: rng.random_range(0..=20_000),
                            evidence: Vec::new(),
                            fulfilled_on: dispatched_on + Days::new(5),
                        },
                    )
                    .await?;
                if index % 8 == 4 {
                    writer
                        .need(
                            id,
                            EvaluateNeed {
                                satisfaction: rng.random_range(3..=5),
                                words: "服务及时，很满意".into(),
                                evaluated_on: dispatched_on + Days::new(6),
                            },
                        )
                        .await?;
                }
            }
            5 => {
                writer
                    .need(
                        id,
                        EscalateNeed {
                            to: EscalationLevel::City,
                            department: None,
                            reason: "县域内社会组织无法满足，报请市级统筹".into(),
                            escalated_on: raised_on + Days::new(3),
                        },
                    )
                    .await?
            }
            6 => {
                writer
                    .need(
                        id,
                        WithdrawNeed {
                            reason: "需求人已通过其他渠道解决".into(),
                            withdrawn_on: raised_on + Days::new(4),
                        },
                    )
                    .await?
            }
            _ => {
                writer.need(id, dispatch).await?;
                writer
                    .need(
                        id,
                        AcceptNeed {
                            acting_organization_id: organization.id,
                            accepted_on: dispatched_on + Days::new(1),
                        },
                    )
                    .await?;
            }
        }
        writer.counts.needs += 1;
    }
    Ok(writer.counts)
}
