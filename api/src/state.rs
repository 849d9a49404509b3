//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use shouwang_infrastructure::users::SessionPolicy;
use shouwang_infrastructure::{Application, Database, Store};
use shouwang_projections::Projector;

use crate::metrics::Metrics;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub sessions: SessionPolicy,
    /// How long a query with `?after=POSITION` waits for the read models.
    pub read_your_writes_wait: Duration,
    /// How long a break-the-glass grant lasts.
    pub break_glass: chrono::Duration,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            sessions: SessionPolicy::default(),
            read_your_writes_wait: Duration::from_secs(5),
            break_glass: chrono::Duration::hours(3),
        }
    }
}

#[derive(Debug)]
struct Shared {
    app: Application,
    projector: Projector,
    settings: ApiSettings,
    metrics: Metrics,
}

/// Cheap to clone: one `Arc`.
#[derive(Debug, Clone)]
pub struct AppState {
    shared: Arc<Shared>,
}

impl AppState {
    pub fn new(app: Application, projector: Projector, settings: ApiSettings) -> Self {
        Self {
            shared: Arc::new(Shared {
                app,
                projector,
                settings,
                metrics: Metrics::default(),
            }),
        }
    }

    pub fn app(&self) -> &Application {
        &self.shared.app
    }

    pub fn store(&self) -> &Store {
        self.shared.app.store()
    }

    pub fn db(&self) -> &Database {
        self.shared.app.store().database()
    }

    pub fn projector(&self) -> &Projector {
        &self.shared.projector
    }

    pub fn settings(&self) -> &ApiSettings {
        &self.shared.settings
    }

    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// Today in Asia/Shanghai (UTC+8, no daylight saving): the date workers
    /// mean when they write "today".
    pub fn today(&self) -> NaiveDate {
        shouwang_infrastructure::clock::shanghai_today()
    }
}
