//! The read API's query strings, parsed into store queries, and the estate summary
//! computed from the host list. Pure: no I/O, no HTTP types beyond the raw query text.
//!
//! This module owns the query parameters' names, defaults and limits (documented in
//! `docs/api.md` and the OpenAPI document); handlers only call it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::store::{HostQuery, HostRecord, HostState};

/// Hosts per page when `limit` is not given.
pub const DEFAULT_PAGE_LIMIT: u32 = 100;
/// The largest `limit`.
pub const MAX_PAGE_LIMIT: u32 = 1000;
/// The history range when `from` is not given: this long before `to`.
pub const DEFAULT_HISTORY_SPAN: Duration = Duration::days(1);
/// The longest history range one request may ask for.
pub const MAX_HISTORY_SPAN: Duration = Duration::days(400);
/// The label keys whose values the estate summary counts hosts by.
pub const SUMMARY_LABELS: [&str; 2] = ["role", "site"];

/// A query parameter that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query parameter `{param}`: {message}")]
pub struct QueryError {
    /// The parameter.
    pub param: String,
    /// What is wrong with it.
    pub message: String,
}

fn bad(param: &str, message: impl Into<String>) -> QueryError {
    QueryError {
        param: param.to_owned(),
        message: message.into(),
    }
}

/// Decoded `key=value` pairs of a query string, in order (repeats kept). A NUL
/// character (`%00`) is refused: no parameter can hold one, and PostgreSQL cannot
/// store or compare text with one.
fn pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, QueryError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    match pairs
        .iter()
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        Some((k, _)) => Err(bad(k, "must not contain a NUL character")),
        None => Ok(pairs),
    }
}

fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, QueryError> {
    let mut found = pairs.iter().filter(|(k, _)| k == name);
    let first = found.next();
    if found.next().is_some() {
        return Err(bad(name, "given more than once"));
    }
    Ok(first.map(|(_, v)| v.as_str()))
}

fn non_empty<'a>(name: &str, value: Option<&'a str>) -> Result<Option<&'a str>, QueryError> {
    match value {
        Some("") => Err(bad(name, "must not be empty")),
        other => Ok(other),
    }
}

