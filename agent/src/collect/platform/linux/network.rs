//! Network configuration: interfaces (`/sys/class/net`), their addresses, default
//! gateways and DNS resolvers — from files only, no netlink and no shell-outs.
//!
//! IPv4 addresses have no per-interface file. They are taken from the kernel's local
//! routes in `/proc/net/fib_trie` (every configured address has a `/32 host LOCAL`
//! entry) and placed on the interface whose connected route in `/proc/net/route`
//! contains them, with that route's prefix length — what `ip -4 addr` shows for every
//! address with a subnet route. IPv6 addresses come from `/proc/net/if_inet6`. This
//! file owns the interface attributes and the assembly; the table parsers are in
//! [`route`] and the resolver parser in [`resolv`].

pub mod resolv;
pub mod route;

use std::collections::HashMap;

use estate_protocol::{Interface, Network};

use crate::collect::{CollectError, Collected, Collector, Context, Section};
use crate::root::SysRoot;

const SYS_CLASS_NET: &str = "/sys/class/net";
const ROUTE: &str = "/proc/net/route";
const FIB_TRIE: &str = "/proc/net/fib_trie";
const IF_INET6: &str = "/proc/net/if_inet6";
const IPV6_ROUTE: &str = "/proc/net/ipv6_route";
const RESOLV_CONF: &str = "/etc/resolv.conf";
const RESOLVED_UPSTREAM: &str = "/run/systemd/resolve/resolv.conf";

/// ARPHRD_LOOPBACK, the `type` of a loopback interface.
const ARPHRD_LOOPBACK: &str = "772";

/// Collects interfaces, addresses, gateways and DNS settings.
#[derive(Debug)]
pub struct NetworkCollector;

impl Collector for NetworkCollector {
    fn name(&self) -> &'static str {
        "network"
    }

    fn collect(&self, ctx: &Context) -> Result<Collected, CollectError> {
        let (network, problems) = collect_network(&ctx.root)?;
        Ok(Collected::partial(Section::Network(network), problems))
    }
}

/// Reads the network configuration. Fails only when `/sys/class/net` cannot be
/// listed; every other missing or malformed file is a problem naming it.
pub fn collect_network(root: &SysRoot) -> Result<(Network, Vec<String>), CollectError> {
    let mut problems = Vec::new();
    let mut interfaces: Vec<Interface> = root
        .read_dir(SYS_CLASS_NET)?
        .iter()
        .filter(|name| !name.starts_with('.') && name.as_str() != "bonding_masters")
        .map(|name| read_interface(root, name))
        .collect();

    let routes = match root.read_optional(ROUTE) {
        Ok(Some(text)) => {
            let (routes, bad) = route::parse_route(&text);
            for (line, why) in bad {
                problems.push(format!("{ROUTE}: line {line}: {why}"));
            }
            routes
        }
        Ok(None) => {
            problems.push(format!(
                "{ROUTE}: missing; IPv4 addresses and gateway not listed"
            ));
            Vec::new()
        }
        Err(err) => {
            problems.push(format!("{err}; IPv4 addresses and gateway not listed"));
            Vec::new()
        }
    };

    let mut addresses: HashMap<String, Vec<String>> = HashMap::new();
    if !routes.is_empty() {
        match root.read_optional(FIB_TRIE) {
            Ok(Some(text)) => match route::parse_fib_trie(&text) {
                Some(local) => {
                    let loopback = interfaces
                        .iter()
                        .find(|i| i.kind == "loopback")
                        .map(|i| i.name.clone());
                    for (iface, address) in route::assign_v4(&local, &routes, loopback.as_deref()) {
                        addresses.entry(iface).or_default().push(address);
                    }
                }
                None => problems.push(format!(
                    "{FIB_TRIE}: no address entries; IPv4 addresses not listed"
                )),
            },
            Ok(None) => problems.push(format!("{FIB_TRIE}: missing; IPv4 addresses not listed")),
            Err(err) => problems.push(format!("{err}; IPv4 addresses not listed")),
        }
    }

    // Both IPv6 files are absent when IPv6 is disabled: nothing is missing then.
    match root.read_optional(IF_INET6) {
        Ok(Some(text)) => {
            let (found, bad) = route::parse_if_inet6(&text);
            for line in bad {
                problems.push(format!("{IF_INET6}: line {line}: not an address entry"));
            }
            for (iface, address) in found {
                addresses.entry(iface).or_default().push(address);
            }
        }
        Ok(None) => {}
        Err(err) => problems.push(format!("{err}; IPv6 addresses not listed")),
    }
    let default_gateway_v6 = match root.read_optional(IPV6_ROUTE) {
        Ok(Some(text)) => {
            let (gateway, bad) = route::default_gateway_v6(&text);
            for line in bad {
                problems.push(format!("{IPV6_ROUTE}: line {line}: not a route entry"));
            }
            gateway.map(|g| g.to_string())
        }
        Ok(None) => None,
        Err(err) => {
            problems.push(format!("{err}; IPv6 gateway not listed"));
            None
        }
    };

    for interface in &mut interfaces {
        if let Some(list) = addresses.remove(&interface.name) {
            interface.addresses = list;
        }
    }

    let resolver = read_resolver(root, &mut problems);
    Ok((
        Network {
            interfaces,
            default_gateway_v4: route::default_gateway_v4(&routes).map(|g| g.to_string()),
            default_gateway_v6,
            dns_servers: resolver.servers,
            dns_search: resolver.search,
        },
        problems,
    ))
}

