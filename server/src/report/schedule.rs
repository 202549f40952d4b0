//! Reports on a schedule: the `[reports]` section of `server.toml` (where, when, which
//! formats, how many to keep), the cron-like schedule, and the task the collector runs
//! ([`spawn`]) that writes a report at each due time from what the store holds, compared
//! with the newest report already in the directory, then deletes the oldest.
//!
//! Times are UTC. This module owns the schedule and the section's validation; the
//! report itself is built by [`crate::report::build()`] and written by
//! [`crate::report::output`].

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use serde::Deserialize;
use toml::Spanned;

use estate_agent::config::located::Issues;

use crate::assess::Assessor;
use crate::pipeline::SharedAssessor;
use crate::report::load::{self, DEFAULT_TITLE, LoadError, LoadOptions};
use crate::report::output::{self, Format, OutputError};
use crate::store::Store;

/// When no `schedule` or `interval_secs` is given: 06:00 UTC on the first of each month.
pub const DEFAULT_SCHEDULE: &str = "0 6 1 * *";
/// Reports of each format kept when `keep` is not given (a year of monthly reports).
pub const DEFAULT_REPORTS_KEEP: usize = 12;
/// Shortest `interval_secs`.
pub const MIN_INTERVAL_SECS: u64 = 60;
/// How far ahead a schedule is searched for its next time (a `30 2 31 2 *` never comes).
const SEARCH_DAYS: u32 = 366 * 5;

/// The validated `[reports]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportsConfig {
    /// Where reports are written (created when missing).
    pub dir: PathBuf,
    /// When.
    pub when: When,
    /// Which formats.
    pub formats: Vec<Format>,
    /// Reports of each format kept (0: all).
    pub keep: usize,
    /// The reports' title.
    pub title: String,
}

impl ReportsConfig {
    /// Every format, monthly, [`DEFAULT_REPORTS_KEEP`] kept, into `dir`.
    pub fn new(dir: PathBuf) -> ReportsConfig {
        ReportsConfig {
            dir,
            when: When::Cron(
                Cron::parse(DEFAULT_SCHEDULE).unwrap_or_else(|_| Cron::every_minute()),
            ),
            formats: Format::ALL.to_vec(),
            keep: DEFAULT_REPORTS_KEEP,
            title: DEFAULT_TITLE.to_owned(),
        }
    }
}

/// When reports are made.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    /// Every so often, the first one an interval after the collector starts.
    Interval(std::time::Duration),
    /// At the times a cron expression names.
    Cron(Cron),
}

impl When {
    /// The first time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            When::Interval(d) => Duration::from_std(*d)
                .ok()
                .and_then(|d| t.checked_add_signed(d)),
            When::Cron(c) => c.next_after(t),
        }
    }
}

/// A cron expression: `minute hour day-of-month month day-of-week`, each field `*`, a
/// number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of those; months and
/// weekdays may be named (`jan`, `mon`); weekday 0 and 7 are Sunday. When both
/// day-of-month and day-of-week are restricted, a day matching either is due (as in
/// cron). `@hourly`, `@daily`, `@weekly`, `@monthly` and `@yearly` are accepted. UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    any_day: bool,
    any_weekday: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn value(text: &str, names: &[&str], base: u32) -> Result<u32, String> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(i as u32 + base);
    }
    text.parse::<u32>()
        .map_err(|_| format!("`{text}` is not a number"))
}

/// A field's set of values as a bit mask over `min..=max`.
fn field(text: &str, min: u32, max: u32, names: &[&str], what: &str) -> Result<u64, String> {
    let mut mask = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| format!("{what}: step `{s}` is not a number"))?;
                if step == 0 {
                    return Err(format!("{what}: a step must be at least 1"));
                }
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                value(a, names, min).map_err(|e| format!("{what}: {e}"))?,
                value(b, names, min).map_err(|e| format!("{what}: {e}"))?,
            )
        } else {
            let v = value(range, names, min).map_err(|e| format!("{what}: {e}"))?;
            // `5/15` means from 5 to the end in steps of 15.
            (v, if item.contains('/') { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("{what}: `{item}` is outside {min}–{max}"));
        }
        let mut v = lo;
        while v <= hi {
            mask |= 1 << v;
            v += step;
        }
    }
    Ok(mask)
}

