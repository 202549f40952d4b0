//! Tests of the lifecycle table: the shipped file, matching, and located errors.

use super::*;
use estate_protocol::Known;

fn os(id: &str, id_like: &[&str], name: &str, version: Option<&str>) -> Os {
    Os {
        family: "linux".to_owned(),
        id: id.to_owned(),
        id_like: id_like.iter().map(|s| (*s).to_owned()).collect(),
        name: name.to_owned(),
        version_id: version.map(str::to_owned),
        version_codename: None,
        build: None,
        support_end: None,
        kernel: "6.1.0".to_owned(),
        kernel_version: None,
        arch: "x86_64".to_owned(),
        timezone: None,
        boot_time: chrono::DateTime::UNIX_EPOCH,
        uptime_secs: 0,
        install_time: None,
        reboot_required: Known::unknown("test"),
        reboot_required_packages: Vec::new(),
        last_package_change: Known::unknown("test"),
        pending_updates: Known::unknown("test"),
    }
}

fn windows(name: &str, version: &str, build: &str) -> Os {
    Os {
        family: "windows".to_owned(),
        id: "windows".to_owned(),
        version_id: Some(version.to_owned()),
        build: Some(build.to_owned()),
        kernel: build.to_owned(),
        ..os("windows", &[], name, None)
    }
}

fn table() -> LifecycleTable {
    LifecycleTable::shipped().unwrap()
}

