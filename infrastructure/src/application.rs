//! The application layer: the command buses of every aggregate, plus the few
//! facts one aggregate's decision needs from another. Decisions stay pure —
//! these facts are looked up here and put into the command before it runs.

use shouwang_domain::activity::{ActivityAction, ActivityCommand, ActivityError, AttachEvidence};
use shouwang_domain::care_case::CareCase;
use shouwang_domain::need::{NeedAction, NeedCommand, NeedError};
use shouwang_domain::organization::Organization;
use shouwang_domain::volunteer::PointsPolicy;
use uuid::Uuid;

use crate::attachments::{AttachmentError, StoredAttachment, store_attachment};
use crate::buses::{
    ActivityBus, CareCaseBus, NeedBus, OrganizationBus, VolunteerBus, activity_bus, care_case_bus,
    need_bus, organization_bus, volunteer_bus,
};
use crate::command_bus::{CommandError, CommandMetadata, CommandReceipt};
use crate::error::StoreError;
use crate::store::Store;

/// Every command entry point of the system.
#[derive(Debug)]
pub struct Application {
    store: Store,
    pub cases: CareCaseBus,
    pub organizations: OrganizationBus,
    pub volunteers: VolunteerBus,
    pub needs: NeedBus,
    pub activities: ActivityBus,
}

/// Why an evidence upload failed.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceUploadError {
    #[error(transparent)]
    Attachment(#[from] AttachmentError),
    #[error(transparent)]
    Command(#[from] CommandError<ActivityError>),
}

impl Application {
    pub fn new(store: Store, points: PointsPolicy) -> Self {
        Self {
            cases: care_case_bus(&store),
            organizations: organization_bus(&store),
            volunteers: volunteer_bus(&store, points),
            needs: need_bus(&store),
            activities: activity_bus(&store),
            store,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// True when the organization is registered and not suspended.
    pub async fn organization_is_active(&self, organization_id: Uuid) -> Result<bool, StoreError> {
        if !self.is_stream_of::<Organization>(organization_id).await? {
            return Ok(false);
        }
        let context = self
            .organizations
            .event_store()
            .load_for_decision(&organization_id.to_string())
            .await?;
        Ok(context.aggregate.is_active())
    }

    /// True when a care case with this id has been opened.
    pub async fn case_exists(&self, case_id: Uuid) -> Result<bool, StoreError> {
        self.is_stream_of::<CareCase>(case_id).await
    }

    async fn is_stream_of<A: cqrs_es::Aggregate>(&self, id: Uuid) -> Result<bool, StoreError> {
        Ok(self.store.stream_type(&id.to_string()).await?.as_deref() == Some(A::TYPE))
    }

    /// Runs a need command; a dispatch learns whether the organization is
    /// active from the Organization aggregate.
    pub async fn execute_need(
        &self,
        need_id: Uuid,
        mut command: NeedCommand,
        metadata: CommandMetadata,
    ) -> Result<CommandReceipt, CommandError<NeedError>> {
        if let NeedAction::DispatchNeed(dispatch) = &mut command.action {
            dispatch.organization_active = self
                .organization_is_active(dispatch.organization_id)
                .await
                .map_err(CommandError::Store)?;
        }
        self.needs
            .execute(&need_id.to_string(), command, metadata)
            .await
    }

    /// Runs an activity command; beneficiaries linked to care cases learn
    /// which of those cases do not exist.
    pub async fn execute_activity(
        &self,
        activity_id: Uuid,
        mut command: ActivityCommand,
        metadata: CommandMetadata,
    ) -> Result<CommandReceipt, CommandError<ActivityError>> {
        if let ActivityAction::RecordBeneficiaries(beneficiaries) = &mut command.action {
            let mut missing = Vec::new();
            for case_id in &beneficiaries.linked_case_ids {
                if !self
                    .case_exists(*case_id)
                    .await
                    .map_err(CommandError::Store)?
                {
                    missing.push(*case_id);
                }
            }
            beneficiaries.missing_case_ids = missing;
        }
        self.activities
            .execute(&activity_id.to_string(), command, metadata)
            .await
    }

    /// Stores an evidence image (checked by its bytes) and attaches it to the
    /// activity. Uploading the same bytes twice stores them once.
    pub async fn upload_evidence(
        &self,
        activity_id: Uuid,
        today: chrono::NaiveDate,
        bytes: &[u8],
        file_name: &str,
        metadata: CommandMetadata,
    ) -> Result<(StoredAttachment, CommandReceipt), EvidenceUploadError> {
        let stored = store_attachment(self.store.database(), bytes).await?;
        let command = ActivityCommand {
            today,
            action: ActivityAction::AttachEvidence(AttachEvidence {
                sha256: stored.sha256.clone(),
                media_type: stored.media_type.as_str().to_owned(),
                size_bytes: stored.size_bytes,
                file_name: file_name.to_owned(),
            }),
        };
        let receipt = self
            .execute_activity(activity_id, command, metadata)
            .await?;
        Ok((stored, receipt))
    }
}

impl Application {
    /// The organization aggregate as it stands (for callers that need more
    /// than whether it is active).
    pub async fn organization(&self, organization_id: Uuid) -> Result<Organization, StoreError> {
        Ok(self
            .organizations
            .event_store()
            .load_for_decision(&organization_id.to_string())
            .await?
            .aggregate)
    }
}