impl Cron {
    fn every_minute() -> Cron {
        Cron {
            text: "* * * * *".to_owned(),
            minutes: (1 << 60) - 1,
            hours: (1 << 24) - 1,
            days: !1,
            months: !1,
            weekdays: 0x7f,
            any_day: true,
            any_weekday: true,
        }
    }

    /// Parses an expression (see the type's documentation).
    pub fn parse(text: &str) -> Result<Cron, String> {
        let expanded = match text.trim() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            other => other,
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        let [mi, h, dom, mo, dow] = parts.as_slice() else {
            return Err(format!(
                "`{text}` is not a cron expression: five fields (minute hour day-of-month month day-of-week), e.g. `0 6 1 * *`"
            ));
        };
        let weekdays = field(dow, 0, 7, &WEEKDAYS, "day of week")?;
        // 7 is Sunday too.
        let weekdays = ((weekdays | (weekdays >> 7)) & 0x7f) as u8;
        Ok(Cron {
            text: text.trim().to_owned(),
            minutes: field(mi, 0, 59, &[], "minute")?,
            hours: field(h, 0, 23, &[], "hour")? as u32,
            days: field(dom, 1, 31, &[], "day of month")? as u32,
            months: field(mo, 1, 12, &MONTHS, "month")? as u16,
            weekdays,
            any_day: *dom == "*",
            any_weekday: *dow == "*",
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn day_due(&self, d: NaiveDate) -> bool {
        if self.months & (1 << d.month()) == 0 {
            return false;
        }
        let dom = self.days & (1 << d.day()) != 0;
        let dow = self.weekdays & (1 << d.weekday().num_days_from_sunday()) != 0;
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (false, true) => dom,
            (true, false) => dow,
            (false, false) => dom || dow,
        }
    }

    /// The first due minute strictly after `t`; `None` when none comes within five years.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = t.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let mut date = start.date_naive();
        let mut from = start.hour() * 60 + start.minute();
        for _ in 0..SEARCH_DAYS {
            if self.day_due(date) {
                for m in from..1440 {
                    let (h, mi) = (m / 60, m % 60);
                    if self.hours & (1 << h) != 0 && self.minutes & (1 << mi) != 0 {
                        return Utc
                            .from_local_datetime(&date.and_hms_opt(h, mi, 0)?)
                            .single();
                    }
                }
            }
            date = date.succ_opt()?;
            from = 0;
        }
        None
    }
}

// ---------------------------------------------------------------------------------
// `[reports]` as written.

/// The `[reports]` table as written (`server.toml`), each value with its place.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReports {
    dir: Option<Spanned<PathBuf>>,
    schedule: Option<Spanned<String>>,
    interval_secs: Option<Spanned<u64>>,
    formats: Option<Vec<Spanned<String>>>,
    keep: Option<Spanned<u64>>,
    title: Option<Spanned<String>>,
}

