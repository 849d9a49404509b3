//! The permission matrix, enforced in this one place (see
//! docs/PERMISSIONS.md, which a test keeps in step with this table).

use shouwang_domain::vocabulary::UserRole;
use shouwang_infrastructure::users::User;
use uuid::Uuid;

use crate::error::ApiError;

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// Read case lists, case files and their timelines (personal fields absent).
    ReadCases,
    /// Replay a case's history event by event and see it as of a version or
    /// an instant (time travel).
    ReplayCases,
    /// See a case's personal fields in full (written to the access log).
    RevealPersonalData,
    /// Open a new case.
    OpenCase,
    /// Record visits, services, profile, referrals, outcomes, corrections.
    RecordOnCase,
    /// Assign and release caregivers, risk, categories, transfer, close, reopen.
    ManageCase,
    /// Erase a person's personal data (个人信息保护法 第47条).
    ErasePersonalData,
    /// Open a case outside one's scope for 3 hours, giving a reason.
    BreakGlass,
    /// See an organization's registration, members and supply list, and a
    /// volunteer's points.
    ReadOrganizations,
    /// Register organizations, members, liaisons, supply lists, suspension.
    ManageOrganizations,
    /// Register volunteers, credit and redeem points.
    ManageVolunteers,
    /// Raise a need (household survey, visit).
    RaiseNeed,
    /// Dispatch a need to an organization (派单) or withdraw it.
    DispatchNeed,
    /// Accept, decline, report progress on, fulfil one's own dispatches.
    RespondToDispatch,
    /// Record the resident's evaluation of a fulfilled need.
    EvaluateNeed,
    /// Escalate a need to a higher level or a department.
    EscalateNeed,
    /// Plan and record activities, upload evidence.
    ManageActivities,
    /// See one's own caseload (包户名单) and the visits falling due.
    ReadOwnCaseload,
    /// Read ledgers, caseloads, statistics, reports.
    ReadReports,
    /// Generate evaluation reports.
    GenerateReports,
    /// Read the audit trail and the access log.
    ReadAudit,
    /// Manage users.
    ManageUsers,
}

impl Operation {
    pub const ALL: [Operation; 22] = [
        Operation::ReadCases,
        Operation::ReplayCases,
        Operation::RevealPersonalData,
        Operation::OpenCase,
        Operation::RecordOnCase,
        Operation::ManageCase,
        Operation::ErasePersonalData,
        Operation::BreakGlass,
        Operation::ReadOrganizations,
        Operation::ManageOrganizations,
        Operation::ManageVolunteers,
        Operation::RaiseNeed,
        Operation::DispatchNeed,
        Operation::RespondToDispatch,
        Operation::EvaluateNeed,
        Operation::EscalateNeed,
        Operation::ManageActivities,
        Operation::ReadOwnCaseload,
        Operation::ReadReports,
        Operation::GenerateReports,
        Operation::ReadAudit,
        Operation::ManageUsers,
    ];

    /// Chinese description for refusals and the permissions document.
    pub fn label_zh(self) -> &'static str {
        match self {
            Operation::ReadCases => "查看个案档案",
            Operation::ReplayCases => "回放个案历史",
            Operation::RevealPersonalData => "查看完整个人信息",
            Operation::OpenCase => "新建个案",
            Operation::RecordOnCase => "记录探访、服务、转介、成效",
            Operation::ManageCase => "分派包户社工、评估风险、转移、结案与重开",
            Operation::ErasePersonalData => "依法删除个人信息",
            Operation::BreakGlass => "紧急查看辖区外个案",
            Operation::ReadOrganizations => "查看社会组织与志愿者积分",
            Operation::ManageOrganizations => "管理社会组织",
            Operation::ManageVolunteers => "管理志愿者积分",
            Operation::RaiseNeed => "登记需求",
            Operation::DispatchNeed => "派单与撤回需求",
            Operation::RespondToDispatch => "接单、拒单、办结本组织的派单",
            Operation::EvaluateNeed => "记录群众评价",
            Operation::EscalateNeed => "上报需求",
            Operation::ManageActivities => "管理活动与佐证材料",
            Operation::ReadOwnCaseload => "查看本人的包户名单与探访提醒",
            Operation::ReadReports => "查看台账、统计与报表",
            Operation::GenerateReports => "生成评估报表",
            Operation::ReadAudit => "查看审计记录与访问日志",
            Operation::ManageUsers => "管理用户",
        }
    }
}