fn read_interface(root: &SysRoot, name: &str) -> Interface {
    let base = format!("{SYS_CLASS_NET}/{name}");
    let attr = |file: &str| root.read_attr(&format!("{base}/{file}")).ok().flatten();
    // `speed` is -1 (or fails with EINVAL) when the driver does not know it or the link
    // is down; 0 is not a speed either.
    let speed_mbps = attr("speed")
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|&s| s > 0)
        .and_then(|s| u32::try_from(s).ok());
    let mac = attr("address")
        .map(|m| m.to_ascii_lowercase())
        .filter(|m| m.bytes().any(|b| b != b'0' && b != b':'));
    Interface {
        name: name.to_owned(),
        mac,
        addresses: Vec::new(),
        state: attr("operstate").unwrap_or_else(|| "unknown".to_owned()),
        speed_mbps,
        mtu: attr("mtu").and_then(|m| m.parse().ok()),
        kind: interface_kind(root, name, &base, attr("type").as_deref(), attr("uevent")),
    }
}

/// `loopback`, `bridge`, `bond`, `vlan`, `physical` (backed by a device: a NIC, or a
/// hypervisor's virtual NIC seen from the guest) or `virtual` (veth, tun, dummy, ...).
fn interface_kind(
    root: &SysRoot,
    name: &str,
    base: &str,
    arp_type: Option<&str>,
    uevent: Option<String>,
) -> String {
    let devtype = uevent.as_deref().and_then(|u| {
        u.lines()
            .find_map(|l| l.strip_prefix("DEVTYPE="))
            .map(str::to_owned)
    });
    let kind = if arp_type == Some(ARPHRD_LOOPBACK) || name == "lo" {
        "loopback"
    } else if devtype.as_deref() == Some("bridge") || root.exists(&format!("{base}/bridge")) {
        "bridge"
    } else if devtype.as_deref() == Some("bond") || root.exists(&format!("{base}/bonding")) {
        "bond"
    } else if devtype.as_deref() == Some("vlan") {
        "vlan"
    } else if root.read_link(&format!("{base}/device")).is_ok()
        || root.exists(&format!("{base}/device"))
    {
        "physical"
    } else {
        "virtual"
    };
    kind.to_owned()
}

