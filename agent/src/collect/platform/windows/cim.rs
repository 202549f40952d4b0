//! WMI (CIM) query results as JSON objects, and the date formats they come in.
//!
//! A WMI result is a list of objects whose properties are JSON values: on Windows the
//! reading layer turns each `IWbemClassObject` into one; a recording is what
//! `Get-CimInstance ... | Select-Object ... | ConvertTo-Json` prints (one object when
//! there is a single instance, a list otherwise). Dates arrive as CIM `DATETIME` strings
//! (`20230815000000.000000+000`, live), as `/Date(1692057600000)/` (Windows PowerShell
//! 5.1), as ISO 8601 (PowerShell 7), as `M/d/yyyy` (`Win32_QuickFixEngineering`) or as
//! RFC 1123 (Security Center's `timestamp`); [`parse_datetime`] reads them all. No I/O.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};

/// One WMI instance: property name -> value.
pub type CimObject = Map<String, Value>;

/// The instances in a `ConvertTo-Json` document: an array, a single object, or `null`
/// (no instance). Anything else is an error naming what was found.
pub fn instances(value: Value) -> Result<Vec<CimObject>, String> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Object(o) => Ok(vec![o]),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(o) => Ok(o),
                other => Err(format!("item {i} is {}, not an object", kind(&other))),
            })
            .collect(),
        other => Err(format!(
            "expected an object or a list of objects, found {}",
            kind(&other)
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A property, looked up exactly and then ignoring case (WMI names are case-insensitive).
pub fn get<'a>(obj: &'a CimObject, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A string property, trimmed; `None` when absent, null or blank.
pub fn string(obj: &CimObject, name: &str) -> Option<String> {
    match get(obj, name)? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An unsigned property: a JSON number, or a string holding one (WMI's `uint64` travels
/// as a string).
pub fn uint(obj: &CimObject, name: &str) -> Option<u64> {
    match get(obj, name)? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean property (also `"True"`/`"False"` and 0/1).
pub fn boolean(obj: &CimObject, name: &str) -> Option<bool> {
    match get(obj, name)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_u64().map(|v| v != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A list-of-numbers property (`ChassisTypes`); a single number counts as a list of one.
pub fn uints(obj: &CimObject, name: &str) -> Vec<u64> {
    match get(obj, name) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
            .collect(),
        Some(Value::Number(n)) => n.as_u64().into_iter().collect(),
        _ => Vec::new(),
    }
}

/// A date-time property in any of the forms WMI results come in (see the module docs).
pub fn datetime(obj: &CimObject, name: &str) -> Option<DateTime<Utc>> {
    match get(obj, name)? {
        Value::String(s) => parse_datetime(s),
        // ConvertTo-Json -Depth 2 on a DateTime can give {"value": "...", "DateTime": "..."}.
        Value::Object(o) => o
            .get("value")
            .and_then(Value::as_str)
            .and_then(parse_datetime),
        _ => None,
    }
}

/// Parses a date-time as WMI, PowerShell or Security Center write it.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    // Windows PowerShell 5.1: /Date(1692057600000)/, possibly with a +hhmm suffix.
    if let Some(inner) = s
        .strip_prefix("/Date(")
        .or_else(|| s.strip_prefix("\\/Date("))
        .and_then(|r| r.split(')').next())
    {
        let millis: String = inner
            .chars()
            .enumerate()
            .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '-'))
            .map(|(_, c)| c)
            .collect();
        return DateTime::<Utc>::from_timestamp_millis(millis.parse().ok()?);
    }
    if let Some(dt) = parse_dmtf(s) {
        return Some(dt);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    if let Ok(dt) = DateTime::parse_from_rfc2822(s) {
        return Some(dt.with_timezone(&Utc));
    }
    // ISO 8601 without an offset (PowerShell 7 for a DateTime of kind Unspecified), and
    // the `yyyy-MM-dd HH:mm:ss` Windows Update writes in the registry: taken as UTC.
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, format) {
            return Some(Utc.from_utc_datetime(&naive));
        }
    }
    parse_date(s)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| Utc.from_utc_datetime(&n))
}

/// A CIM DATETIME: `yyyymmddHHMMSS.mmmmmmsUUU` (UUU: offset from UTC in minutes).
/// Wildcard fields (`*`) or a malformed string give `None`.
pub fn parse_dmtf(s: &str) -> Option<DateTime<Utc>> {
    if s.len() != 25 || s.as_bytes()[14] != b'.' {
        return None;
    }
    let naive = NaiveDateTime::parse_from_str(&s[..14], "%Y%m%d%H%M%S").ok()?;
    let micros: i64 = s[15..21].parse().ok()?;
    let sign = match &s[21..22] {
        "+" => 1,
        "-" => -1,
        _ => return None,
    };
    let offset_minutes: i64 = s[22..25].parse().ok()?;
    let local = Utc.from_utc_datetime(&naive) + chrono::Duration::microseconds(micros);
    Some(local - chrono::Duration::minutes(sign * offset_minutes))
}

/// A date alone: `yyyymmdd` (the Uninstall keys' `InstallDate`), `yyyy-mm-dd`, or
/// `M/d/yyyy` (`Win32_QuickFixEngineering.InstalledOn`, always US order in WMI).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(s, "%Y%m%d").ok();
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%m/%d/%Y"))
        .ok()
}