fn reject_unknown(pairs: &[(String, String)], known: &[&str]) -> Result<(), QueryError> {
    match pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        Some((k, _)) => Err(bad(
            k,
            format!("unknown parameter (known: {})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// Parses `GET /api/v1/hosts`'s query string: `label=KEY:VALUE` (repeatable, all must
/// match), `os`, `kind`, `state=reporting|stale`, `q` (search), `limit`, `after`.
pub fn host_query(raw: Option<&str>, stale_before: DateTime<Utc>) -> Result<HostQuery, QueryError> {
    let pairs = pairs(raw)?;
    reject_unknown(
        &pairs,
        &["label", "os", "kind", "state", "q", "limit", "after"],
    )?;
    let mut labels = BTreeMap::new();
    for (_, value) in pairs.iter().filter(|(k, _)| k == "label") {
        let Some((key, val)) = value.split_once(':') else {
            return Err(bad("label", format!("`{value}` is not KEY:VALUE")));
        };
        if key.is_empty() {
            return Err(bad("label", format!("`{value}` has an empty key")));
        }
        if labels.insert(key.to_owned(), val.to_owned()).is_some() {
            return Err(bad("label", format!("key `{key}` given twice")));
        }
    }
    let state = match single(&pairs, "state")? {
        None => None,
        Some("reporting") => Some(HostState::Reporting),
        Some("stale") => Some(HostState::Stale),
        Some(other) => {
            return Err(bad(
                "state",
                format!("`{other}` is neither `reporting` nor `stale`"),
            ));
        }
    };
    let kind = non_empty("kind", single(&pairs, "kind")?)?;
    if let Some(k) = kind
        && !["physical", "vm", "container", "unknown"].contains(&k)
    {
        return Err(bad(
            "kind",
            format!("`{k}` is not one of physical, vm, container, unknown"),
        ));
    }
    let limit = match single(&pairs, "limit")? {
        None => DEFAULT_PAGE_LIMIT,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE_LIMIT).contains(&n) => n,
            _ => {
                return Err(bad(
                    "limit",
                    format!("`{text}` is not a whole number from 1 to {MAX_PAGE_LIMIT}"),
                ));
            }
        },
    };
    Ok(HostQuery {
        labels,
        os: non_empty("os", single(&pairs, "os")?)?.map(str::to_owned),
        machine_kind: kind.map(str::to_owned),
        state,
        stale_before,
        search: non_empty("q", single(&pairs, "q")?)?.map(str::to_owned),
        after: non_empty("after", single(&pairs, "after")?)?.map(str::to_owned),
        limit,
    })
}

/// Candidates in `GET /api/v1/carbon/candidates` when `limit` is not given.
pub const DEFAULT_CANDIDATES_LIMIT: u32 = 100;

/// `GET /api/v1/carbon/candidates`'s query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidatesQuery {
    /// Only this scenario (every scenario when `None`).
    pub scenario: Option<String>,
    /// Most candidates answered.
    pub limit: u32,
}

/// Parses `GET /api/v1/carbon/candidates`'s query string: `scenario` (one of
/// `scenarios`, the configured ones) and `limit` (1 to [`MAX_PAGE_LIMIT`], default
/// [`DEFAULT_CANDIDATES_LIMIT`]).
pub fn candidates_query(
    raw: Option<&str>,
    scenarios: &[&str],
) -> Result<CandidatesQuery, QueryError> {
    let pairs = pairs(raw)?;
    reject_unknown(&pairs, &["scenario", "limit"])?;
    let scenario = non_empty("scenario", single(&pairs, "scenario")?)?;
    if let Some(name) = scenario
        && !scenarios.contains(&name)
    {
        return Err(bad(
            "scenario",
            format!(
                "no scenario `{name}` (configured: {})",
                if scenarios.is_empty() {
                    "none".to_owned()
                } else {
                    scenarios.join(", ")
                }
            ),
        ));
    }
    let limit = match single(&pairs, "limit")? {
        None => DEFAULT_CANDIDATES_LIMIT,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE_LIMIT).contains(&n) => n,
            _ => {
                return Err(bad(
                    "limit",
                    format!("`{text}` is not a whole number from 1 to {MAX_PAGE_LIMIT}"),
                ));
            }
        },
    };
    Ok(CandidatesQuery {
        scenario: scenario.map(str::to_owned),
        limit,
    })
}

/// A history range: `[from, to)` on the series windows' ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
}

fn instant(name: &str, text: &str) -> Result<DateTime<Utc>, QueryError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| bad(name, format!("`{text}` is not an RFC 3339 time ({e})")))
}

/// Parses `GET /api/v1/hosts/{id}/history`'s `from` and `to` (RFC 3339). `to` defaults to
/// `now`, `from` to [`DEFAULT_HISTORY_SPAN`] before `to`; `from` must be before `to`, and
/// the span at most [`MAX_HISTORY_SPAN`].
pub fn history_range(raw: Option<&str>, now: DateTime<Utc>) -> Result<Range, QueryError> {
    let pairs = pairs(raw)?;
    reject_unknown(&pairs, &["from", "to"])?;
    let to = match single(&pairs, "to")? {
        Some(text) => instant("to", text)?,
        None => now,
    };
    let from = match single(&pairs, "from")? {
        Some(text) => instant("from", text)?,
        None => to - DEFAULT_HISTORY_SPAN,
    };
    if from >= to {
        return Err(bad("from", "must be before `to`"));
    }
    if to - from > MAX_HISTORY_SPAN {
        return Err(bad(
            "from",
            format!(
                "the range may span at most {} days",
                MAX_HISTORY_SPAN.num_days()
            ),
        ));
    }
    Ok(Range { from, to })
}

