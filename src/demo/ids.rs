//! Identifiers of the demo: drawn from the seed, so one seed gives the same
//! ids every time, and shaped like UUIDv7 with a rising timestamp, so that at
//! province scale new streams and command records land at the end of their
//! B-tree indexes instead of at random pages.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

/// 2025-01-01T00:00:00Z: a fixed origin for the ids' timestamp part (the
/// ids of a run do not depend on when it runs).
const ORIGIN_MILLIS: u64 = 1_735_689_600_000;

/// A deterministic, strictly rising sequence of UUIDv7-shaped ids.
#[derive(Debug)]
pub(crate) struct DemoIds {
    rng: StdRng,
    millis: u64,
}

impl DemoIds {
    /// `lane` separates sequences drawn from the same seed (cases,
    /// community): each lane has its own random part and its own stretch of
    /// timestamps.
    pub(crate) fn new(seed: u64, lane: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed ^ lane.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            // A lane is ~115 days of timestamps: more ids than any demo draws.
            millis: ORIGIN_MILLIS + lane * 10_000_000_000,
        }
    }

    pub(crate) fn next(&mut self) -> Uuid {
        self.millis += 1;
        uuid::Builder::from_unix_timestamp_millis(self.millis, &self.rng.random()).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_repeat_by_seed_rise_and_differ_between_lanes() {
        let draw = |seed, lane| {
            let mut ids = DemoIds::new(seed, lane);
            (0..100).map(|_| ids.next()).collect::<Vec<_>>()
        };
        let ids = draw(7, 0);
        assert_eq!(ids, draw(7, 0));
        assert_ne!(ids, draw(8, 0));
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(ids.iter().all(|id| id.get_version_num() == 7));
        let other_lane = draw(7, 1);
        assert!(ids.iter().all(|id| !other_lane.contains(id)));
    }
}
