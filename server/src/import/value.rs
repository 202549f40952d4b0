//! Cell values of inventory exports: sizes with or without units ("4 GB", "16,384",
//! "16384 MiB"), counts, percentages, times, UUIDs (with VMware's byte order), and the
//! OS a product name describes. Pure functions; no I/O.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use uuid::Uuid;

/// A unit of size, in bytes.
pub const KIB: f64 = 1024.0;
/// Mebibyte.
pub const MIB: f64 = KIB * 1024.0;
/// Gibibyte.
pub const GIB: f64 = MIB * 1024.0;
/// Tebibyte.
pub const TIB: f64 = GIB * 1024.0;

/// A number as people write it in spreadsheets: `16384`, `16,384` (thousands
/// separators), `16 384`, `2.5`, `2,5` (a decimal comma when it is not a thousands
/// separator).
pub fn parse_number(text: &str) -> Result<f64, String> {
    let t: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\''))
        .collect();
    if t.is_empty() {
        return Err("empty".to_owned());
    }
    let thousands = {
        let (int, _) = t.split_once('.').unwrap_or((&t, ""));
        let groups: Vec<&str> = int.split(',').collect();
        groups.len() > 1
            && (1..=3).contains(&groups[0].trim_start_matches('-').len())
            && groups[1..].iter().all(|g| g.len() == 3)
    };
    let cleaned = if thousands {
        t.replace(',', "")
    } else if t.matches(',').count() == 1 && !t.contains('.') {
        t.replace(',', ".")
    } else {
        t.clone()
    };
    match cleaned.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("`{}` is not a number", text.trim())),
    }
}

/// A size in bytes: a number with an optional unit (`B`, `KB`/`KiB`, `MB`/`MiB`,
/// `GB`/`GiB`, `TB`/`TiB`; the decimal names are read as binary, as Windows and
/// VMware write them), `default_unit` (bytes per unit) when there is none.
pub fn parse_size(text: &str, default_unit: f64) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .char_indices()
        .find(|(_, c)| c.is_ascii_alphabetic())
        .map_or(t.len(), |(i, _)| i);
    let (number, unit) = t.split_at(split);
    let unit_bytes = match unit.trim().to_ascii_lowercase().as_str() {
        "" => default_unit,
        "b" | "bytes" => 1.0,
        "k" | "kb" | "kib" => KIB,
        "m" | "mb" | "mib" => MIB,
        "g" | "gb" | "gib" => GIB,
        "t" | "tb" | "tib" => TIB,
        other => return Err(format!("`{other}` is not a unit of size (in `{t}`)")),
    };
    let v = parse_number(number).map_err(|_| format!("`{t}` is not a size"))?;
    if v < 0.0 {
        return Err(format!("`{t}` is negative"));
    }
    let bytes = v * unit_bytes;
    if bytes > u64::MAX as f64 / 2.0 {
        return Err(format!("`{t}` is too large"));
    }
    Ok(bytes.round() as u64)
}

/// A whole count (`4`, `4.0`, `1,024`), at most `u32::MAX`.
pub fn parse_count(text: &str) -> Result<u32, String> {
    let v = parse_number(text)?;
    if v < 0.0 || v.fract() != 0.0 || v > f64::from(u32::MAX) {
        return Err(format!("`{}` is not a whole number", text.trim()));
    }
    Ok(v as u32)
}

/// A percentage 0–100 (`35`, `35 %`, `35.5%`) as a ratio 0–1.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let t = text.trim().trim_end_matches('%').trim();
    let v = parse_number(t).map_err(|_| format!("`{}` is not a percentage", text.trim()))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(format!("`{}` is outside 0–100 %", text.trim()));
    }
    Ok(v / 100.0)
}

/// A time: RFC 3339, or a date and time as RVTools and spreadsheets write them
/// (`2026-03-01 10:22:13`, `2026/03/01 10:22:13`, `01/03/2026 10:22`, taken as UTC), or a
/// date alone (midnight UTC).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    const FORMATS: &[&str] = &[
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H:%M",
        "%m/%d/%Y %I:%M:%S %p",
    ];
    for f in FORMATS {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
            return Some(Utc.from_utc_datetime(&n));
        }
    }
    for f in ["%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(t, f) {
            return d.and_hms_opt(0, 0, 0).map(|n| Utc.from_utc_datetime(&n));
        }
    }
    None
}