/// Validates `[reports]` (`table` is where the table is written); a relative `dir` is
/// resolved against `base`, the config file's directory. Every problem is an issue.
pub fn validate(
    raw: RawReports,
    table: Range<usize>,
    issues: &mut Issues<'_>,
    base: Option<&Path>,
) -> Option<ReportsConfig> {
    let mut ok = true;
    let dir = match raw.dir {
        Some(d) if d.get_ref().as_os_str().is_empty() => {
            issues.at(d.span(), "reports.dir", "must not be empty");
            ok = false;
            PathBuf::new()
        }
        Some(d) => {
            let d = d.into_inner();
            match base {
                Some(b) if d.is_relative() => b.join(d),
                _ => d,
            }
        }
        None => {
            issues.at(
                table.clone(),
                "reports.dir",
                "missing: the directory reports are written to",
            );
            ok = false;
            PathBuf::new()
        }
    };
    let mut config = ReportsConfig::new(dir);
    match (raw.schedule, raw.interval_secs) {
        (Some(_), Some(i)) => {
            issues.at(
                i.span(),
                "reports.interval_secs",
                "set either `reports.schedule` or `reports.interval_secs`, not both",
            );
            ok = false;
        }
        (Some(s), None) => match Cron::parse(s.get_ref()) {
            Ok(c) => config.when = When::Cron(c),
            Err(e) => {
                issues.at(s.span(), "reports.schedule", e);
                ok = false;
            }
        },
        (None, Some(i)) => {
            if *i.get_ref() < MIN_INTERVAL_SECS {
                issues.at(
                    i.span(),
                    "reports.interval_secs",
                    format!("must be at least {MIN_INTERVAL_SECS}"),
                );
                ok = false;
            } else {
                config.when = When::Interval(std::time::Duration::from_secs(i.into_inner()));
            }
        }
        (None, None) => {}
    }
    if let Some(formats) = raw.formats {
        let mut chosen: Vec<Format> = Vec::new();
        for f in &formats {
            match Format::parse(f.get_ref().trim()) {
                Some(format) if !chosen.contains(&format) => chosen.push(format),
                Some(_) => {
                    issues.at(
                        f.span(),
                        "reports.formats",
                        format!("`{}` is listed twice", f.get_ref()),
                    );
                    ok = false;
                }
                None => {
                    issues.at(
                        f.span(),
                        "reports.formats",
                        format!("`{}` is not html, md, csv or json", f.get_ref()),
                    );
                    ok = false;
                }
            }
        }
        if formats.is_empty() {
            issues.at(
                table.clone(),
                "reports.formats",
                "must name at least one format",
            );
            ok = false;
        }
        chosen.sort();
        config.formats = chosen;
    }
    if let Some(keep) = raw.keep {
        config.keep = usize::try_from(keep.into_inner()).unwrap_or(usize::MAX);
    }
    if let Some(title) = raw.title {
        if title.get_ref().trim().is_empty() {
            issues.at(title.span(), "reports.title", "must not be empty");
            ok = false;
        } else {
            config.title = title.get_ref().trim().to_owned();
        }
    }
    ok.then_some(config)
}

// ---------------------------------------------------------------------------------
// Running.

/// Why a scheduled report failed.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The store could not be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The files could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The rendering task failed.
    #[error("the report task failed: {0}")]
    Task(String),
}

/// Makes one report now, as the schedule does: the store's hosts and stored
/// assessments (hosts not assessed yet are unscored), compared with the newest JSON
/// report in the directory; writes each format and deletes the oldest beyond `keep`.
/// Returns the paths written.
pub async fn run_once(
    config: &ReportsConfig,
    store: &dyn Store,
    assessor: &Assessor,
    now: DateTime<Utc>,
) -> Result<Vec<PathBuf>, ScheduleError> {
    let previous = output::latest_json(&config.dir).and_then(|p| match output::read_previous(&p) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(error = %e, "the previous report is not readable; this report will not say what changed");
            None
        }
    });
    let options = LoadOptions {
        now,
        title: config.title.clone(),
        scenario: None,
        previous,
    };
    let loaded = load::from_store(store, assessor, options, &|_, _| {}).await?;
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let report = crate::report::build(&loaded.input);
        let mut formats = config.formats.clone();
        // The JSON is what the next report compares with: always kept.
        if !formats.contains(&Format::Json) {
            formats.push(Format::Json);
        }
        let paths = output::write_all(&report, &formats, &config.dir)?;
        output::prune(&config.dir, config.keep)?;
        Ok::<_, ScheduleError>(paths)
    })
    .await
    .map_err(|e| ScheduleError::Task(e.to_string()))?
}

/// The running schedule; dropping it stops the task.
#[derive(Debug)]
pub struct ScheduleHandle(tokio::task::JoinHandle<()>);