/// The matrix: may a role perform an operation at all (scope aside)?
pub fn role_allows(role: UserRole, operation: Operation) -> bool {
    use Operation::*;
    use UserRole::*;
    match operation {
        ReadCases => matches!(role, SocialWorker | Supervisor | Official | Auditor),
        // Supervisors replay who did what and when, officials and auditors
        // check it; workers see the timeline, which is enough for the doorstep.
        ReplayCases => matches!(role, Supervisor | Official | Auditor),
        RevealPersonalData => matches!(role, SocialWorker | Supervisor | Official | Auditor),
        OpenCase | RecordOnCase | RaiseNeed => matches!(role, SocialWorker | Supervisor),
        ManageCase => matches!(role, Supervisor),
        ErasePersonalData => matches!(role, Supervisor | Official),
        BreakGlass => matches!(role, Supervisor | Official),
        // Workers serve with organizations, supervisors dispatch to them,
        // auditors evaluate them: all need to see who they are.
        ReadOrganizations => matches!(role, SocialWorker | Supervisor | Official | Auditor),
        ManageOrganizations => matches!(role, Official),
        ManageVolunteers => matches!(role, Supervisor | Official),
        DispatchNeed => matches!(role, Supervisor | Official),
        RespondToDispatch => matches!(role, SocialWorker | Supervisor),
        EvaluateNeed => matches!(role, SocialWorker | Supervisor),
        EscalateNeed => matches!(role, Official),
        ManageActivities => matches!(role, SocialWorker | Supervisor | Official),
        // Whoever is assigned to look after people (包户) must see whose visit is due.
        ReadOwnCaseload => matches!(role, SocialWorker | Supervisor),
        ReadReports => matches!(role, Supervisor | Official | Auditor),
        GenerateReports => matches!(role, Supervisor | Official),
        ReadAudit => matches!(role, Supervisor | Auditor | Admin),
        ManageUsers => matches!(role, Admin),
    }
}

/// True when a region code lies within the user's scope.
pub fn in_scope(user: &User, region: &str) -> bool {
    region.starts_with(&user.region_scope)
}

/// Refuses unless the user's role allows the operation.
pub fn require(user: &User, operation: Operation) -> Result<(), ApiError> {
    if role_allows(user.role, operation) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "您的角色（{}）不能{}",
            user.role.label_zh(),
            operation.label_zh()
        )))
    }
}

/// Refuses unless the role allows it and the region lies within scope.
pub fn require_in_scope(user: &User, operation: Operation, region: &str) -> Result<(), ApiError> {
    require(user, operation)?;
    if in_scope(user, region) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "该记录（区划 {region}）不在您的管辖范围（{}）内；如确有紧急需要，督导或民政干部可说明理由后临时查看",
            if user.region_scope.is_empty() {
                "全国"
            } else {
                &user.region_scope
            }
        )))
    }
}

/// Refuses a response to a dispatch unless it is the user's own organization's.
pub fn require_own_organization(user: &User, organization_id: Uuid) -> Result<(), ApiError> {
    require(user, Operation::RespondToDispatch)?;
    if user.organization_id == Some(organization_id) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "只能处理派给本组织的需求；请由接单组织的人员操作",
        ))
    }
}

/// Refuses unless the role may read organizations and this one is the
/// user's own, lies within the user's area, or serves it (a county
/// organization serves every township of the county).
pub fn require_organization_visible(
    user: &User,
    organization_id: Uuid,
    region: &str,
) -> Result<(), ApiError> {
    require(user, Operation::ReadOrganizations)?;
    let serves_users_area = !region.is_empty() && user.region_scope.starts_with(region);
    if user.organization_id == Some(organization_id) || serves_users_area {
        return Ok(());
    }
    require_in_scope(user, Operation::ReadOrganizations, region)
}