/// A UUID as exports write it (hyphenated, braced, bare hex, any case); `None` for
/// placeholders (all zeros, all ones).
pub fn parse_uuid(text: &str) -> Option<Uuid> {
    let t = text.trim().trim_start_matches('{').trim_end_matches('}');
    let u = Uuid::parse_str(t).ok()?;
    (!u.is_nil() && !u.is_max()).then_some(u)
}

/// The same UUID with its first three groups byte-swapped: vSphere shows a VM's BIOS
/// UUID (`config.uuid`) in one byte order, and a guest reading SMBIOS (Linux
/// `/sys/class/dmi/id/product_uuid`) may see the first three fields little-endian
/// (SMBIOS 2.6 and later). `4237c4bf-1a2b-3c4d-…` and `bfc43742-2b1a-4d3c-…` are one VM.
pub fn byte_swapped(u: Uuid) -> Uuid {
    let b = u.as_bytes();
    let swapped = [
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13],
        b[14], b[15],
    ];
    Uuid::from_bytes(swapped)
}

/// What an OS product name says: family, os-release style id, version and (Windows)
/// build, and the architecture when the name carries `(64-bit)`/`(32-bit)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsGuess {
    /// `linux`, `windows`, `unix` or `unknown`.
    pub family: String,
    /// `windows`, `ubuntu`, `rhel`, `debian`, `centos`, `sles`, `ol`, `rocky`, … or
    /// `unknown`.
    pub id: String,
    /// The version where the name gives one (`22.04`, `9`, `2019`).
    pub version: Option<String>,
    /// The Windows build the product name implies (Windows Server releases only).
    pub build: Option<String>,
    /// `x86_64` or `i686`, where the name says.
    pub arch: Option<String>,
}

/// Windows Server releases and their builds (what the lifecycle table matches on).
const WINDOWS_SERVER_BUILDS: &[(&str, &str)] = &[
    ("2025", "26100"),
    ("2022", "20348"),
    ("2019", "17763"),
    ("2016", "14393"),
    ("2012 r2", "9600"),
    ("2012", "9200"),
    ("2008 r2", "7601"),
    ("2008", "6003"),
];

/// Linux distributions by what their product names contain, most specific first.
const LINUX_IDS: &[(&str, &str)] = &[
    ("red hat enterprise linux", "rhel"),
    ("rhel", "rhel"),
    ("centos stream", "centos"),
    ("centos", "centos"),
    ("rocky", "rocky"),
    ("almalinux", "almalinux"),
    ("oracle linux", "ol"),
    ("suse linux enterprise", "sles"),
    ("sles", "sles"),
    ("opensuse", "opensuse-leap"),
    ("ubuntu", "ubuntu"),
    ("debian", "debian"),
    ("fedora", "fedora"),
    ("photon", "photon"),
    ("amazon linux", "amzn"),
];

/// Reads an OS product name (`Microsoft Windows Server 2019 (64-bit)`, `Ubuntu 22.04.3
/// LTS`, `Red Hat Enterprise Linux 8 (64-bit)`).
pub fn guess_os(name: &str) -> OsGuess {
    let lower = name.to_ascii_lowercase();
    let arch = if lower.contains("64-bit") || lower.contains("x64") || lower.contains("x86_64") {
        Some("x86_64".to_owned())
    } else if lower.contains("32-bit") || lower.contains("(x86)") {
        Some("i686".to_owned())
    } else {
        None
    };
    if lower.contains("windows") {
        let server = lower.contains("server");
        let (version, build) = if server {
            WINDOWS_SERVER_BUILDS
                .iter()
                .find(|(v, _)| lower.contains(&format!("server {v}")))
                .map_or((None, None), |(v, b)| {
                    (
                        Some(v.replace(' ', "").to_uppercase()),
                        Some((*b).to_owned()),
                    )
                })
        } else {
            (first_version(&lower), None)
        };
        return OsGuess {
            family: "windows".to_owned(),
            id: "windows".to_owned(),
            version,
            build,
            arch,
        };
    }
    if let Some((_, id)) = LINUX_IDS.iter().find(|(needle, _)| lower.contains(needle)) {
        let mut version = first_version(&lower);
        if *id != "ubuntu" {
            // Matched on the major version (`9` matches `9.4`); Ubuntu's are exact.
            version = version.map(|v| v.split('.').next().unwrap_or_default().to_owned());
        } else {
            version = version.map(|v| v.split('.').take(2).collect::<Vec<_>>().join("."));
        }
        return OsGuess {
            family: "linux".to_owned(),
            id: (*id).to_owned(),
            version,
            build: None,
            arch,
        };
    }
    let family = if lower.contains("linux") {
        "linux"
    } else if lower.contains("freebsd") || lower.contains("solaris") || lower.contains("aix") {
        "unix"
    } else {
        "unknown"
    };
    OsGuess {
        family: family.to_owned(),
        id: "unknown".to_owned(),
        version: None,
        build: None,
        arch,
    }
}

