//! The OS section: release, kernel or build, boot, install and patch dates, pending
//! updates.

use chrono::NaiveDate;
use estate_protocol::{Known, Os, PendingUpdates};

use super::Ctx;
use crate::simulate::catalogue::OsKind;

/// The NT version that goes with a Windows build.
fn nt_version(build: u32) -> &'static str {
    match build {
        7601 => "6.1",
        9200 => "6.2",
        9600 => "6.3",
        _ => "10.0",
    }
}

/// The update build revision (`UBR`) Windows keeps from 8.1 and Server 2012 R2 on.
pub(crate) fn windows_ubr(build: u32, level: u32) -> Option<u32> {
    (build >= 9600).then_some(level)
}

/// `os`.
pub(crate) fn os(ctx: &Ctx<'_>) -> Os {
    let p = ctx.p;
    let t = ctx.times;
    let release = &p.os;
    let level = ctx.patch_level(release.patch_base);
    let uptime_secs = u64::try_from((ctx.now - t.boot_time).num_seconds()).unwrap_or(0);
    if release.kind != OsKind::Linux {
        // As the Windows agent reads `CurrentVersion`: the build with its update revision
        // (UBR; none before Windows 8.1), the NT version and build as the kernel.
        let kernel = format!("{}.{}", nt_version(release.build), release.build);
        let (build, kernel_version) = match windows_ubr(release.build, level) {
            Some(ubr) => (
                format!("{}.{ubr}", release.build),
                format!("{kernel}.{ubr}"),
            ),
            None => (release.build.to_string(), kernel.clone()),
        };
        return Os {
            family: "windows".to_owned(),
            id: "windows".to_owned(),
            id_like: Vec::new(),
            name: format!("{} {}", release.name, p.edition),
            version_id: Some(release.version_id.to_owned()),
            version_codename: None,
            build: Some(build),
            support_end: None,
            kernel,
            kernel_version: Some(kernel_version),
            arch: "x86_64".to_owned(),
            timezone: Some("Europe/London".to_owned()),
            boot_time: t.boot_time,
            uptime_secs,
            install_time: Some(t.install_time),
            reboot_required: Known::Known {
                value: t.reboot_required,
            },
            reboot_required_packages: Vec::new(),
            last_package_change: Known::Known {
                value: t.patched_at,
            },
            pending_updates: Known::unknown(
                "Windows Update keeps no offline count of available updates; counting them needs an online scan, which the agent does not run",
            ),
        };
    }
    let kernel = format!("{}{level}{}", release.kernel_prefix, release.kernel_suffix);
    let next_kernel = format!(
        "{}{}{}",
        release.kernel_prefix,
        level + 2,
        release.kernel_suffix
    );
    let (reboot_packages, pending) = match release.id {
        "ubuntu" => {
            let mut rng = ctx.rng(30);
            let (count, security) = if p.traits.neglected {
                (rng.range_u64(80, 260), rng.range_u64(40, 120))
            } else {
                (rng.range_u64(0, 12), rng.range_u64(0, 2))
            };
            (
                vec![
                    format!("linux-image-{next_kernel}"),
                    "linux-base".to_owned(),
                ],
                Known::Known {
                    value: PendingUpdates {
                        count: u32::try_from(count).unwrap_or(0),
                        security_count: Some(u32::try_from(security.min(count)).unwrap_or(0)),
                        source: "/var/lib/update-notifier/updates-available".to_owned(),
                    },
                },
            )
        }
        "debian" => (
            vec![format!("linux-image-{next_kernel}")],
            Known::unknown(
                "apt keeps no offline count of pending updates and there is no /var/lib/update-notifier/updates-available (written by Ubuntu's update-notifier)",
            ),
        ),
        _ => (
            Vec::new(),
            Known::unknown(
                "dnf/zypper keep no offline record of available updates; counting them needs the repositories, which the agent does not contact",
            ),
        ),
    };
    Os {
        family: "linux".to_owned(),
        id: release.id.to_owned(),
        id_like: release.id_like.iter().map(|s| (*s).to_owned()).collect(),
        name: release.name.to_owned(),
        version_id: Some(release.version_id.to_owned()),
        version_codename: release.codename.map(str::to_owned),
        build: None,
        support_end: release
            .support_end
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        kernel,
        kernel_version: Some(format!(
            "#{} SMP PREEMPT_DYNAMIC {}",
            level,
            t.patched_at.format("%a %b %e %H:%M:%S UTC %Y")
        )),
        arch: "x86_64".to_owned(),
        timezone: Some("Europe/London".to_owned()),
        boot_time: t.boot_time,
        uptime_secs,
        install_time: Some(t.install_time),
        reboot_required: Known::Known {
            value: t.reboot_required,
        },
        reboot_required_packages: if t.reboot_required {
            reboot_packages
        } else {
            Vec::new()
        },
        last_package_change: Known::Known {
            value: t.patched_at,
        },
        pending_updates: pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nt_versions_follow_the_build() {
        assert_eq!(nt_version(7601), "6.1");
        assert_eq!(nt_version(9600), "6.3");
        assert_eq!(nt_version(22631), "10.0");
        assert_eq!(windows_ubr(7601, 5), None);
        assert_eq!(windows_ubr(26100, 2314), Some(2314));
    }
}
