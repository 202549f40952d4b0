//! Antivirus: the products registered with Windows Security Center, Microsoft Defender's
//! own status, and configured products found by process name.
//!
//! - `ROOT\SecurityCenter2 AntiVirusProduct` (Windows clients only; servers have no
//!   Security Center): `displayName` and `productState`, a packed number decoded by
//!   [`ProductState::decode`]: bits 12–15 the scanner (0 off, 1 on, 2 snoozed, 3 expired),
//!   bits 8–11 whether Microsoft owns the product, bits 4–7 the definitions (0 up to date,
//!   1 out of date), bits 16–23 the Security Center provider flags. Well-known values:
//!   397568 (0x061100) Defender on and current, 393472 (0x060100) Defender off, 266240
//!   (0x041000) a third-party product on and current, 266256 (0x041010) on, out of date.
//! - `ROOT\Microsoft\Windows\Defender MSFT_MpComputerStatus` (clients and servers with
//!   Defender): antivirus enabled, real-time protection, and the signature date, which
//!   gives the signature age; else the `AVSignatureApplied` FILETIME under
//!   `HKLM\SOFTWARE\Microsoft\Windows Defender\Signature Updates`.
//! - `[antivirus]` in `agent.toml`: a product whose process runs is present (EDR sensors
//!   rarely register with Security Center on servers).
//!
//! The protocol's list holds the products that are on.

use chrono::{DateTime, Utc};

use crate::collect::platform::windows::cim::{self, CimObject};
use crate::collect::platform::windows::registry::{RegRead, Registry};
use crate::collect::platform::windows::source::WmiQuery;
use crate::config::AntivirusProduct;

/// Security Center's antivirus products (clients only).
pub const SECURITY_CENTER: WmiQuery = WmiQuery {
    namespace: r"ROOT\SecurityCenter2",
    class: "AntiVirusProduct",
    properties: &["displayName", "productState", "timestamp"],
    privacy: false,
};

/// Microsoft Defender's status.
pub const DEFENDER: WmiQuery = WmiQuery {
    namespace: r"ROOT\Microsoft\Windows\Defender",
    class: "MSFT_MpComputerStatus",
    properties: &[
        "AMServiceEnabled",
        "AntivirusEnabled",
        "RealTimeProtectionEnabled",
        "AntivirusSignatureVersion",
        "AntivirusSignatureLastUpdated",
    ],
    privacy: false,
};

/// Defender's signature state in the registry.
pub const SIGNATURES: &str =
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows Defender\Signature Updates";

/// The keys read.
pub const READS: &[RegRead] = &[RegRead::key(SIGNATURES)];

/// The name the agent gives Defender when only its status (not Security Center) says so.
pub const DEFENDER_NAME: &str = "Microsoft Defender Antivirus";

/// A decoded `productState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductState {
    /// Scanner on.
    pub enabled: bool,
    /// Scanner snoozed or expired (off, but not by choice).
    pub snoozed_or_expired: bool,
    /// Definitions up to date.
    pub up_to_date: bool,
    /// A Microsoft product.
    pub microsoft: bool,
}

impl ProductState {
    /// Decodes Security Center's `productState`.
    pub fn decode(state: u32) -> Self {
        let scanner = (state >> 12) & 0xF;
        ProductState {
            enabled: scanner == 1,
            snoozed_or_expired: scanner == 2 || scanner == 3,
            up_to_date: (state >> 4) & 0xF == 0,
            microsoft: (state >> 8) & 0xF == 1,
        }
    }
}

/// One antivirus product and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Its name (`Windows Defender`, `Sophos Anti-Virus`).
    pub name: String,
    /// Scanning.
    pub enabled: bool,
    /// Definitions up to date, where known.
    pub up_to_date: Option<bool>,
    /// Whole days since the signatures were updated, where known.
    pub signature_age_days: Option<i64>,
    /// Where the agent learnt of it.
    pub source: &'static str,
}