/// The estate at a glance: host counts by state, OS, kind and the summary labels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EstateSummary {
    /// Every host known.
    pub hosts: u64,
    /// Reported since the stale cutoff.
    pub reporting: u64,
    /// Silent since before the stale cutoff.
    pub stale: u64,
    /// The stale cutoff used.
    pub stale_before: DateTime<Utc>,
    /// Hosts whose full inventory has not arrived yet.
    pub without_inventory: u64,
    /// By OS family (`linux`, `windows`, …; `unknown` without inventory).
    pub by_os_family: BTreeMap<String, u64>,
    /// By OS name (`Debian GNU/Linux 12 (bookworm)`, …).
    pub by_os: BTreeMap<String, u64>,
    /// By machine kind (`physical`, `vm`, `container`, `unknown`).
    pub by_kind: BTreeMap<String, u64>,
    /// By chassis (`server`, `laptop`, `desktop`, `virtual`, `unknown`).
    pub by_chassis: BTreeMap<String, u64>,
    /// By the `role` label (`unlabelled` without one).
    pub by_role: BTreeMap<String, u64>,
    /// By the `site` label (`unlabelled` without one).
    pub by_site: BTreeMap<String, u64>,
}

/// Counts `hosts` for the estate summary.
pub fn summarise(hosts: &[HostRecord], stale_before: DateTime<Utc>) -> EstateSummary {
    let mut s = EstateSummary {
        stale_before,
        ..EstateSummary::default()
    };
    let bump = |map: &mut BTreeMap<String, u64>, key: Option<&str>, missing: &str| {
        *map.entry(key.unwrap_or(missing).to_owned()).or_default() += 1;
    };
    for h in hosts {
        s.hosts += 1;
        if h.last_seen >= stale_before {
            s.reporting += 1;
        } else {
            s.stale += 1;
        }
        if h.inventory_hash.is_none() {
            s.without_inventory += 1;
        }
        let f = &h.facets;
        bump(&mut s.by_os_family, f.os_family.as_deref(), "unknown");
        bump(&mut s.by_os, f.os_name.as_deref(), "unknown");
        bump(&mut s.by_kind, f.machine_kind.as_deref(), "unknown");
        bump(&mut s.by_chassis, f.chassis.as_deref(), "unknown");
        let [role, site] = SUMMARY_LABELS.map(|k| h.labels.get(k).map(String::as_str));
        bump(&mut s.by_role, role, "unlabelled");
        bump(&mut s.by_site, site, "unlabelled");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::HostFacets;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
    }

    #[test]
    fn host_query_defaults_and_every_filter() {
        let q = host_query(None, now()).unwrap();
        assert_eq!(q.limit, DEFAULT_PAGE_LIMIT);
        assert!(q.labels.is_empty() && q.os.is_none() && q.state.is_none());
        let q = host_query(
            Some("label=role:web&label=site:county%20hall&os=debian&kind=vm&state=stale&q=srv%2D1&limit=5&after=h-9"),
            now(),
        )
        .unwrap();
        assert_eq!(
            q.labels.get("site").map(String::as_str),
            Some("county hall")
        );
        assert_eq!(q.labels.len(), 2);
        assert_eq!(q.os.as_deref(), Some("debian"));
        assert_eq!(q.machine_kind.as_deref(), Some("vm"));
        assert_eq!(q.state, Some(HostState::Stale));
        assert_eq!(q.search.as_deref(), Some("srv-1"));
        assert_eq!(q.limit, 5);
        assert_eq!(q.after.as_deref(), Some("h-9"));
        // A label value may itself contain a colon.
        let q = host_query(Some("label=url:http://x"), now()).unwrap();
        assert_eq!(q.labels.get("url").map(String::as_str), Some("http://x"));
    }

    #[test]
    fn host_query_errors_name_the_parameter() {
        for (raw, param) in [
            ("label=role", "label"),
            ("label=:web", "label"),
            ("label=a:1&label=a:2", "label"),
            ("state=dead", "state"),
            ("state=stale&state=reporting", "state"),
            ("kind=mainframe", "kind"),
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=ten", "limit"),
            ("os=", "os"),
            ("q=", "q"),
            ("sort=name", "sort"),
            ("q=srv%00", "q"),
            ("after=h%00", "after"),
        ] {
            let err = host_query(Some(raw), now()).unwrap_err();
            assert_eq!(err.param, param, "{raw}: {err}");
        }
    }

    #[test]
    fn history_range_defaults_bounds_and_errors() {
        let r = history_range(None, now()).unwrap();
        assert_eq!(r.to, now());
        assert_eq!(r.from, now() - DEFAULT_HISTORY_SPAN);
        let r = history_range(
            Some("from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00%2B01:00"),
            now(),
        )
        .unwrap();
        assert_eq!(r.to, Utc.with_ymd_and_hms(2026, 11, 1, 23, 0, 0).unwrap());
        for (raw, param) in [
            ("from=yesterday", "from"),
            ("to=2026-13-01T00:00:00Z", "to"),
            ("from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "from"),
            ("from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
            ("step=5m", "step"),
        ] {
            let err = history_range(Some(raw), now()).unwrap_err();
            assert_eq!(err.param, param, "{raw}: {err}");
        }
    }

    fn host(id: &str, seen_minutes_ago: i64, os: Option<&str>, role: Option<&str>) -> HostRecord {
        HostRecord {
            host_id: id.to_owned(),
            hostname: id.to_owned(),
            labels: role
                .map(|r| BTreeMap::from([("role".to_owned(), r.to_owned())]))
                .unwrap_or_default(),
            first_seen: now() - Duration::days(3),
            last_seen: now() - Duration::minutes(seen_minutes_ago),
            inventory_hash: os.map(|_| "h".to_owned()),
            reported_inventory_hash: "h".to_owned(),
            inventory_collected_at: None,
            facets: HostFacets {
                os_family: os.map(|_| "linux".to_owned()),
                os_name: os.map(str::to_owned),
                machine_kind: os.map(|_| "vm".to_owned()),
                ..HostFacets::default()
            },
            inventory: None,
        }
    }

    #[test]
    fn summary_counts_every_dimension() {
        let hosts = [
            host("a", 1, Some("Debian 12"), Some("web")),
            host("b", 60, Some("Debian 12"), Some("db")),
            host("c", 2, None, None),
        ];
        let s = summarise(&hosts, now() - Duration::minutes(15));
        assert_eq!((s.hosts, s.reporting, s.stale), (3, 2, 1));
        assert_eq!(s.without_inventory, 1);
        assert_eq!(s.by_os.get("Debian 12"), Some(&2));
        assert_eq!(s.by_os.get("unknown"), Some(&1));
        assert_eq!(s.by_kind.get("vm"), Some(&2));
        assert_eq!(s.by_role.get("unlabelled"), Some(&1));
        assert_eq!(s.by_site.get("unlabelled"), Some(&3));
        assert_eq!(s.by_os_family.values().sum::<u64>(), 3);
    }

    #[test]
    fn candidates_query_checks_the_scenario_and_the_limit() {
        let known = ["aws-london", "retire-idle"];
        let q = candidates_query(None, &known).unwrap();
        assert_eq!((q.scenario, q.limit), (None, DEFAULT_CANDIDATES_LIMIT));
        let q = candidates_query(Some("scenario=aws-london&limit=3"), &known).unwrap();
        assert_eq!((q.scenario.as_deref(), q.limit), (Some("aws-london"), 3));
        for (bad_query, param) in [
            ("scenario=moon", "scenario"),
            ("scenario=", "scenario"),
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=ten", "limit"),
            ("scenario=aws-london&scenario=retire-idle", "scenario"),
            ("sort=saved", "sort"),
        ] {
            let e = candidates_query(Some(bad_query), &known).unwrap_err();
            assert_eq!(e.param, param, "{bad_query}");
        }
        let e = candidates_query(Some("scenario=moon"), &known).unwrap_err();
        assert!(e.message.contains("aws-london, retire-idle"), "{e}");
    }
}
