//! The software section: dpkg, rpm or the Windows registry's Uninstall keys.

use chrono::{DateTime, Duration, Utc};
use estate_protocol::Package;

use super::Ctx;
use crate::simulate::catalogue::{self, PackageFormat};
use crate::simulate::profile::Platform;
use crate::simulate::rng::mix64;

/// Versions of the packages the checks look at, per release: (openssl, openssh-server,
/// samba).
fn key_versions(key: &str) -> (&'static str, &'static str, &'static str) {
    match key {
        "ubuntu-24.04" => (
            "3.0.13-0ubuntu3.4",
            "1:9.6p1-3ubuntu13.5",
            "2:4.19.5+dfsg-4ubuntu9",
        ),
        "ubuntu-22.04" => (
            "3.0.2-0ubuntu1.18",
            "1:8.9p1-3ubuntu0.10",
            "2:4.15.13+dfsg-0ubuntu1.6",
        ),
        "ubuntu-20.04" => (
            "1.1.1f-1ubuntu2.23",
            "1:8.2p1-4ubuntu0.11",
            "2:4.15.13+dfsg-0ubuntu0.20.04.8",
        ),
        "ubuntu-16.04" => (
            "1.0.2g-1ubuntu4.20",
            "1:7.2p2-4ubuntu2.10",
            "2:4.3.11+dfsg-0ubuntu0.16.04.34",
        ),
        "debian-12" => (
            "3.0.15-1~deb12u1",
            "1:9.2p1-2+deb12u3",
            "2:4.17.12+dfsg-0+deb12u1",
        ),
        "rhel-8" => ("1:1.1.1k-14.el8_10", "8.0p1-24.el8", "4.19.4-3.el8"),
        "centos-7" => ("1:1.0.2k-26.el7_9", "7.4p1-23.el7_9", "4.10.16-25.el7_9"),
        _ => ("1:3.0.7-28.el9_4", "8.7p1-38.el9_4.4", "4.19.4-105.el9_4"),
    }
}

/// A plausible version for a package without a known one, stable per (release, name).
fn filler_version(ctx: &Ctx<'_>, name: &str) -> String {
    let h = name
        .bytes()
        .fold(mix64(ctx.p.os.year as u64), |h, b| mix64(h ^ u64::from(b)));
    let (major, minor, patch, rel) = (1 + h % 9, (h >> 8) % 30, (h >> 16) % 12, 1 + (h >> 24) % 9);
    let os = &ctx.p.os;
    let major_version = os.version_id.split('.').next().unwrap_or("0");
    match (os.packages, os.id) {
        (PackageFormat::Deb, "ubuntu") => {
            format!("{major}.{minor}.{patch}-{rel}ubuntu{}", (h >> 32) % 5)
        }
        (PackageFormat::Deb, _) => format!("{major}.{minor}.{patch}-{rel}+deb{major_version}u1"),
        _ => format!("{major}.{minor}.{patch}-{rel}.el{major_version}"),
    }
}