fn d(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn matched(os: &Os) -> (String, String) {
    let t = table();
    let m = t.lookup(os).expect("a match");
    (m.entry.id.clone(), m.matched_on)
}

#[test]
fn the_shipped_table_loads_with_known_dates() {
    let t = table();
    assert!(t.entries().len() >= 80, "{}", t.entries().len());
    let eos = |id: &str| t.entry(id).unwrap_or_else(|| panic!("{id}")).end_of_support;
    let ext = |id: &str| t.entry(id).unwrap().extended_support_end;
    assert_eq!(eos("windows-10-22h2"), d("2025-10-14"));
    assert_eq!(ext("windows-10-22h2"), Some(d("2028-10-10")));
    assert_eq!(eos("windows-server-2012-r2"), d("2023-10-10"));
    assert_eq!(ext("windows-server-2012-r2"), Some(d("2026-10-13")));
    assert_eq!(eos("ubuntu-20.04"), d("2025-05-31"));
    assert_eq!(ext("ubuntu-20.04"), Some(d("2030-04-02")));
    assert_eq!(eos("rhel-7"), d("2024-06-30"));
    assert_eq!(ext("rhel-7"), Some(d("2029-05-31")));
    assert_eq!(eos("debian-11"), d("2024-08-14"));
    assert_eq!(ext("debian-11"), Some(d("2026-08-31")));
    assert_eq!(eos("centos-7"), d("2024-06-30"));
    assert_eq!(eos("windows-11-23h2-consumer"), d("2025-11-11"));
    assert_eq!(eos("windows-11-23h2-enterprise"), d("2026-11-10"));
    assert_eq!(eos("sles-15.6"), d("2025-12-31"));
    for entry in t.entries() {
        assert!(entry.source.starts_with("https://"), "{}", entry.id);
    }
}

#[test]
fn linux_releases_match_by_id_and_major_version() {
    let (id, on) = matched(&os(
        "rocky",
        &["rhel", "centos", "fedora"],
        "Rocky Linux 9.4",
        Some("9.4"),
    ));
    assert_eq!(id, "rocky-9");
    assert_eq!(on, "ID=rocky VERSION_ID=9.4 (major 9)");
    assert_eq!(
        matched(&os("debian", &[], "Debian GNU/Linux 12", Some("12"))).0,
        "debian-12"
    );
    assert_eq!(
        matched(&os(
            "ubuntu",
            &["debian"],
            "Ubuntu 20.04.6 LTS",
            Some("20.04")
        ))
        .0,
        "ubuntu-20.04"
    );
    assert_eq!(
        matched(&os(
            "rhel",
            &["fedora"],
            "Red Hat Enterprise Linux 8.9",
            Some("8.9")
        ))
        .0,
        "rhel-8"
    );
    assert_eq!(
        matched(&os(
            "ol",
            &["fedora"],
            "Oracle Linux Server 8.9",
            Some("8.9")
        ))
        .0,
        "oracle-linux-8"
    );
    assert_eq!(
        matched(&os("almalinux", &["rhel"], "AlmaLinux 9.3", Some("9.3"))).0,
        "almalinux-9"
    );
}

#[test]
fn centos_stream_and_centos_linux_are_told_apart_by_name() {
    assert_eq!(
        matched(&os(
            "centos",
            &["rhel", "fedora"],
            "CentOS Stream 9",
            Some("9")
        ))
        .0,
        "centos-stream-9"
    );
    assert_eq!(
        matched(&os(
            "centos",
            &["rhel", "fedora"],
            "CentOS Linux 8",
            Some("8")
        ))
        .0,
        "centos-8"
    );
    assert_eq!(
        matched(&os(
            "centos",
            &["rhel", "fedora"],
            "CentOS Stream 8",
            Some("8")
        ))
        .0,
        "centos-stream-8"
    );
    assert_eq!(
        matched(&os(
            "centos",
            &["rhel", "fedora"],
            "CentOS Linux 7 (Core)",
            Some("7")
        ))
        .0,
        "centos-7"
    );
}

#[test]
fn sles_service_packs_match_exactly() {
    assert_eq!(
        matched(&os(
            "sles",
            &["suse"],
            "SUSE Linux Enterprise Server 15 SP6",
            Some("15.6")
        ))
        .0,
        "sles-15.6"
    );
    assert_eq!(
        matched(&os(
            "sles",
            &["suse"],
            "SUSE Linux Enterprise Server 15",
            Some("15")
        ))
        .0,
        "sles-15.0"
    );
    // A service pack the table does not have is unknown, not the GA release.
    assert!(
        table()
            .lookup(&os("sles", &["suse"], "SLES 15 SP9", Some("15.9")))
            .is_none()
    );
}

#[test]
fn a_derivative_falls_back_to_its_id_like_and_says_so() {
    let (id, on) = matched(&os(
        "pop",
        &["ubuntu", "debian"],
        "Pop!_OS 22.04 LTS",
        Some("22.04"),
    ));
    assert_eq!(id, "ubuntu-22.04");
    assert_eq!(on, "ID_LIKE=ubuntu VERSION_ID=22.04");
}

#[test]
fn unknown_releases_and_missing_versions_do_not_match() {
    let t = table();
    assert!(
        t.lookup(&os("debian", &[], "Debian GNU/Linux trixie/sid", None))
            .is_none()
    );
    assert!(
        t.lookup(&os("arch", &[], "Arch Linux", Some("rolling")))
            .is_none()
    );
    assert!(
        t.lookup(&os("ubuntu", &["debian"], "Ubuntu 23.04", Some("23.04")))
            .is_none()
    );
    assert!(
        t.lookup(&os("debian", &[], "Debian 99", Some("99")))
            .is_none()
    );
}

#[test]
fn windows_clients_match_by_build_and_edition() {
    let (id, on) = matched(&windows("Windows 10 Pro", "10 (19045)", "19045"));
    assert_eq!(id, "windows-10-22h2");
    assert_eq!(
        on,
        "windows build 19045, edition any (from name `Windows 10 Pro`)"
    );
    assert_eq!(
        matched(&windows("Windows 11 Pro", "11 (22631)", "22631")).0,
        "windows-11-23h2-consumer"
    );
    assert_eq!(
        matched(&windows("Windows 11 Enterprise", "11 (22631)", "22631")).0,
        "windows-11-23h2-enterprise"
    );
    assert_eq!(
        matched(&windows("Windows 11 Education", "11 (22631)", "22631")).0,
        "windows-11-23h2-enterprise"
    );
    assert_eq!(
        matched(&windows("Windows 11 Pro Education", "11 (22631)", "22631")).0,
        "windows-11-23h2-consumer"
    );
    assert_eq!(
        matched(&windows(
            "Windows 10 Enterprise LTSC 2021",
            "10 (19044)",
            "19044"
        ))
        .0,
        "windows-10-ltsc-2021"
    );
    assert_eq!(
        matched(&windows(
            "Windows 10 IoT Enterprise LTSC 2021",
            "10 (19044)",
            "19044"
        ))
        .0,
        "windows-10-iot-ltsc-2021"
    );
    assert_eq!(
        matched(&windows(
            "Windows 10 Enterprise 2016 LTSB",
            "10 (14393)",
            "14393"
        ))
        .0,
        "windows-10-ltsb-2016"
    );
    assert_eq!(
        matched(&windows("Windows 7 Professional", "0 (7601)", "7601")).0,
        "windows-7-sp1"
    );
}

#[test]
fn an_unknown_windows_edition_matches_only_edition_free_entries() {
    let t = table();
    assert!(
        t.lookup(&windows("Windows 11", "11 (22631)", "22631"))
            .is_none()
    );
    assert_eq!(
        t.lookup(&windows("Windows 10", "10 (19045)", "19045"))
            .unwrap()
            .entry
            .id,
        "windows-10-22h2"
    );
}

#[test]
fn windows_servers_match_by_build_and_the_build_is_found_anywhere() {
    assert_eq!(
        matched(&windows(
            "Windows Server 2012 R2 Standard",
            "6.3 (9600)",
            "9600"
        ))
        .0,
        "windows-server-2012-r2"
    );
    assert_eq!(
        matched(&windows(
            "Windows Server 2022 Datacenter",
            "10 (20348)",
            "20348"
        ))
        .0,
        "windows-server-2022"
    );
    assert_eq!(
        matched(&windows(
            "Windows Server 2008 R2 Enterprise",
            "0 (7601)",
            "7601"
        ))
        .0,
        "windows-server-2008-r2-sp1"
    );
    let mut no_build = windows("Windows Server 2019 Standard", "10 (17763)", "");
    no_build.build = None;
    no_build.kernel = String::new();
    assert_eq!(
        table().lookup(&no_build).unwrap().entry.id,
        "windows-server-2019"
    );
}

fn errors(text: &str) -> String {
    LifecycleTable::parse(text, "os-lifecycle.toml")
        .unwrap_err()
        .to_string()
}

const GOOD: &str = "[[release]]\nid = \"x-1\"\nlabel = \"X 1\"\nproducts = [\"x\"]\nversion = \"1\"\nend_of_support = 2030-01-31\nsource = \"https://example.org/x\"\n";

#[test]
fn a_minimal_entry_loads() {
    let t = LifecycleTable::parse(GOOD, "x").unwrap();
    assert_eq!(t.entries()[0].end_of_support, d("2030-01-31"));
    assert_eq!(t.entries()[0].edition, Edition::Any);
}

#[test]
fn an_unknown_key_is_located() {
    let err = errors(&GOOD.replace("source", "sauce"));
    assert!(err.starts_with("os-lifecycle.toml:7:1: "), "{err}");
    assert!(err.contains("sauce"), "{err}");
}

#[test]
fn a_bad_date_is_located() {
    let err = errors(&GOOD.replace("2030-01-31", "2030-02-30"));
    assert!(err.starts_with("os-lifecycle.toml:6:"), "{err}");
    let err = errors(&GOOD.replace("2030-01-31", "2030-01-31T10:00:00"));
    assert_eq!(
        err,
        "os-lifecycle.toml:6:18: `release[0].end_of_support`: `2030-01-31T10:00:00` is not a date (write YYYY-MM-DD, without a time)"
    );
    let err = errors(&GOOD.replace("2030-01-31", "\"2030-01-31\""));
    assert!(err.starts_with("os-lifecycle.toml:6:18: "), "{err}");
}

#[test]
fn every_semantic_problem_is_reported_with_its_location() {
    let text = format!(
        "{GOOD}\n[[release]]\nid = \"x-1\"\nlabel = \"X 1 again\"\nproducts = [\"x\"]\nversion = \"1\"\nreleased = 2031-01-01\nend_of_support = 2030-01-31\nextended_support_end = 2032-01-01\nsource = \"http://example.org\"\nedition = \"pro\"\n"
    );
    let err = errors(&text);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        vec![
            "os-lifecycle.toml:10:6: `release[1].id`: `x-1` is already the id of release[0]",
            "os-lifecycle.toml:12:12: `release[1].products`: `x-1` matches the same hosts as `x-1`",
            "os-lifecycle.toml:15:18: `release[1].end_of_support`: 2030-01-31 is before released (2031-01-01)",
            "os-lifecycle.toml:16:24: `release[1].extended_support_name`: missing: say what the extended support is called (e.g. ESU, ESM, ELS)",
            "os-lifecycle.toml:17:10: `release[1].source`: `http://example.org` is not an https:// URL",
            "os-lifecycle.toml:18:11: `release[1].edition`: unknown edition `pro`, expected one of any, consumer, enterprise, ltsc, iot-ltsc",
        ]
    );
}

#[test]
fn windows_entries_need_builds_and_linux_entries_versions() {
    let text = "[[release]]\nid = \"w\"\nlabel = \"W\"\nproducts = [\"windows\"]\nversion = \"10\"\nend_of_support = 2030-01-31\nsource = \"https://example.org/w\"\n\n[[release]]\nid = \"l\"\nlabel = \"L\"\nproducts = [\"debian\"]\nwindows_builds = [1]\nedition = \"consumer\"\nend_of_support = 2030-01-31\nsource = \"https://example.org/l\"\n";
    let err = errors(text);
    assert!(
        err.contains("`release[0].version`: Windows entries match `windows_builds`"),
        "{err}"
    );
    assert!(
        err.contains("`release[0].windows_builds`: a Windows entry needs at least one build"),
        "{err}"
    );
    assert!(
        err.contains("`release[1].windows_builds`: only Windows entries have build numbers"),
        "{err}"
    );
    assert!(err.contains("`release[1].version`: missing"), "{err}");
    assert!(
        err.contains("`release[1].edition`: editions other than `any`"),
        "{err}"
    );
}