fn read_resolver(root: &SysRoot, problems: &mut Vec<String>) -> resolv::Resolver {
    let mut read = |path: &str| match root.read_optional(path) {
        Ok(text) => text.map(|t| resolv::parse(&t)),
        Err(err) => {
            problems.push(format!("{err}; DNS settings not listed"));
            None
        }
    };
    let Some(stub) = read(RESOLV_CONF) else {
        return resolv::Resolver::default();
    };
    let upstream = if resolv::is_resolved_stub(&stub) {
        read(RESOLVED_UPSTREAM)
    } else {
        None
    };
    resolv::effective(stub, upstream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{
        DEBIAN_VM, DELL, broken_copy, ctx, ctx_at, remove, truncate_half, write,
    };

    fn network(c: &Context) -> (Network, Vec<String>) {
        let collected = NetworkCollector.collect(c).unwrap();
        match collected.section {
            Section::Network(n) => (n, collected.problems),
            other => panic!("wrong section {other:?}"),
        }
    }

    fn iface(
        name: &str,
        mac: Option<&str>,
        addresses: &[&str],
        state: &str,
        speed: Option<u32>,
        mtu: u32,
        kind: &str,
    ) -> Interface {
        Interface {
            name: name.into(),
            mac: mac.map(str::to_owned),
            addresses: addresses.iter().map(|a| (*a).to_owned()).collect(),
            state: state.into(),
            speed_mbps: speed,
            mtu: Some(mtu),
            kind: kind.into(),
        }
    }

    #[test]
    fn dell_network() {
        let (got, problems) = network(&ctx(DELL));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            got,
            Network {
                interfaces: vec![
                    iface(
                        "eno1",
                        Some("b0:26:28:aa:10:01"),
                        &["10.20.1.15/24", "fe80::b226:28ff:feaa:1001/64"],
                        "up",
                        Some(10000),
                        1500,
                        "physical"
                    ),
                    iface(
                        "eno2",
                        Some("b0:26:28:aa:10:02"),
                        &[],
                        "down",
                        None,
                        1500,
                        "physical"
                    ),
                    iface(
                        "lo",
                        None,
                        &["127.0.0.1/8", "::1/128"],
                        "unknown",
                        None,
                        65536,
                        "loopback"
                    ),
                ],
                default_gateway_v4: Some("10.20.1.1".into()),
                default_gateway_v6: None,
                dns_servers: vec!["10.20.0.10".into(), "10.20.0.11".into()],
                dns_search: vec!["council.local".into()],
            }
        );
    }

    #[test]
    fn debian_vm_network_reads_through_the_resolved_stub() {
        let (got, problems) = network(&ctx(DEBIAN_VM));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            got,
            Network {
                interfaces: vec![
                    iface(
                        "enp1s0",
                        Some("52:54:00:8c:1a:2b"),
                        &["10.30.2.41/24", "fe80::5054:ff:fe8c:1a2b/64"],
                        "up",
                        None,
                        1500,
                        "physical"
                    ),
                    iface(
                        "lo",
                        None,
                        &["127.0.0.1/8", "::1/128"],
                        "unknown",
                        None,
                        65536,
                        "loopback"
                    ),
                ],
                default_gateway_v4: Some("10.30.2.1".into()),
                default_gateway_v6: None,
                dns_servers: vec!["10.30.0.53".into()],
                dns_search: vec![],
            }
        );
    }

    #[test]
    fn bridges_bonds_vlans_and_virtual_interfaces_are_told_apart() {
        let dir = broken_copy(DELL);
        let root = dir.path();
        write(
            root,
            "/sys/class/net/br0/uevent",
            b"DEVTYPE=bridge\nINTERFACE=br0\nIFINDEX=5\n",
        );
        write(root, "/sys/class/net/br0/bridge/stp_state", b"0\n");
        write(root, "/sys/class/net/bond0/bonding/mode", b"802.3ad 4\n");
        write(
            root,
            "/sys/class/net/bond0/uevent",
            b"DEVTYPE=bond\nINTERFACE=bond0\n",
        );
        write(
            root,
            "/sys/class/net/eno1.100/uevent",
            b"DEVTYPE=vlan\nINTERFACE=eno1.100\n",
        );
        write(
            root,
            "/sys/class/net/veth1a2b/uevent",
            b"INTERFACE=veth1a2b\nIFINDEX=9\n",
        );
        write(
            root,
            "/sys/class/net/veth1a2b/address",
            b"AE:11:22:33:44:55\n",
        );
        let (got, _) = network(&ctx_at(root));
        let kinds: Vec<(&str, &str)> = got
            .interfaces
            .iter()
            .map(|i| (i.name.as_str(), i.kind.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("bond0", "bond"),
                ("br0", "bridge"),
                ("eno1", "physical"),
                ("eno1.100", "vlan"),
                ("eno2", "physical"),
                ("lo", "loopback"),
                ("veth1a2b", "virtual"),
            ]
        );
        let veth = got.interfaces.last().unwrap();
        assert_eq!(veth.mac.as_deref(), Some("ae:11:22:33:44:55"));
        assert_eq!(veth.state, "unknown");
        assert_eq!(veth.mtu, None);
    }

    #[test]
    fn ipv6_gateway_and_upstream_search_domains() {
        let dir = broken_copy(DEBIAN_VM);
        let root = dir.path();
        write(
            root,
            IPV6_ROUTE,
            b"00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000002 00000000 00000003   enp1s0\n",
        );
        write(
            root,
            RESOLVED_UPSTREAM,
            b"nameserver 10.30.0.53\nnameserver 10.30.0.54\nsearch council.local\n",
        );
        let (got, problems) = network(&ctx_at(root));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(got.default_gateway_v6.as_deref(), Some("fe80::1"));
        assert_eq!(got.dns_servers, vec!["10.30.0.53", "10.30.0.54"]);
        assert_eq!(got.dns_search, vec!["council.local"]);
    }

    #[test]
    fn missing_sys_class_net_is_a_read_error() {
        let dir = broken_copy(DELL);
        remove(dir.path(), SYS_CLASS_NET);
        let err = NetworkCollector.collect(&ctx_at(dir.path())).unwrap_err();
        assert!(err.to_string().starts_with("/sys/class/net: "), "{err}");
    }

    #[test]
    fn missing_tables_are_problems_naming_them_but_ipv6_off_is_not() {
        let dir = broken_copy(DELL);
        remove(dir.path(), FIB_TRIE);
        remove(dir.path(), IF_INET6);
        remove(dir.path(), IPV6_ROUTE);
        remove(dir.path(), RESOLV_CONF);
        let (got, problems) = network(&ctx_at(dir.path()));
        assert_eq!(
            problems,
            vec!["/proc/net/fib_trie: missing; IPv4 addresses not listed"]
        );
        assert!(got.interfaces.iter().all(|i| i.addresses.is_empty()));
        assert_eq!(got.default_gateway_v4.as_deref(), Some("10.20.1.1"));
        assert!(got.dns_servers.is_empty());
        remove(dir.path(), ROUTE);
        let (got, problems) = network(&ctx_at(dir.path()));
        assert_eq!(
            problems,
            vec!["/proc/net/route: missing; IPv4 addresses and gateway not listed"]
        );
        assert_eq!(got.default_gateway_v4, None);
    }

    #[test]
    fn truncated_and_garbage_tables_name_the_file() {
        let dir = broken_copy(DELL);
        // Cut inside the second route, as a short read would.
        let route = std::fs::read_to_string(dir.path().join("proc/net/route")).unwrap();
        let cut = route.find("\t00FFFFFF").unwrap();
        write(dir.path(), ROUTE, &route.as_bytes()[..cut]);
        write(dir.path(), FIB_TRIE, b"\xff\xfe garbage\n");
        write(dir.path(), IF_INET6, b"zzzz 02 40 20 80 eno1\n");
        let (got, problems) = network(&ctx_at(dir.path()));
        assert!(
            problems.contains(&"/proc/net/route: line 3: not a route entry".to_owned()),
            "{problems:?}"
        );
        assert!(problems.contains(
            &"/proc/net/fib_trie: no address entries; IPv4 addresses not listed".to_owned()
        ));
        assert!(problems.contains(&"/proc/net/if_inet6: line 1: not an address entry".to_owned()));
        assert_eq!(got.interfaces.len(), 3);
        assert_eq!(got.default_gateway_v4.as_deref(), Some("10.20.1.1"));
    }

    #[test]
    fn a_half_file_is_read_as_far_as_it_goes() {
        let dir = broken_copy(DEBIAN_VM);
        truncate_half(dir.path(), RESOLVED_UPSTREAM);
        truncate_half(dir.path(), IF_INET6);
        let (got, problems) = network(&ctx_at(dir.path()));
        // The upstream file lost its nameserver line: keep the stub rather than nothing.
        assert_eq!(got.dns_servers, vec!["127.0.0.53"]);
        // The cut falls at a line end: the second address is simply gone.
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(got.interfaces[0].addresses, vec!["10.30.2.41/24"]);
        assert_eq!(got.interfaces[1].addresses, vec!["127.0.0.1/8", "::1/128"]);
    }

    #[test]
    fn live_interfaces_match_sysfs() {
        if !std::path::Path::new("/proc/net/route").exists() {
            return;
        }
        let live = Context::new(
            SysRoot::default(),
            std::sync::Arc::new(crate::config::AgentConfig::default()),
        );
        let (got, _) = network(&live);
        let names: Vec<String> = std::fs::read_dir("/sys/class/net")
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "bonding_masters")
            .collect();
        assert_eq!(got.interfaces.len(), names.len());
        // Every IPv4 address the kernel holds as local, and that a connected route or
        // the loopback range covers, is on some interface.
        let trie = std::fs::read_to_string("/proc/net/fib_trie").unwrap();
        let local = route::parse_fib_trie(&trie).unwrap();
        let routes = std::fs::read_to_string("/proc/net/route").unwrap();
        let (routes, _) = route::parse_route(&routes);
        let placed: Vec<&String> = got.interfaces.iter().flat_map(|i| &i.addresses).collect();
        for host in local.hosts {
            let covered =
                host.is_loopback() || routes.iter().any(|r| r.is_connected() && r.contains(host));
            if covered {
                assert!(
                    placed.iter().any(|a| a.starts_with(&format!("{host}/"))),
                    "{host} not placed: {got:?}"
                );
            }
        }
    }
}
