//! The host page's inventory section: hardware, OS, CPU, memory, disks, filesystems,
//! network, security posture, services, listening ports and installed software, from
//! the stored inventory (Report v1's `inventory`). Every value is agent-supplied and
//! escaped.

use std::fmt::Write as _;

use super::wire;
use crate::web::html::{bytes, esc, tdn, thead, thousands, when};
use estate_protocol::{Inventory, Known};

fn known<T>(k: &Known<T>, show: impl Fn(&T) -> String) -> String {
    match k {
        Known::Known { value } => show(value),
        Known::Unknown { reason } => format!("unknown ({reason})"),
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn opt(v: Option<&str>) -> &str {
    v.unwrap_or("–")
}

/// A two-column table of (name, value) rows; values are escaped here.
fn facts(out: &mut String, caption: &str, rows: &[(&str, String)]) {
    let _ = write!(
        out,
        r#"<table class="facts"><caption>{}</caption><tbody>"#,
        esc(caption)
    );
    for (k, v) in rows {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    out.push_str("</tbody></table>");
}

/// The inventory section.
pub fn section(out: &mut String, inv: &Inventory) {
    out.push_str(r#"<section id="inventory"><h2>Inventory</h2><div class="grid2">"#);
    if let Some(h) = &inv.hardware {
        facts(
            out,
            "Hardware",
            &[
                ("Vendor", opt(h.vendor.as_deref()).to_owned()),
                ("Product", opt(h.product.as_deref()).to_owned()),
                ("Serial", known(&h.serial, Clone::clone)),
                ("Chassis", wire(&h.chassis)),
                (
                    "BIOS",
                    format!(
                        "{} {} {}",
                        opt(h.bios_vendor.as_deref()),
                        opt(h.bios_version.as_deref()),
                        h.bios_date
                            .map_or_else(|| "–".to_owned(), |d| d.to_string())
                    ),
                ),
                (
                    "Virtualisation",
                    format!(
                        "{}{}",
                        wire(&h.virtualization.kind),
                        h.virtualization
                            .technology
                            .as_deref()
                            .map_or_else(String::new, |t| format!(" ({t})"))
                    ),
                ),
            ],
        );
    }
    if let Some(os) = &inv.os {
        facts(
            out,
            "Operating system",
            &[
                ("Name", os.name.clone()),
                ("Family / id", format!("{} / {}", os.family, os.id)),
                ("Version", opt(os.version_id.as_deref()).to_owned()),
                ("Build", opt(os.build.as_deref()).to_owned()),
                ("Kernel", os.kernel.clone()),
                ("Architecture", os.arch.clone()),
                (
                    "Support ends",
                    os.support_end
                        .map_or_else(|| "–".to_owned(), |d| d.to_string()),
                ),
                ("Booted", when(os.boot_time)),
                (
                    "Installed",
                    os.install_time.map_or_else(|| "–".to_owned(), when),
                ),
                (
                    "Reboot required",
                    known(&os.reboot_required, |b| yes_no(*b)),
                ),
                (
                    "Pending updates",
                    known(&os.pending_updates, |p| {
                        format!(
                            "{} ({} security) from {}",
                            p.count,
                            p.security_count
                                .map_or_else(|| "?".to_owned(), |n| n.to_string()),
                            p.source
                        )
                    }),
                ),
            ],
        );
    }
    if let Some(cpu) = &inv.cpu {
        facts(
            out,
            "CPU",
            &[
                ("Model", cpu.model.clone()),
                ("Vendor", cpu.vendor.clone()),
                (
                    "Sockets / cores / threads",
                    format!(
                        "{} / {} / {}",
                        cpu.sockets, cpu.physical_cores, cpu.logical_cpus
                    ),
                ),
                (
                    "Max frequency",
                    cpu.max_mhz
                        .map_or_else(|| "–".to_owned(), |m| format!("{m:.0} MHz")),
                ),
            ],
        );
    }
    if let Some(m) = &inv.memory {
        facts(
            out,
            "Memory",
            &[
                ("Total", bytes(m.total_bytes)),
                ("Available", bytes(m.available_bytes)),
                (
                    "Swap (free of total)",
                    format!(
                        "{} of {}",
                        bytes(m.swap_free_bytes),
                        bytes(m.swap_total_bytes)
                    ),
                ),
            ],
        );
    }
    if let Some(s) = &inv.security {
        facts(
            out,
            "Security posture",
            &[
                (
                    "Firewall",
                    known(&s.firewall, |f| {
                        format!(
                            "{} {}",
                            if f.active { "active" } else { "inactive" },
                            f.evidence.join(", ")
                        )
                    }),
                ),
                (
                    "Disk encryption",
                    known(&s.disk_encryption, |d| {
                        format!(
                            "encrypted: {}; not encrypted: {}",
                            if d.encrypted_mounts.is_empty() {
                                "none".to_owned()
                            } else {
                                d.encrypted_mounts.join(", ")
                            },
                            if d.unencrypted_mounts.is_empty() {
                                "none".to_owned()
                            } else {
                                d.unencrypted_mounts.join(", ")
                            }
                        )
                    }),
                ),
                ("Secure Boot", known(&s.secure_boot, wire)),
                (
                    "Time sync",
                    known(&s.time_sync, |t| {
                        format!(
                            "{}{}{}",
                            if t.active { "active" } else { "inactive" },
                            t.service
                                .as_deref()
                                .map_or_else(String::new, |s| format!(" ({s})")),
                            match t.synchronised {
                                Some(true) => ", synchronised",
                                Some(false) => ", not synchronised",
                                None => "",
                            }
                        )
                    }),
                ),
                (
                    "SSH",
                    known(&s.ssh, |c| {
                        format!(
                            "PermitRootLogin {}, PasswordAuthentication {}",
                            c.permit_root_login,
                            yes_no(c.password_authentication)
                        )
                    }),
                ),
                (
                    "Automatic updates",
                    known(&s.automatic_updates, |a| {
                        format!(
                            "{}{}",
                            if a.enabled { "on" } else { "off" },
                            a.mechanism
                                .as_deref()
                                .map_or_else(String::new, |m| format!(" ({m})"))
                        )
                    }),
                ),
                (
                    "Antivirus",
                    known(&s.antivirus, |a| {
                        if a.is_empty() {
                            "none".to_owned()
                        } else {
                            a.join(", ")
                        }
                    }),
                ),
            ],
        );
    }
    out.push_str("</div>");

    if let Some(disks) = inv.disks.as_ref().filter(|d| !d.is_empty()) {
        out.push_str("<h3>Disks</h3><table>");
        thead(out, &["Name", "Model", "Kind", "#Size"]);
        out.push_str("<tbody>");
        for d in disks {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td>",
                esc(&d.name),
                esc(opt(d.model.as_deref())),
                esc(&wire(&d.kind))
            );
            tdn(out, &bytes(d.size_bytes));
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
    if let Some(fss) = inv.filesystems.as_ref().filter(|f| !f.is_empty()) {
        out.push_str("<h3>Filesystems</h3><table>");
        thead(out, &["Mount", "Type", "Device", "#Size", "#Available"]);
        out.push_str("<tbody>");
        for f in fss {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td>",
                esc(&f.mount_point),
                esc(&f.fs_type),
                esc(&f.device)
            );
            tdn(out, &bytes(f.size_bytes));
            tdn(out, &bytes(f.available_bytes));
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
    if let Some(net) = &inv.network
        && !net.interfaces.is_empty()
    {
        out.push_str("<h3>Network interfaces</h3><table>");
        thead(out, &["Name", "Kind", "State", "MAC", "Addresses"]);
        out.push_str("<tbody>");
        for i in &net.interfaces {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&i.name),
                esc(&i.kind),
                esc(&i.state),
                esc(opt(i.mac.as_deref())),
                esc(&i.addresses.join(", "))
            );
        }
        out.push_str("</tbody></table>");
    }
    if let Some(ports) = inv.listening.as_ref() {
        let _ = write!(out, "<h3>Listening ports ({})</h3>", ports.len());
        if !ports.is_empty() {
            out.push_str("<table>");
            thead(out, &["Protocol", "Address", "#Port", "Process"]);
            out.push_str("<tbody>");
            for p in ports {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td>",
                    esc(&p.protocol),
                    esc(&p.address)
                );
                tdn(out, &p.port.to_string());
                let _ = write!(out, "<td>{}</td></tr>", esc(opt(p.process.as_deref())));
            }
            out.push_str("</tbody></table>");
        }
    }
    if let Some(services) = &inv.services {
        let running = services
            .units
            .iter()
            .filter(|u| u.active_state == "active")
            .count();
        let _ = write!(
            out,
            "<h3>Services ({} units, {} active, {})</h3>",
            services.units.len(),
            running,
            esc(&services.manager)
        );
        if let Some(reason) = &services.reason {
            let _ = write!(out, r#"<p class="note">{}</p>"#, esc(reason));
        }
        if !services.units.is_empty() {
            out.push_str("<details><summary>Show the units</summary><table>");
            thead(out, &["Unit", "Description", "State", "Enabled"]);
            out.push_str("<tbody>");
            for u in &services.units {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td></tr>",
                    esc(&u.name),
                    esc(&u.description),
                    esc(&u.active_state),
                    esc(&u.sub_state),
                    esc(opt(u.enabled.as_deref()))
                );
            }
            out.push_str("</tbody></table></details>");
        }
    }
    if let Some(sw) = &inv.software {
        let _ = write!(
            out,
            "<h3>Software ({} packages from {})</h3>",
            thousands(sw.packages.len() as f64, 0),
            esc(&sw.sources.join(", "))
        );
        if !sw.packages.is_empty() {
            let mut packages: Vec<_> = sw.packages.iter().collect();
            packages.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.version.cmp(&b.version)));
            out.push_str("<details><summary>Show the packages</summary><table>");
            thead(out, &["Package", "Version", "Source", "Publisher"]);
            out.push_str("<tbody>");
            for p in packages {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&p.name),
                    esc(&p.version),
                    esc(&p.source),
                    esc(opt(p.publisher.as_deref()))
                );
            }
            out.push_str("</tbody></table></details>");
        }
    }
    if let Some(gpus) = inv.gpus.as_ref().filter(|g| !g.is_empty()) {
        out.push_str("<h3>GPUs</h3><table>");
        thead(out, &["Vendor", "Model", "Driver"]);
        out.push_str("<tbody>");
        for g in gpus {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(opt(g.vendor.as_deref())),
                esc(opt(g.model.as_deref())),
                esc(opt(g.driver.as_deref()))
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
}
