//! One host's state between reports and its turn: enrol if needed, build (or rebuild)
//! its report, send it, and say when it runs next.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::http::{Outcome, enrol, post_report};
use super::{INTERVAL_JITTER, Options, Shared};
use crate::simulate::fleet::ReportSpec;
use crate::simulate::inventory::Revision;
use crate::simulate::rng::{Rng, Stream};
use crate::transport::MAX_RETRY_AFTER;

/// An agent token: 64 hex characters kept as their 32 bytes, anything else as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token {
    Hex([u8; 32]),
    Text(Box<str>),
}

impl Token {
    pub(super) fn new(text: &str) -> Token {
        let lower = text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if text.len() == 64 && lower {
            Token::Hex(crate::simulate::fleet::decode_hash(text))
        } else {
            Token::Text(text.into())
        }
    }

    pub(super) fn as_string(&self) -> String {
        match self {
            Token::Hex(bytes) => crate::simulate::fleet::encode_hash(bytes),
            Token::Text(text) => text.to_string(),
        }
    }
}

/// Never: the sentinel of "no full inventory acknowledged yet".
const NEVER: i64 = i64::MIN;

/// What the driver keeps per host between reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HostState {
    token: Option<Token>,
    /// Stable hash of the inventory at `revision`, once computed.
    hash: Option<[u8; 32]>,
    /// Patches since the anchor.
    revision: u32,
    /// When the last patch went in (ms since the epoch; `NEVER` for revision 0).
    patched_at_ms: i64,
    /// Reports built.
    reports: u32,
    /// End of the last settled report's window (ms since the epoch; `NEVER` before the
    /// first).
    window_end_ms: i64,
    /// The revision whose full inventory the collector acknowledged last (`u32::MAX`:
    /// none), and when.
    full_revision: u32,
    full_at_ms: i64,
    /// Failed attempts in a row.
    failures: u8,
}

impl Default for HostState {
    fn default() -> Self {
        HostState {
            token: None,
            hash: None,
            revision: 0,
            patched_at_ms: NEVER,
            reports: 0,
            window_end_ms: NEVER,
            full_revision: u32::MAX,
            full_at_ms: NEVER,
            failures: 0,
        }
    }
}

impl HostState {
    fn revision(&self) -> Revision {
        Revision {
            number: self.revision,
            patched_at: (self.patched_at_ms != NEVER)
                .then(|| DateTime::from_timestamp_millis(self.patched_at_ms))
                .flatten(),
        }
    }
}

/// What a host does next.
#[derive(Debug)]
pub(super) enum Next {
    /// Run again after this long (a report is due, or a retry).
    After(Duration),
    /// Done (`once`).
    Done,
}

/// The result of one host's turn.
#[derive(Debug)]
pub(super) struct Turn {
    pub(super) index: u32,
    pub(super) state: HostState,
    pub(super) pending: Option<ReportSpec>,
    pub(super) next: Next,
}

/// The delay before the next attempt after `failures` failures in a row: `initial ×
/// 2^(failures-1)` capped at `max`, drawn from its upper half (deterministic per host
/// and attempt), or `Retry-After` when that is longer.
pub fn backoff_delay(
    initial: Duration,
    max: Duration,
    failures: u32,
    retry_after: Option<Duration>,
    jitter_unit: f64,
) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let ceiling = initial.saturating_mul(1u32 << exp).min(max.max(initial));
    let half = ceiling / 2;
    let delay = half + half.mul_f64(jitter_unit.clamp(0.0, 1.0));
    match retry_after {
        Some(after) => delay.max(after.min(MAX_RETRY_AFTER)),
        None => delay,
    }
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The delay until the host's next regular report: the interval, jittered.
fn next_report_delay(options: &Options, index: u32, sequence: u32) -> Duration {
    let unit = Rng::keyed(
        options.fleet.seed,
        u64::from(index),
        Stream::Jitter,
        u64::from(sequence) << 8,
    )
    .unit();
    options
        .interval
        .mul_f64(1.0 + INTERVAL_JITTER * (2.0 * unit - 1.0))
}

