//! The one place that turns "now" into the local date workers mean.

use chrono::{NaiveDate, TimeDelta, Utc};

/// China Standard Time has no daylight saving: a fixed offset is exact.
const SHANGHAI_OFFSET: TimeDelta = TimeDelta::hours(8);

/// Today in Asia/Shanghai: the date of "today" in commands and queries.
pub fn shanghai_today() -> NaiveDate {
    (Utc::now() + SHANGHAI_OFFSET).date_naive()
}
