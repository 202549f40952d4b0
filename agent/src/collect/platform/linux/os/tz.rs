//! The host's time zone: its IANA name and its UTC offsets, read from the host's own
//! `/etc/localtime` (a TZif file, RFC 8536), so that local times in package logs
//! (`dpkg.log`, apt's `history.log`) convert to UTC as the host meant them.
//!
//! Owns TZif parsing and POSIX TZ rules (`M` rules only: the form every current zone
//! uses). It must not use the agent's own process time zone: under a recorded sysroot
//! that is not the host's.

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::root::SysRoot;

/// A host time zone: transitions from the TZif body, then the footer rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// (UTC seconds of the transition, UTC offset in seconds from then on), ascending.
    transitions: Vec<(i64, i32)>,
    /// Offset before the first transition (the first local time type).
    initial: i32,
    /// The TZ string from the footer, for times after the last transition.
    rule: Option<PosixRule>,
}

impl Zone {
    /// UTC, for hosts that say so.
    pub fn utc() -> Self {
        Zone {
            transitions: Vec::new(),
            initial: 0,
            rule: None,
        }
    }

    /// The UTC offset, in seconds, at UTC time `utc` (Unix seconds).
    pub fn offset_at(&self, utc: i64) -> i32 {
        let after = self.transitions.partition_point(|&(at, _)| at <= utc);
        if after == self.transitions.len()
            && let Some(rule) = &self.rule
        {
            return rule.offset_at(utc);
        }
        match after {
            0 => self.initial,
            n => self.transitions[n - 1].1,
        }
    }

    /// The UTC instant of a local wall-clock time. In a gap or overlap (the hour a clock
    /// change skips or repeats) it takes the offset in force just before.
    pub fn to_utc(&self, local: NaiveDateTime) -> chrono::DateTime<Utc> {
        let wall = local.and_utc().timestamp();
        let first = self.offset_at(wall);
        let second = self.offset_at(wall - i64::from(first));
        let secs = wall - i64::from(second);
        Utc.timestamp_opt(secs, 0)
            .single()
            .unwrap_or_else(|| local.and_utc())
    }
}

/// A POSIX TZ rule such as `GMT0BST,M3.5.0/1,M10.5.0`.
#[derive(Debug, Clone, PartialEq)]
struct PosixRule {
    /// Standard-time offset east of UTC, seconds.
    std: i32,
    /// Daylight-time offset and the start and end of daylight time, when there is one.
    dst: Option<(i32, MonthRule, MonthRule)>,
}

/// `Mm.w.d[/time]`: day `d` (0 = Sunday) of week `w` (5 = last) of month `m`, at
/// `time` seconds after local midnight.
#[derive(Debug, Clone, Copy, PartialEq)]
struct MonthRule {
    month: u32,
    week: u32,
    weekday: u32,
    time: i64,
}

impl MonthRule {
    /// Local seconds (as if UTC) of this rule's moment in `year`.
    fn local_secs(&self, year: i32) -> Option<i64> {
        let first = NaiveDate::from_ymd_opt(year, self.month, 1)?;
        let first_wd = first.weekday().num_days_from_sunday();
        let mut day = 1 + (self.weekday + 7 - first_wd) % 7 + (self.week - 1) * 7;
        let next_month = if self.month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(year, self.month + 1, 1)?
        };
        let days_in_month = next_month.signed_duration_since(first).num_days() as u32;
        while day > days_in_month {
            day -= 7;
        }
        let date = NaiveDate::from_ymd_opt(year, self.month, day)?;
        Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp() + self.time)
    }
}

impl PosixRule {
    fn offset_at(&self, utc: i64) -> i32 {
        let Some((dst, start, end)) = self.dst else {
            return self.std;
        };
        let year = Utc
            .timestamp_opt(utc + i64::from(self.std), 0)
            .single()
            .map_or(1970, |t| t.year());
        let (Some(start_local), Some(end_local)) = (start.local_secs(year), end.local_secs(year))
        else {
            return self.std;
        };
        // The start is given in standard time, the end in daylight time.
        let start_utc = start_local - i64::from(self.std);
        let end_utc = end_local - i64::from(dst);
        let in_dst = if start_utc < end_utc {
            utc >= start_utc && utc < end_utc
        } else {
            utc < end_utc || utc >= start_utc
        };
        if in_dst { dst } else { self.std }
    }

    /// Parses a TZ string; `None` for forms this module does not handle (`Jn`, `n`).
    fn parse(text: &str) -> Option<PosixRule> {
        let mut rest = text.trim();
        rest = skip_name(rest)?;
        let (std_west, after) = parse_hms(rest)?;
        rest = after;
        let std = -std_west;
        if rest.is_empty() {
            return Some(PosixRule { std, dst: None });
        }
        rest = skip_name(rest)?;
        let mut dst = std + 3600;
        if !rest.starts_with(',') {
            let (dst_west, after) = parse_hms(rest)?;
            dst = -dst_west;
            rest = after;
        }
        let rest = rest.strip_prefix(',')?;
        let (start, end) = rest.split_once(',')?;
        Some(PosixRule {
            std,
            dst: Some((dst, parse_month_rule(start)?, parse_month_rule(end)?)),
        })
    }
}