/// Refuses unless the user may see the caseload of `worker_id`: their own
/// (a caregiver's list of visits due, ReadOwnCaseload), or anyone's with
/// ReadReports. The cases shown are still limited to the user's scope.
pub fn require_worker_caseload(user: &User, worker_id: Uuid) -> Result<(), ApiError> {
    if worker_id == user.id && role_allows(user.role, Operation::ReadOwnCaseload) {
        return Ok(());
    }
    if role_allows(user.role, Operation::ReadOwnCaseload)
        && !role_allows(user.role, Operation::ReadReports)
    {
        return Err(ApiError::forbidden(
            "您只能查看本人的包户名单：请不填 worker 参数，或填写您本人的编号",
        ));
    }
    require(user, Operation::ReadReports)
}

/// Which of an organization's orders (一社一单) a user may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrdersVisible {
    /// Every order: the user belongs to the organization and carries them out.
    All,
    /// Only orders for needs within the user's scope.
    WithinScope,
}

/// Refuses unless the user may read an organization's orders. Its own
/// people who respond to dispatches (接单、办结) see all of them — they are
/// the ones who must meet them, wherever the needs lie. Readers of reports
/// see the orders for needs within their scope, of an organization
/// registered within their area or serving it (a county organization serves
/// every township of the county).
pub fn require_orders_visible(
    user: &User,
    organization_id: Uuid,
    organization_region: &str,
) -> Result<OrdersVisible, ApiError> {
    if user.organization_id == Some(organization_id)
        && role_allows(user.role, Operation::RespondToDispatch)
    {
        return Ok(OrdersVisible::All);
    }
    require(user, Operation::ReadReports)?;
    let serves_users_area =
        !organization_region.is_empty() && user.region_scope.starts_with(organization_region);
    if !serves_users_area {
        require_in_scope(user, Operation::ReadReports, organization_region)?;
    }
    Ok(OrdersVisible::WithinScope)
}

/// Auditors see personal values masked.
pub fn sees_masked(user: &User) -> bool {
    user.role == UserRole::Auditor
}

/// The permission matrix as a Markdown table (docs/PERMISSIONS.md is
/// generated from it and checked against it by a test).
pub fn matrix_markdown() -> String {
    let mut out = String::from("| 操作 operation |");
    for role in UserRole::ALL {
        out.push_str(&format!(" {} `{}` |", role.label_zh(), role.code()));
    }
    out.push_str("\n| --- |");
    for _ in UserRole::ALL {
        out.push_str(" :-: |");
    }
    out.push('\n');
    for operation in Operation::ALL {
        out.push_str(&format!("| {} `{:?}` |", operation.label_zh(), operation));
        for role in UserRole::ALL {
            out.push_str(if role_allows(*role, operation) {
                " ✓ |"
            } else {
                " — |"
            });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/PERMISSIONS.md carries the matrix this module enforces; the
    /// document must never drift from the code.
    #[test]
    fn the_permissions_document_shows_the_enforced_matrix() {
        let document = include_str!("../../docs/PERMISSIONS.md");
        let table = matrix_markdown();
        assert!(
            document.contains(&table),
            "docs/PERMISSIONS.md is out of date; replace its table with:\n<<<TABLE\n{table}TABLE>>>"
        );
    }

    #[test]
    fn auditors_never_write_and_admins_only_manage_users_and_read_audit() {
        for operation in Operation::ALL {
            let name = format!("{operation:?}");
            let writes = !["Read", "Reveal", "Replay"]
                .iter()
                .any(|read| name.starts_with(read));
            if writes {
                assert!(!role_allows(UserRole::Auditor, operation), "{operation:?}");
            }
            let admin_may = matches!(operation, Operation::ManageUsers | Operation::ReadAudit);
            assert_eq!(
                role_allows(UserRole::Admin, operation),
                admin_may,
                "{operation:?}"
            );
        }
    }
}
