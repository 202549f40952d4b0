//! The Windows 11 readiness view: for each Windows 10 host, which of Windows 11's hardware
//! requirements it meets, misses or cannot be judged on, and the counts across them.
//!
//! Requirements (<https://learn.microsoft.com/windows/whats-new/windows-11-requirements>):
//! a TPM 2.0 (`security.tpm2`), UEFI firmware that can do Secure Boot (`security.uefi`:
//! legacy BIOS boot blocks; Secure Boot switched off does not, it only has to be
//! possible), a supported processor (`hardware.cpu_model`, by [`cpu_supported`]), 4 GiB
//! of memory (`hardware.memory_bytes`) and 64 GB of storage (`storage.total_bytes`).
//! Pure: no I/O; the facts come from the stored assessment (`assess::STORED_FACTS`).

use super::input::{HostFacts, ReportHost};
use super::model::{Windows11Host, Windows11Readiness, Windows11Requirement};

/// Memory Windows 11 needs, bytes (4 GiB).
pub const MIN_MEMORY_BYTES: u64 = 4 << 30;
/// Storage Windows 11 needs, bytes (64 GB).
pub const MIN_STORAGE_BYTES: u64 = 64_000_000_000;
/// Firmware reports memory a little under the installed size (reserved for graphics
/// and firmware): a 4 GiB machine shows about 3.8 GiB usable. Usable memory at or above
/// this share of [`MIN_MEMORY_BYTES`] counts as 4 GiB installed.
pub const MEMORY_REPORTED_SHARE: f64 = 0.9;

/// The requirements, in the order the view lists them: (id, title).
pub const REQUIREMENTS: [(&str, &str); 5] = [
    ("tpm2", "TPM 2.0"),
    ("uefi_secure_boot", "UEFI firmware, Secure Boot capable"),
    (
        "cpu",
        "Supported processor (Intel 8th generation / AMD Zen+ or newer)",
    ),
    ("memory", "4 GiB of memory"),
    ("storage", "64 GB of storage"),
];

/// Whether a host runs Windows 10 (the agent names client builds from 22000 on
/// "Windows 11", so a "Windows 10" name is a Windows 10 build).
pub fn is_windows10(host: &ReportHost) -> bool {
    host.os_family.as_deref() == Some("windows")
        && host
            .os_name
            .as_deref()
            .is_some_and(|n| n.starts_with("Windows 10"))
}

/// Whether Windows 11 supports a processor, from its model string: Intel Core from the
/// 8th generation (`i5-8350U`, `i7-10510U`, `i5-1135G7`, `Core Ultra`), AMD Ryzen from
/// Zen+ (the 2000 desktop series without a suffix letter, 3000 and later; the 2000
/// mobile series `2500U` and the `G` APUs are Zen and not supported). `None` where the
/// string says too little (Xeon, Pentium, Celeron, Athlon, EPYC: Microsoft's lists go
/// model by model) — the view then counts the host as unknown rather than guessing.
pub fn cpu_supported(model: &str) -> Option<bool> {
    let lower = model.to_ascii_lowercase();
    if lower.contains("intel") {
        if lower.contains("core(tm) ultra") || lower.contains("core ultra") {
            return Some(true);
        }
        // "Core(TM) i5-8350U", "Core(TM) i7-10510U", "Core(TM) i5-1135G7",
        // "Core(TM) m3-8100Y".
        let number = lower
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .find_map(|word| {
                let (family, rest) = word.split_once('-')?;
                let is_core = matches!(family, "i3" | "i5" | "i7" | "i9" | "m3" | "m5" | "m7");
                is_core.then_some(rest)
            })?;
        let digits: String = number.chars().take_while(char::is_ascii_digit).collect();
        let generation: u32 = match digits.len() {
            4 => digits.get(..1)?.parse().ok()?,
            5 => digits.get(..2)?.parse().ok()?,
            _ => return None,
        };
        // Four digits beginning with 1 are the 10th+ generation's mobile parts
        // (`1135G7`: 11th); five digits are 10th and later (`10510U`, `12700`).
        let generation = if digits.len() == 4 && generation == 1 {
            digits.get(..2)?.parse().ok()?
        } else {
            generation
        };
        return Some(generation >= 8);
    }
    if lower.contains("amd") && lower.contains("ryzen") && !lower.contains("threadripper") {
        // "AMD Ryzen 5 2600 Six-Core Processor", "AMD Ryzen 7 PRO 4750U".
        let words: Vec<&str> = lower.split_whitespace().collect();
        let number = words
            .iter()
            .skip_while(|w| !w.starts_with("ryzen"))
            .find(|w| w.len() >= 4 && w.chars().take(4).all(|c| c.is_ascii_digit()))?;
        let series = number.chars().next()?.to_digit(10)?;
        let suffix: String = number.chars().skip(4).collect();
        return Some(match series {
            0 | 1 => false,
            // 2000 desktop (Zen+) yes; 2000 mobile and APUs (U, H, G: Zen) no.
            2 => suffix.is_empty() || suffix == "x",
            _ => true,
        });
    }
    None
}