/// The products found. `security_center` and `defender` are the WMI results (`None` when
/// the class could not be read); `processes` the running image names.
pub fn products(
    security_center: Option<&[CimObject]>,
    defender: Option<&[CimObject]>,
    reg: &Registry,
    configured: &[AntivirusProduct],
    processes: &[String],
    now: DateTime<Utc>,
) -> Vec<Product> {
    let mut out: Vec<Product> = Vec::new();
    for p in security_center.unwrap_or_default() {
        let Some(name) = cim::string(p, "displayName") else {
            continue;
        };
        let state = cim::uint(p, "productState")
            .and_then(|s| u32::try_from(s).ok())
            .map(ProductState::decode);
        out.push(Product {
            name,
            enabled: state.is_some_and(|s| s.enabled),
            up_to_date: state.map(|s| s.up_to_date),
            signature_age_days: None,
            source: "Security Center",
        });
    }

    // Defender's own status: its signature age, and Defender on servers.
    let status = defender.and_then(|d| d.first());
    let signed_at = status
        .and_then(|s| cim::datetime(s, "AntivirusSignatureLastUpdated"))
        .or_else(|| {
            reg.value(SIGNATURES, "AVSignatureApplied")
                .and_then(|v| v.as_u64())
                .and_then(cim::filetime)
        });
    let age = signed_at.map(|t| (now - t).num_days().max(0));
    let defender_on = status.map(|s| {
        cim::boolean(s, "AMServiceEnabled").unwrap_or(false)
            && cim::boolean(s, "AntivirusEnabled").unwrap_or(false)
    });
    let is_defender = |name: &str| {
        let n = name.to_ascii_lowercase();
        n.contains("defender")
    };
    match out.iter_mut().find(|p| is_defender(&p.name)) {
        Some(p) => p.signature_age_days = age,
        None => {
            if let Some(on) = defender_on {
                out.push(Product {
                    name: DEFENDER_NAME.to_owned(),
                    enabled: on,
                    up_to_date: None,
                    signature_age_days: age,
                    source: "MSFT_MpComputerStatus",
                });
            }
        }
    }

    let running: Vec<String> = processes
        .iter()
        .map(|p| p.to_ascii_lowercase().trim_end_matches(".exe").to_owned())
        .collect();
    for c in configured {
        let found = c.processes.iter().any(|want| {
            let want = want.to_ascii_lowercase();
            running.iter().any(|r| *r == want.trim_end_matches(".exe"))
        });
        if found && !out.iter().any(|p| p.name.eq_ignore_ascii_case(&c.name)) {
            out.push(Product {
                name: c.name.clone(),
                enabled: true,
                up_to_date: None,
                signature_age_days: None,
                source: "process",
            });
        }
    }
    out
}

/// How a product reads in a message: `Windows Defender on, definitions up to date,
/// signatures 1 day old`.
pub fn describe(p: &Product) -> String {
    let mut parts = vec![format!(
        "{} {}",
        p.name,
        if p.enabled { "on" } else { "off" }
    )];
    match p.up_to_date {
        Some(true) => parts.push("definitions up to date".to_owned()),
        Some(false) => parts.push("definitions out of date".to_owned()),
        None => {}
    }
    if let Some(days) = p.signature_age_days {
        parts.push(format!(
            "signatures {days} day{} old",
            if days == 1 { "" } else { "s" }
        ));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn product_states_decode_as_security_center_means_them() {
        let on = ProductState::decode(397_568);
        assert!(on.enabled && on.up_to_date && on.microsoft);
        let off = ProductState::decode(393_472);
        assert!(!off.enabled && off.up_to_date && off.microsoft);
        let third = ProductState::decode(266_240);
        assert!(third.enabled && third.up_to_date && !third.microsoft);
        let stale = ProductState::decode(266_256);
        assert!(stale.enabled && !stale.up_to_date);
        let snoozed = ProductState::decode(0x06_2100);
        assert!(!snoozed.enabled && snoozed.snoozed_or_expired);
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn defender_on_a_server_comes_from_its_status_and_edr_from_its_process() {
        let status = cim::instances(json!({
            "AMServiceEnabled": true, "AntivirusEnabled": true,
            "AntivirusSignatureLastUpdated": "20231210061500.000000+000"
        }))
        .unwrap();
        let configured = vec![AntivirusProduct {
            name: "CrowdStrike Falcon".to_owned(),
            packages: Vec::new(),
            paths: Vec::new(),
            processes: vec!["CSFalconService".to_owned()],
        }];
        let found = products(
            None,
            Some(&status),
            &Registry::new(),
            &configured,
            &["CSFalconService.exe".to_owned(), "svchost.exe".to_owned()],
            at("2023-12-14T10:00:00Z"),
        );
        assert_eq!(found.len(), 2);
        assert_eq!(
            describe(&found[0]),
            "Microsoft Defender Antivirus on, signatures 4 days old"
        );
        assert_eq!(found[1].name, "CrowdStrike Falcon");
        assert_eq!(found[1].source, "process");
    }
}