/// One turn of one host: enrol if needed, build (or rebuild) its report, send it, and
/// say what comes next.
pub(super) async fn turn(
    shared: Arc<Shared>,
    index: u32,
    mut state: HostState,
    pending: Option<ReportSpec>,
) -> Turn {
    let options = &shared.options;
    let fleet = &options.fleet;
    let profile = fleet.profile(u64::from(index));
    let retry = |mut state: HostState, pending: Option<ReportSpec>, after: Option<Duration>| {
        state.failures = state.failures.saturating_add(1);
        let unit = Rng::keyed(
            fleet.seed,
            u64::from(index),
            Stream::Jitter,
            (u64::from(state.reports) << 8) | u64::from(state.failures),
        )
        .unit();
        let delay = backoff_delay(
            options.backoff_initial,
            options.backoff_max,
            u32::from(state.failures),
            after,
            unit,
        );
        Turn {
            index,
            state,
            pending,
            next: Next::After(delay),
        }
    };

    // Enrol first, as the agent does when it has no token.
    if let Some(client) = &shared.client
        && state.token.is_none()
    {
        match enrol(&shared, client, &profile.host_id, &profile.hostname).await {
            Ok(token) => {
                state.token = Some(token);
                shared.stats().enrolled += 1;
            }
            Err((key, message, permanent)) => {
                shared.error(true, &key, &message);
                if permanent && options.once {
                    shared.stats().hosts_done += 1;
                    return Turn {
                        index,
                        state,
                        pending: None,
                        next: Next::Done,
                    };
                }
                return retry(state, pending, None);
            }
        }
    }

    // The report: the one being retried, or a new one.
    let spec = match pending {
        Some(spec) => spec,
        None => {
            let now = Utc::now();
            let now = from_millis(millis(now));
            let sequence = state.reports + 1;
            if fleet.changes_at(&profile, sequence) {
                state.revision += 1;
                state.patched_at_ms = millis(now);
                state.hash = None;
            }
            let window_start = if state.window_end_ms == NEVER {
                now - chrono::Duration::from_std(options.interval).unwrap_or_default()
            } else {
                from_millis(state.window_end_ms)
            };
            let full_due = state.full_at_ms == NEVER
                || now.timestamp_millis() - state.full_at_ms
                    >= i64::try_from(options.full_inventory_interval.as_millis())
                        .unwrap_or(i64::MAX);
            let with_inventory = options.once || state.full_revision != state.revision || full_due;
            state.reports = sequence;
            let spec = ReportSpec {
                sequence,
                report_id: Uuid::new_v4(),
                window_start,
                collected_at: now,
                with_inventory,
            };
            let mut stats = shared.stats();
            stats.built += 1;
            if with_inventory {
                stats.with_inventory += 1;
            }
            spec
        }
    };
    // Building and compressing a report is the CPU-heavy part: it runs on the blocking
    // pool so that this thread keeps serving the requests in flight (and their measured
    // latency does not include another host's inventory being built).
    let revision = state.revision();
    let host_id = profile.host_id.clone();
    let built = {
        let fleet = fleet.clone();
        let known_hash = state.hash;
        tokio::task::spawn_blocking(move || {
            let (report, hash) = fleet.report(&profile, &spec, revision, known_hash);
            (crate::spool::gzip_json(&report), hash)
        })
        .await
    };
    let body = match built {
        Ok((Ok(body), hash)) => {
            state.hash = Some(hash);
            body
        }
        Ok((Err(err), _)) => {
            shared.error(false, "encode", &err.to_string());
            return retry(state, Some(spec), None);
        }
        Err(err) => {
            shared.error(false, "build", &err.to_string());
            return retry(state, Some(spec), None);
        }
    };
    if pending.is_none() {
        shared.stats().bytes += body.len() as u64;
    }

    let token = state.token.clone();
    let outcome = match (&shared.client, token) {
        (Some(client), Some(token)) => {
            match post_report(&shared, client, &token, spec.report_id, &body).await {
                Outcome::Unauthorised(message) => {
                    // The token may have been revoked: enrol again once and resend.
                    shared.error(false, "401", &message);
                    let profile = fleet.profile(u64::from(index));
                    match enrol(&shared, client, &profile.host_id, &profile.hostname).await {
                        Ok(token) => {
                            shared.stats().enrolled += 1;
                            let outcome =
                                post_report(&shared, client, &token, spec.report_id, &body).await;
                            state.token = Some(token);
                            outcome
                        }
                        Err((key, message, _)) => {
                            shared.error(true, &key, &message);
                            state.token = None;
                            Outcome::Retry {
                                after: None,
                                key: format!("enrol {key}"),
                                reason: message,
                            }
                        }
                    }
                }
                other => other,
            }
        }
        _ => Outcome::Acknowledged { duplicate: false },
    };

    let settle = |mut state: HostState, shared: &Shared| {
        state.failures = 0;
        state.window_end_ms = millis(spec.collected_at);
        let next = if options.once {
            shared.stats().hosts_done += 1;
            Next::Done
        } else {
            Next::After(next_report_delay(options, index, spec.sequence))
        };
        Turn {
            index,
            state,
            pending: None,
            next,
        }
    };
    match outcome {
        Outcome::Acknowledged { duplicate } => {
            {
                let mut stats = shared.stats();
                stats.acknowledged += 1;
                if duplicate {
                    stats.duplicates += 1;
                }
            }
            shared.record_ack(&host_id, spec.report_id, duplicate);
            if spec.with_inventory {
                state.full_revision = state.revision;
                state.full_at_ms = millis(spec.collected_at);
            }
            settle(state, &shared)
        }
        Outcome::Rejected { status, message } => {
            shared.stats().rejected += 1;
            shared.error(false, &status.to_string(), &message);
            settle(state, &shared)
        }
        Outcome::Retry { after, key, reason } => {
            shared.stats().retried += 1;
            shared.error(false, &key, &reason);
            retry(state, Some(spec), after)
        }
        Outcome::Unauthorised(message) => {
            shared.stats().retried += 1;
            shared.error(false, "401", &message);
            state.token = None;
            retry(state, Some(spec), None)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_are_kept_compactly_and_given_back_unchanged() {
        let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let token = Token::new(hex);
        assert!(matches!(token, Token::Hex(_)));
        assert_eq!(token.as_string(), hex);
        let upper = hex.to_ascii_uppercase();
        assert!(matches!(Token::new(&upper), Token::Text(_)));
        assert_eq!(Token::new(&upper).as_string(), upper);
        assert_eq!(Token::new("short").as_string(), "short");
    }

    #[test]
    fn host_state_stays_small() {
        // The state kept for every host between reports (the token inline).
        assert!(
            std::mem::size_of::<HostState>() <= 112,
            "{}",
            std::mem::size_of::<HostState>()
        );
    }

    #[test]
    fn backoff_grows_caps_jitters_and_honours_retry_after() {
        let (initial, max) = (Duration::from_secs(1), Duration::from_secs(8));
        for failures in 1..8u32 {
            let ceiling = Duration::from_secs(1 << (failures - 1).min(3));
            for unit in [0.0, 0.5, 0.999] {
                let d = backoff_delay(initial, max, failures, None, unit);
                assert!(d >= ceiling / 2 && d <= ceiling, "{failures} {unit}: {d:?}");
            }
        }
        assert_eq!(
            backoff_delay(initial, max, 1, Some(Duration::from_secs(30)), 0.5),
            Duration::from_secs(30)
        );
        assert_eq!(
            backoff_delay(initial, max, 1, Some(Duration::from_secs(999_999)), 0.5),
            MAX_RETRY_AFTER
        );
    }
}
