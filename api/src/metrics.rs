//! Prometheus metrics in the text exposition format: request counts and
//! latencies by route, events appended, projection lag. Small enough to keep
//! by hand rather than pull in a metrics framework.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Debug, Default)]
struct RouteStats {
    count: u64,
    sum_seconds: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Debug, Default)]
pub struct Metrics {
    /// (method, route, status) → count.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// (method, route) → latency histogram.
    latencies: Mutex<BTreeMap<(String, String), RouteStats>>,
    events_appended: Mutex<u64>,
}

impl Metrics {
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests
                .entry((method.to_owned(), route.to_owned(), status))
                .or_default() += 1;
        }
        if let Ok(mut latencies) = self.latencies.lock() {
            let stats = latencies
                .entry((method.to_owned(), route.to_owned()))
                .or_default();
            let seconds = elapsed.as_secs_f64();
            stats.count += 1;
            stats.sum_seconds += seconds;
            for (bucket, bound) in stats.buckets.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *bucket += 1;
                }
            }
        }
    }

    pub fn observe_events_appended(&self, count: u64) {
        if let Ok(mut total) = self.events_appended.lock() {
            *total += count;
        }
    }

    /// The exposition text; `lags` are (projection, events behind).
    pub fn render(&self, lags: &[(String, i64)], stopped: &[String]) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP shouwang_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE shouwang_http_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            for ((method, route, status), count) in requests.iter() {
                out.push_str(&format!(
                    "shouwang_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}\n"
                ));
            }
        }
        out.push_str("# HELP shouwang_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE shouwang_http_request_duration_seconds histogram\n");
        if let Ok(latencies) = self.latencies.lock() {
            for ((method, route), stats) in latencies.iter() {
                let labels = format!("method=\"{method}\",route=\"{route}\"");
                for (bound, count) in BUCKETS.iter().zip(stats.buckets) {
                    out.push_str(&format!(
                        "shouwang_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}\n"
                    ));
                }
                out.push_str(&format!(
                    "shouwang_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n",
                    stats.count
                ));
                out.push_str(&format!(
                    "shouwang_http_request_duration_seconds_sum{{{labels}}} {}\n",
                    stats.sum_seconds
                ));
                out.push_str(&format!(
                    "shouwang_http_request_duration_seconds_count{{{labels}}} {}\n",
                    stats.count
                ));
            }
        }
        out.push_str(
            "# HELP shouwang_events_appended_total Events appended through this server.\n",
        );
        out.push_str("# TYPE shouwang_events_appended_total counter\n");
        let appended = self.events_appended.lock().map(|n| *n).unwrap_or_default();
        out.push_str(&format!("shouwang_events_appended_total {appended}\n"));
        out.push_str(
            "# HELP shouwang_projection_lag_events Events a read model has yet to apply.\n",
        );
        out.push_str("# TYPE shouwang_projection_lag_events gauge\n");
        for (name, lag) in lags {
            out.push_str(&format!(
                "shouwang_projection_lag_events{{projection=\"{name}\"}} {lag}\n"
            ));
        }
        out.push_str("# HELP shouwang_projection_stopped A read model stopped by an event it could not apply.\n");
        out.push_str("# TYPE shouwang_projection_stopped gauge\n");
        for (name, _) in lags {
            let value = u8::from(stopped.contains(name));
            out.push_str(&format!(
                "shouwang_projection_stopped{{projection=\"{name}\"}} {value}\n"
            ));
        }
        out
    }
}