/// A Windows FILETIME (100 ns ticks since 1601-01-01 UTC) as a time; 0 gives `None`.
pub fn filetime(ticks: u64) -> Option<DateTime<Utc>> {
    const UNIX_EPOCH_TICKS: u64 = 116_444_736_000_000_000;
    if ticks == 0 {
        return None;
    }
    let since_unix = i64::try_from(ticks).ok()? - i64::try_from(UNIX_EPOCH_TICKS).ok()?;
    DateTime::<Utc>::from_timestamp(
        since_unix.div_euclid(10_000_000),
        u32::try_from(since_unix.rem_euclid(10_000_000) * 100).ok()?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn every_date_form_wmi_results_use_is_read() {
        let want = at("2023-08-15T00:00:00Z");
        assert_eq!(parse_datetime("20230815000000.000000+000"), Some(want));
        // An offset in minutes east of UTC: 01:00 local at +060 is midnight UTC.
        assert_eq!(parse_datetime("20230815010000.000000+060"), Some(want));
        assert_eq!(parse_datetime("/Date(1692057600000)/"), Some(want));
        assert_eq!(parse_datetime("\\/Date(1692057600000)\\/"), Some(want));
        assert_eq!(parse_datetime("2023-08-15T00:00:00+00:00"), Some(want));
        assert_eq!(parse_datetime("2023-08-15T00:00:00"), Some(want));
        assert_eq!(parse_datetime("8/15/2023"), Some(want));
        assert_eq!(parse_datetime("20230815"), Some(want));
        assert_eq!(parse_datetime("Tue, 15 Aug 2023 00:00:00 GMT"), Some(want));
        assert_eq!(parse_datetime("2023-08-15 00:00:00"), Some(want));
        assert_eq!(parse_datetime("********000000.000000+000"), None);
        assert_eq!(parse_datetime("not a date"), None);
        assert_eq!(parse_datetime(""), None);
    }

    #[test]
    fn filetime_counts_from_1601() {
        assert_eq!(
            filetime(116_444_736_000_000_000),
            Some(at("1970-01-01T00:00:00Z"))
        );
        assert_eq!(
            filetime(133_365_312_000_000_000),
            Some(at("2023-08-15T00:00:00Z"))
        );
        assert_eq!(filetime(0), None);
    }

    #[test]
    fn one_instance_or_many() {
        assert_eq!(instances(json!({"A": 1})).unwrap().len(), 1);
        assert_eq!(instances(json!([{"A": 1}, {"A": 2}])).unwrap().len(), 2);
        assert_eq!(instances(json!(null)).unwrap().len(), 0);
        assert!(instances(json!("x")).unwrap_err().contains("a string"));
        assert!(instances(json!([1])).unwrap_err().contains("item 0"));
    }

    #[test]
    fn properties_are_read_leniently() {
        let obj = instances(json!({
            "Manufacturer": " Dell Inc. ", "Capacity": "17179869184", "IsEnabled": "True",
            "ChassisTypes": [10], "Blank": "  "
        }))
        .unwrap()
        .remove(0);
        assert_eq!(string(&obj, "manufacturer").as_deref(), Some("Dell Inc."));
        assert_eq!(uint(&obj, "Capacity"), Some(17_179_869_184));
        assert_eq!(boolean(&obj, "IsEnabled"), Some(true));
        assert_eq!(uints(&obj, "ChassisTypes"), vec![10]);
        assert_eq!(string(&obj, "Blank"), None);
        assert_eq!(string(&obj, "Missing"), None);
    }
}