impl Drop for ScheduleHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the schedule on the current runtime: at each due time, a report of the
/// estate with the assessor in use at that moment.
pub fn spawn(
    config: ReportsConfig,
    store: Arc<dyn Store>,
    assessor: SharedAssessor,
) -> ScheduleHandle {
    ScheduleHandle(tokio::spawn(async move {
        let mut after = Utc::now();
        loop {
            let Some(next) = config.when.next_after(after) else {
                tracing::warn!(dir = %config.dir.display(), "the report schedule has no further time; no more reports");
                return;
            };
            let wait = (next - Utc::now()).to_std().unwrap_or_default();
            tokio::time::sleep(wait).await;
            let current = assessor.current();
            match run_once(&config, store.as_ref(), &current, next).await {
                Ok(paths) => tracing::info!(
                    files = paths.len(),
                    dir = %config.dir.display(),
                    "scheduled report written"
                ),
                Err(e) => tracing::warn!(error = %e, "scheduled report failed"),
            }
            // A run that overran a due time skips it rather than running back to back.
            after = next.max(Utc::now());
        }
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn next(expr: &str, after: &str) -> String {
        Cron::parse(expr)
            .unwrap()
            .next_after(at(after))
            .unwrap()
            .to_rfc3339()
    }

    #[test]
    fn cron_finds_the_next_due_minute() {
        // Monthly at 06:00 on the 1st: later the same day, and across a year end.
        assert_eq!(
            next("0 6 1 * *", "2026-12-01T05:59:30Z"),
            "2026-12-01T06:00:00+00:00"
        );
        assert_eq!(
            next("0 6 1 * *", "2026-12-01T06:00:00Z"),
            "2027-01-01T06:00:00+00:00"
        );
        // Every 15 minutes; strictly after.
        assert_eq!(
            next("*/15 * * * *", "2026-03-01T10:15:00Z"),
            "2026-03-01T10:30:00+00:00"
        );
        // Mondays at 07:30 (2026-03-02 is a Monday), by name and by number.
        assert_eq!(
            next("30 7 * * mon", "2026-03-01T12:00:00Z"),
            "2026-03-02T07:30:00+00:00"
        );
        assert_eq!(
            next("30 7 * * 1", "2026-03-01T12:00:00Z"),
            "2026-03-02T07:30:00+00:00"
        );
        // 7 is Sunday too.
        assert_eq!(
            next("0 0 * * 7", "2026-03-02T00:00:00Z"),
            "2026-03-08T00:00:00+00:00"
        );
        // Day of month and day of week both restricted: either (the 15th, or a Friday).
        assert_eq!(
            next("0 9 15 * fri", "2026-03-07T00:00:00Z"),
            "2026-03-13T09:00:00+00:00"
        );
        // Ranges, lists, month names, February 29th.
        assert_eq!(
            next("0 8-10/2 * jan,jul *", "2026-03-01T00:00:00Z"),
            "2026-07-01T08:00:00+00:00"
        );
        assert_eq!(
            next("0 0 29 2 *", "2026-03-01T00:00:00Z"),
            "2028-02-29T00:00:00+00:00"
        );
        assert_eq!(
            next("@weekly", "2026-03-02T00:00:00Z"),
            "2026-03-08T00:00:00+00:00"
        );
        // Never: 31 February.
        assert!(
            Cron::parse("0 0 31 2 *")
                .unwrap()
                .next_after(at("2026-01-01T00:00:00Z"))
                .is_none()
        );
    }

    #[test]
    fn cron_refuses_what_it_cannot_mean() {
        for (expr, message) in [
            ("0 6 1 *", "five fields"),
            ("60 * * * *", "minute: `60` is outside 0–59"),
            ("* 24 * * *", "hour: `24` is outside 0–23"),
            ("* * 0 * *", "day of month: `0` is outside 1–31"),
            ("* * * 13 *", "month: `13` is outside 1–12"),
            ("* * * * 8", "day of week: `8` is outside 0–7"),
            ("*/0 * * * *", "minute: a step must be at least 1"),
            ("x * * * *", "minute: `x` is not a number"),
            ("5-1 * * * *", "minute: `5-1` is outside 0–59"),
        ] {
            let err = Cron::parse(expr).unwrap_err();
            assert!(err.contains(message), "{expr}: {err}");
        }
    }

    #[test]
    fn an_interval_adds_up() {
        let w = When::Interval(std::time::Duration::from_secs(3600));
        assert_eq!(
            w.next_after(at("2026-03-01T10:20:00Z")).unwrap(),
            at("2026-03-01T11:20:00Z")
        );
    }
}
