//! A small purpose-built aggregate for the store's contract tests, so the
//! contract is proved independently of any one domain aggregate, plus helpers
//! to run one test body on both backends.

#![allow(dead_code)]

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use shouwang_domain::{Personal, PersonalData};
use shouwang_infrastructure::{CommandBus, Database, IdempotentCommand, MasterKey, Store};

pub async fn open_store(url: &str) -> Store {
    let db = Database::connect(url).await.expect("connect");
    db.migrate().await.expect("migrate");
    let (_, master) = MasterKey::generate();
    Store::new(db, master)
}

/// A tally per person: enough state to catch double-applied events, and
/// personal fields to prove sealing and erasure.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub opened: bool,
    pub total: i64,
    pub applied: u64,
    pub erased: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TallyCommand {
    Open { phone: String, id_number: String },
    Add { amount: i64, note: String },
    Erase,
}

impl IdempotentCommand for TallyCommand {
    fn fingerprint_source(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("serializable")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TallyEvent {
    Opened {
        phone: Personal<String>,
        id_number: Personal<String>,
    },
    Added {
        amount: i64,
        #[serde(default = "empty_note")]
        note: Personal<String>,
    },
    Erased,
}

fn empty_note() -> Personal<String> {
    Personal::known(String::new())
}

impl DomainEvent for TallyEvent {
    fn event_type(&self) -> String {
        match self {
            TallyEvent::Opened { .. } => "Opened",
            TallyEvent::Added { .. } => "Added",
            TallyEvent::Erased => "Erased",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            // v2 added `note`; see the upcasting test.
            TallyEvent::Added { .. } => "2",
            _ => "1",
        }
        .to_owned()
    }
}

impl PersonalData for TallyEvent {
    fn sealed_fields(&self) -> &'static [&'static str] {
        match self {
            TallyEvent::Opened { .. } => &["phone", "id_number"],
            TallyEvent::Added { .. } => &["note"],
            TallyEvent::Erased => &[],
        }
    }

    fn blind_index_terms(&self) -> Vec<(&'static str, String)> {
        match self {
            TallyEvent::Opened {
                id_number: Personal::Known(id),
                ..
            } => vec![("id_number", id.clone())],
            _ => Vec::new(),
        }
    }

    fn erases_personal_data(&self) -> bool {
        matches!(self, TallyEvent::Erased)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TallyError {
    #[error("not opened")]
    NotOpened,
    #[error("already opened")]
    AlreadyOpened,
    #[error("negative amount")]
    Negative,
}

impl Tally {
    pub fn decide(&self, command: &TallyCommand) -> Result<Vec<TallyEvent>, TallyError> {
        match command {
            TallyCommand::Open { phone, id_number } => {
                if self.opened {
                    return Err(TallyError::AlreadyOpened);
                }
                Ok(vec![TallyEvent::Opened {
                    phone: Personal::known(phone.clone()),
                    id_number: Personal::known(id_number.clone()),
                }])
            }
            TallyCommand::Add { amount, note } => {
                if !self.opened {
                    return Err(TallyError::NotOpened);
                }
                if *amount < 0 {
                    return Err(TallyError::Negative);
                }
                Ok(vec![TallyEvent::Added {
                    amount: *amount,
                    note: Personal::known(note.clone()),
                }])
            }
            TallyCommand::Erase => {
                if !self.opened {
                    return Err(TallyError::NotOpened);
                }
                Ok(vec![TallyEvent::Erased])
            }
        }
    }
}

impl Aggregate for Tally {
    const TYPE: &'static str = "tally";
    type Command = TallyCommand;
    type Event = TallyEvent;
    type Error = TallyError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(&command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.applied += 1;
        match event {
            TallyEvent::Opened { .. } => self.opened = true,
            TallyEvent::Added { amount, .. } => self.total += amount,
            TallyEvent::Erased => self.erased = true,
        }
    }
}

pub fn tally_bus(store: &Store) -> CommandBus<Tally> {
    CommandBus::new(store.clone(), ())
}

pub fn open(phone: &str) -> TallyCommand {
    TallyCommand::Open {
        phone: phone.to_owned(),
        id_number: "11010519491231002X".to_owned(),
    }
}

pub fn add(amount: i64) -> TallyCommand {
    TallyCommand::Add {
        amount,
        note: format!("心理疏导记录 {amount}"),
    }
}