/// The first version-like token (`22.04.3`, `8`, `15`), not counting `32`/`64` of
/// "(64-bit)".
fn first_version(lower: &str) -> Option<String> {
    lower
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|t| t.trim_matches('.'))
        .filter(|t| !t.is_empty() && t.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .find(|t| {
            let rest = &lower[lower.find(*t).unwrap_or(0) + t.len()..];
            !rest.starts_with("-bit")
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_spreadsheets_write_them() {
        assert_eq!(parse_number("16,384").unwrap(), 16384.0);
        assert_eq!(parse_number("1,048,576.5").unwrap(), 1_048_576.5);
        assert_eq!(parse_number("2,5").unwrap(), 2.5);
        assert_eq!(parse_number(" 16 384 ").unwrap(), 16384.0);
        assert!(parse_number("four").is_err());
        assert!(parse_number("").is_err());
    }

    #[test]
    fn sizes_with_and_without_units() {
        assert_eq!(parse_size("4 GB", MIB).unwrap(), 4 * 1024 * 1024 * 1024);
        assert_eq!(parse_size("16,384", MIB).unwrap(), 16384 * 1024 * 1024);
        assert_eq!(parse_size("512MiB", GIB).unwrap(), 512 * 1024 * 1024);
        assert_eq!(parse_size("1.5 TB", GIB).unwrap(), (1.5 * TIB) as u64);
        assert!(parse_size("4 parsecs", MIB).is_err());
        assert!(parse_size("-4", MIB).is_err());
    }

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("35 %").unwrap(), 0.35);
        assert_eq!(parse_percent("12.5").unwrap(), 0.125);
        assert!(parse_percent("140").is_err());
    }

    #[test]
    fn vmware_uuid_byte_order() {
        let vmware = parse_uuid("4237C4BF-1A2B-3C4D-8E9F-A0B1C2D3E4F5").unwrap();
        let smbios = parse_uuid("bfc43742-2b1a-4d3c-8e9f-a0b1c2d3e4f5").unwrap();
        assert_eq!(byte_swapped(vmware), smbios);
        assert_eq!(byte_swapped(smbios), vmware);
        assert_eq!(
            parse_uuid("{4237c4bf1a2b3c4d8e9fa0b1c2d3e4f5}"),
            Some(vmware)
        );
        assert_eq!(parse_uuid("00000000-0000-0000-0000-000000000000"), None);
    }

    #[test]
    fn os_names() {
        let w = guess_os("Microsoft Windows Server 2012 R2 (64-bit)");
        assert_eq!(
            (w.id.as_str(), w.build.as_deref()),
            ("windows", Some("9600"))
        );
        assert_eq!(w.arch.as_deref(), Some("x86_64"));
        let u = guess_os("Ubuntu 22.04.3 LTS");
        assert_eq!(
            (u.id.as_str(), u.version.as_deref()),
            ("ubuntu", Some("22.04"))
        );
        let r = guess_os("Red Hat Enterprise Linux 8 (64-bit)");
        assert_eq!((r.id.as_str(), r.version.as_deref()), ("rhel", Some("8")));
        let c = guess_os("CentOS 7 (64-bit)");
        assert_eq!((c.id.as_str(), c.version.as_deref()), ("centos", Some("7")));
        let o = guess_os("Other (32-bit)");
        assert_eq!(
            (o.family.as_str(), o.arch.as_deref()),
            ("unknown", Some("i686"))
        );
        assert_eq!(guess_os("Ubuntu Linux (64-bit)").version, None);
    }

    #[test]
    fn times() {
        let t = parse_time("2026-03-01 10:22:13").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-01T10:22:13+00:00");
        assert_eq!(parse_time("2026/03/01 10:22:13"), Some(t));
        assert!(parse_time("yesterday").is_none());
    }
}