fn skip_name(text: &str) -> Option<&str> {
    if let Some(quoted) = text.strip_prefix('<') {
        let end = quoted.find('>')?;
        return Some(&quoted[end + 1..]);
    }
    let end = text
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    (end >= 3).then(|| &text[end..])
}

/// `[+-]hh[:mm[:ss]]` as seconds, and the rest of the text.
fn parse_hms(text: &str) -> Option<(i32, &str)> {
    let (sign, body) = match text.as_bytes().first()? {
        b'-' => (-1, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let end = body
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap_or(body.len());
    if end == 0 {
        return None;
    }
    let mut secs = 0i32;
    let mut unit = 3600;
    for part in body[..end].split(':') {
        secs += part.parse::<i32>().ok()? * unit;
        unit /= 60;
    }
    Some((sign * secs, &body[end..]))
}

fn parse_month_rule(text: &str) -> Option<MonthRule> {
    let (date, time) = match text.split_once('/') {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.strip_prefix('M')?.split('.');
    let month: u32 = parts.next()?.parse().ok()?;
    let week: u32 = parts.next()?.parse().ok()?;
    let weekday: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=5).contains(&week) || weekday > 6 {
        return None;
    }
    let time = match time {
        Some(time) => {
            let (secs, rest) = parse_hms(time)?;
            if !rest.is_empty() {
                return None;
            }
            i64::from(secs)
        }
        None => 7200,
    };
    Some(MonthRule {
        month,
        week,
        weekday,
        time,
    })
}

/// Parses a TZif file (versions 1 to 4).
pub fn parse_tzif(bytes: &[u8]) -> Option<Zone> {
    let header = |at: usize| -> Option<[usize; 6]> {
        let head = bytes.get(at..at + 44)?;
        if &head[..4] != b"TZif" {
            return None;
        }
        let mut counts = [0usize; 6];
        for (i, count) in counts.iter_mut().enumerate() {
            let b = head.get(20 + i * 4..24 + i * 4)?;
            *count = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        }
        Some(counts)
    };
    let counts = header(0)?;
    let version = bytes[4];
    let v1_len = block_len(counts, 4);
    if version >= b'2' {
        let at = 44 + v1_len;
        let counts2 = header(at)?;
        let body = at + 44;
        let zone = parse_block(bytes.get(body..)?, counts2, 8)?;
        let footer_at = body + block_len(counts2, 8);
        let footer = bytes.get(footer_at..).unwrap_or_default();
        let rule = std::str::from_utf8(footer)
            .ok()
            .and_then(|text| text.trim_matches('\n').lines().next())
            .filter(|text| !text.is_empty())
            .and_then(PosixRule::parse);
        return Some(Zone { rule, ..zone });
    }
    parse_block(bytes.get(44..)?, counts, 4)
}

/// Length of a TZif data block. `counts` = isutcnt, isstdcnt, leapcnt, timecnt,
/// typecnt, charcnt.
fn block_len(counts: [usize; 6], time_size: usize) -> usize {
    let [isut, isstd, leap, time, types, chars] = counts;
    time * time_size + time + types * 6 + chars + leap * (time_size + 4) + isstd + isut
}

fn parse_block(body: &[u8], counts: [usize; 6], time_size: usize) -> Option<Zone> {
    let [_, _, _, timecnt, typecnt, _] = counts;
    if typecnt == 0 {
        return None;
    }
    let times = body.get(..timecnt * time_size)?;
    let indices = body.get(timecnt * time_size..timecnt * (time_size + 1))?;
    let types_at = timecnt * (time_size + 1);
    let types = body.get(types_at..types_at + typecnt * 6)?;
    let offset_of = |index: usize| -> Option<i32> {
        let t = types.get(index * 6..index * 6 + 4)?;
        Some(i32::from_be_bytes([t[0], t[1], t[2], t[3]]))
    };
    let mut transitions = Vec::with_capacity(timecnt);
    for (i, index) in indices.iter().enumerate() {
        let raw = &times[i * time_size..(i + 1) * time_size];
        let at = if time_size == 8 {
            i64::from_be_bytes(raw.try_into().ok()?)
        } else {
            i64::from(i32::from_be_bytes(raw.try_into().ok()?))
        };
        transitions.push((at, offset_of(usize::from(*index))?));
    }
    Some(Zone {
        transitions,
        initial: offset_of(0)?,
        rule: None,
    })
}

/// The IANA name of a zone file path such as `../usr/share/zoneinfo/Europe/London`.
pub fn zone_name_from_path(path: &str) -> Option<String> {
    let (_, name) = path.split_once("zoneinfo/")?;
    let name = name
        .strip_prefix("posix/")
        .or_else(|| name.strip_prefix("right/"))
        .unwrap_or(name);
    (!name.is_empty()).then(|| name.to_owned())
}

/// The host's time zone: its name (from the `/etc/localtime` link, else
/// `/etc/timezone`) and its rules (the TZif file `/etc/localtime` points at), or why
/// the rules could not be read.
pub fn host_zone(root: &SysRoot) -> (Option<String>, Result<Zone, String>) {
    let link = root.read_link("/etc/localtime").ok();
    let link_text = link.as_ref().map(|p| p.to_string_lossy().into_owned());
    let name = link_text
        .as_deref()
        .and_then(zone_name_from_path)
        .or_else(|| {
            root.read_attr("/etc/timezone")
                .ok()
                .flatten()
                .filter(|name| !name.contains(char::is_whitespace))
        });
    // An absolute link must be followed under the root, not on the machine we run on.
    let bytes = match &link_text {
        Some(target) if target.starts_with('/') && !root.is_live() => root.read(target),
        _ => root.read("/etc/localtime"),
    };
    let zone = match bytes {
        Ok(bytes) => parse_tzif(&bytes).ok_or_else(|| {
            "/etc/localtime: not a TZif time zone file; local times were taken as UTC".to_owned()
        }),
        Err(err) => match name.as_deref() {
            Some(
                "UTC" | "Etc/UTC" | "Etc/UCT" | "UCT" | "Zulu" | "Etc/Zulu" | "GMT" | "Etc/GMT",
            ) => Ok(Zone::utc()),
            _ if err.is_not_found() && name.is_none() => Ok(Zone::utc()),
            _ => Err(format!("{err}; local times were taken as UTC")),
        },
    };
    (name, zone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{DELL, fixture_path};

    fn london() -> Zone {
        let bytes =
            std::fs::read(fixture_path(DELL).join("usr/share/zoneinfo/Europe/London")).unwrap();
        parse_tzif(&bytes).unwrap()
    }

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn london_summer_and_winter_times_convert_to_utc() {
        let zone = london();
        assert_eq!(
            zone.to_utc(local("2024-06-12 06:25:14")).to_rfc3339(),
            "2024-06-12T05:25:14+00:00"
        );
        assert_eq!(
            zone.to_utc(local("2024-01-12 06:25:14")).to_rfc3339(),
            "2024-01-12T06:25:14+00:00"
        );
    }

    #[test]
    fn footer_rule_matches_the_transition_table() {
        // A zone with the transitions dropped answers from the footer rule alone: it
        // must agree with the table for every transition in 2000..2037.
        let full = london();
        let rule_only = Zone {
            transitions: Vec::new(),
            initial: 0,
            rule: full.rule.clone(),
        };
        assert!(rule_only.rule.is_some());
        for &(at, _) in full.transitions.iter().filter(|(at, _)| *at > 946_684_800) {
            for probe in [at - 1, at, at + 1, at + 86_400 * 30] {
                assert_eq!(
                    rule_only.offset_at(probe),
                    full.offset_at(probe),
                    "at {probe}"
                );
            }
        }
    }

    #[test]
    fn posix_rules_parse_southern_and_fixed_zones() {
        let sydney = PosixRule::parse("AEST-10AEDT,M10.1.0,M4.1.0/3").unwrap();
        // 2024-01-15 is summer (daylight) in Sydney, 2024-07-15 winter.
        assert_eq!(sydney.offset_at(1_705_276_800), 11 * 3600);
        assert_eq!(sydney.offset_at(1_721_001_600), 10 * 3600);
        assert_eq!(PosixRule::parse("<+0530>-5:30").unwrap().std, 19_800);
        assert_eq!(PosixRule::parse("EST5").unwrap().offset_at(0), -5 * 3600);
        assert_eq!(PosixRule::parse("J60"), None);
    }

    #[test]
    fn garbage_and_truncated_tzif_are_rejected() {
        assert_eq!(parse_tzif(b"not a zone"), None);
        let bytes =
            std::fs::read(fixture_path(DELL).join("usr/share/zoneinfo/Europe/London")).unwrap();
        assert_eq!(parse_tzif(&bytes[..bytes.len() / 3]), None);
    }

    #[test]
    fn zone_names_come_from_the_link() {
        assert_eq!(
            zone_name_from_path("../usr/share/zoneinfo/Europe/London").as_deref(),
            Some("Europe/London")
        );
        assert_eq!(
            zone_name_from_path("/usr/share/zoneinfo/posix/Etc/UTC").as_deref(),
            Some("Etc/UTC")
        );
        assert_eq!(zone_name_from_path("/etc/zone"), None);
    }
}