/// `software`: the package database's sources and packages.
pub(crate) fn software(ctx: &Ctx<'_>) -> (Vec<String>, Vec<Package>) {
    let p = ctx.p;
    let mut rng = ctx.rng(40);
    let t = ctx.times;
    let install_day = |days_after_install: u64| {
        let at = t.install_time + Duration::days(i64::try_from(days_after_install).unwrap_or(0));
        at.min(t.patched_at)
    };
    let midnight = |at: DateTime<Utc>| {
        at.date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .unwrap_or(at)
    };
    match p.os.packages {
        PackageFormat::WindowsRegistry => {
            let neglected = p.traits.neglected;
            let mut out = Vec::new();
            let mut add = |name: &str, publisher: &str, version: String, arch: &str, day: u64| {
                out.push(Package {
                    name: name.to_owned(),
                    version,
                    arch: Some(arch.to_owned()),
                    source: "windows-registry".to_owned(),
                    installed_size_bytes: None,
                    publisher: Some(publisher.to_owned()),
                    install_time: Some(midnight(install_day(day))),
                });
            };
            let always = [
                "Microsoft Edge",
                "Microsoft 365 Apps for enterprise - en-gb",
                "Microsoft Visual C++",
            ];
            for (name, publisher, current, old, arch) in catalogue::WINDOWS_APPS {
                let needed = always.iter().any(|a| name.starts_with(a));
                if !needed && !rng.chance(if p.class.is_server() { 0.35 } else { 0.75 }) {
                    continue;
                }
                // Browsers and Office move with every patch round; the rest stay put.
                let moves = ["Microsoft Edge", "Google Chrome", "Microsoft 365"]
                    .iter()
                    .any(|m| name.starts_with(m));
                let version = if neglected {
                    (*old).to_owned()
                } else if moves {
                    bump_last(current, ctx.rev.number)
                } else {
                    (*current).to_owned()
                };
                add(name, publisher, version, arch, rng.range_u64(0, 200));
            }
            if p.class.is_server() {
                for (role, name, publisher, current, old, arch) in catalogue::WINDOWS_SERVER_APPS {
                    if role.is_empty() || *role == p.role {
                        let version = if neglected { *old } else { *current };
                        add(
                            name,
                            publisher,
                            version.to_owned(),
                            arch,
                            rng.range_u64(0, 60),
                        );
                    }
                }
            } else {
                for (name, publisher, current, old, arch) in catalogue::WINDOWS_ENDPOINT_APPS {
                    let version = if neglected { *old } else { *current };
                    add(
                        name,
                        publisher,
                        version.to_owned(),
                        arch,
                        rng.range_u64(0, 30),
                    );
                }
            }
            match p.platform {
                Platform::Virtual { cluster, .. }
                    if cluster.hypervisor == catalogue::Hypervisor::Vmware =>
                {
                    let version = if neglected {
                        "11.0.5.17716"
                    } else {
                        "12.4.5.23787635"
                    };
                    add("VMware Tools", "VMware, Inc.", version.to_owned(), "x64", 0);
                }
                Platform::Physical(model) => {
                    let (name, publisher, version) = match model.maker {
                        catalogue::Maker::Dell => ("Dell Command | Update", "Dell Inc.", "5.4.0"),
                        catalogue::Maker::Hp => ("HP Support Assistant", "HP Inc.", "9.33.22.0"),
                        catalogue::Maker::Lenovo => (
                            "Lenovo Commercial Vantage",
                            "Lenovo Group Ltd.",
                            "20.2411.24.0",
                        ),
                    };
                    if !p.class.is_server() {
                        add(name, publisher, version.to_owned(), "x64", 0);
                    }
                }
                Platform::Virtual { .. } => {}
            }
            if p.traits.antivirus == Some("CrowdStrike Falcon") {
                add(
                    "CrowdStrike Windows Sensor",
                    "CrowdStrike, Inc.",
                    "7.18.18907.0".to_owned(),
                    "x64",
                    10,
                );
            }
            (vec!["windows-registry".to_owned()], out)
        }
        format => {
            let deb = format == PackageFormat::Deb;
            let (openssl, openssh, samba) = key_versions(p.os.key);
            let base = if deb {
                catalogue::DEB_BASE
            } else {
                catalogue::RPM_BASE
            };
            let source = if deb { "dpkg" } else { "rpm" };
            let publisher = match p.os.id {
                "ubuntu" => "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>",
                "debian" => "Debian Security Team <team@security.debian.org>",
                "rocky" => "Rocky Enterprise Software Foundation",
                "centos" => "CentOS",
                _ => "Red Hat, Inc.",
            };
            let arch = if deb { "amd64" } else { "x86_64" };
            let mut out = Vec::new();
            let mut add = |name: &str, version: String, size: u64, day: u64| {
                out.push(Package {
                    name: name.to_owned(),
                    version,
                    arch: Some(arch.to_owned()),
                    source: source.to_owned(),
                    installed_size_bytes: Some(size),
                    publisher: Some(publisher.to_owned()),
                    install_time: (!deb).then(|| install_day(day)),
                });
            };
            for name in base {
                let version = match *name {
                    "openssl" => openssl.to_owned(),
                    "openssh-server" | "openssh" => openssh.to_owned(),
                    "kernel" | "kernel-core" => {
                        ctx.p.os.kernel_prefix.to_owned()
                            + &ctx.patch_level(ctx.p.os.patch_base).to_string()
                            + ctx.p.os.kernel_suffix.trim_end_matches(".x86_64")
                    }
                    other => filler_version(ctx, other),
                };
                add(
                    name,
                    version,
                    rng.range_u64(20, 8_000) * 1024,
                    rng.range_u64(0, 30),
                );
            }
            if deb {
                let kernel = format!(
                    "linux-image-{}{}{}",
                    p.os.kernel_prefix,
                    ctx.patch_level(p.os.patch_base),
                    p.os.kernel_suffix
                );
                add(
                    &kernel,
                    format!("{}.{}", ctx.patch_level(p.os.patch_base), p.os.year),
                    60_000 * 1024,
                    0,
                );
                add("openssh-server", openssh.to_owned(), 1_900 * 1024, 0);
                add(
                    "unattended-upgrades",
                    "2.9.1+nmu4ubuntu1".to_owned(),
                    400 * 1024,
                    0,
                );
            }
            if p.os.key == "centos-7" {
                add("yum-cron", "3.4.3-168.el7.centos".to_owned(), 50 * 1024, 0);
            } else if !deb {
                add("dnf-automatic", "4.14.0-9.el9".to_owned(), 512 * 1024, 0);
            }
            for service in catalogue::LINUX_ROLE_SERVICES {
                if service.role == p.role {
                    let name = if deb { service.deb } else { service.rpm };
                    let version = if name == "samba" {
                        samba.to_owned()
                    } else {
                        filler_version(ctx, name)
                    };
                    add(name, version, rng.range_u64(2_000, 60_000) * 1024, 5);
                }
            }
            if p.traits.netbios && p.role == "file-server" && deb {
                add("samba-common-bin", samba.to_owned(), 2_000 * 1024, 5);
            }
            if p.traits.telnet {
                let name = if deb { "telnetd" } else { "telnet-server" };
                add(name, filler_version(ctx, name), 120 * 1024, 1);
            }
            if p.traits.antivirus == Some("CrowdStrike Falcon") {
                let version = if deb {
                    "7.18.0-17106"
                } else {
                    "7.18.0-17106.el9"
                };
                add("falcon-sensor", version.to_owned(), 9_000 * 1024, 3);
            }
            (vec![source.to_owned()], out)
        }
    }
}

/// `version` with its last number raised by `by` (browser and Office builds move with
/// each patch).
fn bump_last(version: &str, by: u32) -> String {
    if by == 0 {
        return version.to_owned();
    }
    match version.rsplit_once('.') {
        Some((head, last)) => match last.parse::<u64>() {
            Ok(n) => format!("{head}.{}", n + u64::from(by)),
            Err(_) => version.to_owned(),
        },
        None => version.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_move_with_patches() {
        assert_eq!(bump_last("131.0.2903.70", 0), "131.0.2903.70");
        assert_eq!(bump_last("131.0.2903.70", 3), "131.0.2903.73");
        assert_eq!(bump_last("1.2", 1), "1.3");
        assert_eq!(bump_last("x", 1), "x");
    }
}