/// One requirement's outcome on one host: met, missed, or unknown.
fn outcomes(facts: &HostFacts) -> [Option<bool>; 5] {
    let memory = facts.memory_bytes.map(|b| {
        #[allow(clippy::cast_precision_loss)]
        let share = b as f64 / MIN_MEMORY_BYTES as f64;
        share >= MEMORY_REPORTED_SHARE
    });
    [
        facts.tpm2,
        facts.uefi,
        facts.cpu_model.as_deref().and_then(cpu_supported),
        memory,
        facts.storage_total_bytes.map(|b| b >= MIN_STORAGE_BYTES),
    ]
}

/// The readiness view of `hosts` (all hosts; only the Windows 10 ones are counted), or
/// `None` when none runs Windows 10.
pub fn readiness<'a>(
    hosts: impl IntoIterator<Item = (&'a ReportHost, &'a HostFacts)>,
) -> Option<Windows11Readiness> {
    let mut requirements: Vec<Windows11Requirement> = REQUIREMENTS
        .iter()
        .map(|(id, title)| Windows11Requirement {
            id: (*id).to_owned(),
            title: (*title).to_owned(),
            blocked_hosts: 0,
            unknown_hosts: 0,
        })
        .collect();
    let mut rows = Vec::new();
    for (host, facts) in hosts {
        if !is_windows10(host) {
            continue;
        }
        let mut blockers = Vec::new();
        let mut unknown = Vec::new();
        for (outcome, req) in outcomes(facts).iter().zip(requirements.iter_mut()) {
            match outcome {
                Some(true) => {}
                Some(false) => {
                    req.blocked_hosts += 1;
                    blockers.push(req.id.clone());
                }
                None => {
                    req.unknown_hosts += 1;
                    unknown.push(req.id.clone());
                }
            }
        }
        let status = if !blockers.is_empty() {
            "not_ready"
        } else if !unknown.is_empty() {
            "unknown"
        } else {
            "ready"
        };
        rows.push(Windows11Host {
            host_id: host.host_id.clone(),
            hostname: host.hostname.clone(),
            status: status.to_owned(),
            blockers,
            unknown,
            cpu_model: facts.cpu_model.clone(),
        });
    }
    if rows.is_empty() {
        return None;
    }
    let rank = |s: &str| match s {
        "not_ready" => 0,
        "unknown" => 1,
        _ => 2,
    };
    rows.sort_by(|a, b| {
        rank(&a.status)
            .cmp(&rank(&b.status))
            .then_with(|| a.hostname.cmp(&b.hostname))
            .then_with(|| a.host_id.cmp(&b.host_id))
    });
    let count = |s: &str| rows.iter().filter(|r| r.status == s).count();
    Some(Windows11Readiness {
        windows10_hosts: rows.len(),
        ready_hosts: count("ready"),
        not_ready_hosts: count("not_ready"),
        unknown_hosts: count("unknown"),
        requirements,
        hosts: rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intel_core_generations() {
        for (model, want) in [
            ("Intel(R) Core(TM) i5-7300U CPU @ 2.60GHz", Some(false)),
            ("Intel(R) Core(TM) i7-7700 CPU @ 3.60GHz", Some(false)),
            ("Intel(R) Core(TM) i5-8350U CPU @ 1.70GHz", Some(true)),
            ("Intel(R) Core(TM) i7-10510U CPU @ 1.80GHz", Some(true)),
            ("11th Gen Intel(R) Core(TM) i5-1135G7 @ 2.40GHz", Some(true)),
            ("12th Gen Intel(R) Core(TM) i7-1265U", Some(true)),
            ("Intel(R) Core(TM) i5-4590 CPU @ 3.30GHz", Some(false)),
            ("Intel(R) Core(TM) m3-8100Y CPU @ 1.10GHz", Some(true)),
            ("Intel(R) Core(TM) Ultra 7 155H", Some(true)),
            ("Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz", None),
            ("Intel(R) Pentium(R) Silver N5000 CPU @ 1.10GHz", None),
        ] {
            assert_eq!(cpu_supported(model), want, "{model}");
        }
    }

    #[test]
    fn amd_ryzen_from_zen_plus() {
        for (model, want) in [
            ("AMD Ryzen 5 2600 Six-Core Processor", Some(true)),
            ("AMD Ryzen 7 2700X Eight-Core Processor", Some(true)),
            ("AMD Ryzen 5 2500U with Radeon Vega Mobile Gfx", Some(false)),
            ("AMD Ryzen 5 1600 Six-Core Processor", Some(false)),
            ("AMD Ryzen 7 PRO 4750U with Radeon Graphics", Some(true)),
            ("AMD Ryzen 5 5600G with Radeon Graphics", Some(true)),
            ("AMD EPYC 7502P 32-Core Processor", None),
            ("QEMU Virtual CPU version 2.5+", None),
        ] {
            assert_eq!(cpu_supported(model), want, "{model}");
        }
    }
}
