//! (read model under construction)

use std::sync::Arc;

use crate::Projection;

/// The projections this module keeps.
pub fn projections() -> Vec<Arc<dyn Projection>> {
    Vec::new()
}
