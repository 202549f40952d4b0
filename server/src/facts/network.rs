//! `facts.network` (interfaces, addresses, resolvers) and `facts.listening` (listening
//! sockets and the well-known risky services among them).

use std::collections::BTreeSet;

use estate_protocol::{ListeningSocket, Network};
use serde::Serialize;

/// Network configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkFacts {
    /// Interfaces, loopback included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interfaces: Option<Vec<InterfaceFact>>,
    /// IPv4 addresses of non-loopback interfaces, without prefix length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4_addresses: Option<Vec<String>>,
    /// IPv6 addresses of non-loopback interfaces, link-local left out, without prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_addresses: Option<Vec<String>>,
    /// IPv4 default gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_gateway_v4: Option<String>,
    /// IPv6 default gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_gateway_v6: Option<String>,
    /// DNS servers in resolver order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_servers: Option<Vec<String>>,
    /// DNS search domains.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_search: Option<Vec<String>>,
}

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterfaceFact {
    /// Name (`eno1`, `eth0`).
    pub name: String,
    /// `physical`, `virtual`, `loopback`, `bridge`, `bond`, `vlan`, ...
    pub kind: String,
    /// Operational state (`up`, `down`, `unknown`, ...).
    pub state: String,
    /// Whether the operational state is `up`.
    pub up: bool,
    /// MAC address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Addresses in CIDR notation.
    pub addresses: Vec<String>,
    /// Link speed, bits per second, where the driver reports one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed_bits_per_second: Option<u64>,
    /// MTU, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu_bytes: Option<u32>,
}

/// Listening sockets. Every field is absent when the agent could not list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListeningFacts {
    /// Each listening socket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<PortFact>>,
    /// TCP ports listened on (any address), sorted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_ports: Option<Vec<u16>>,
    /// UDP ports bound (any address), sorted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp_ports: Option<Vec<u16>>,
    /// TCP ports listened on a non-loopback address, sorted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_tcp_ports: Option<Vec<u16>>,
    /// UDP ports bound on a non-loopback address, sorted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_udp_ports: Option<Vec<u16>>,
    /// SSH: TCP 22, or a process named `sshd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_listening: Option<bool>,
    /// Telnet: TCP 23, or a process named `telnetd`/`in.telnetd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telnet_listening: Option<bool>,
    /// FTP: TCP 21, or an FTP daemon (`vsftpd`, `proftpd`, `pure-ftpd`, `ftpd`, `in.ftpd`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ftp_listening: Option<bool>,
    /// TFTP: UDP 69.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tftp_listening: Option<bool>,
    /// The r-services: TCP 512 (rexec), 513 (rlogin), 514 (rsh).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rsh_listening: Option<bool>,
    /// NetBIOS: UDP 137/138 or TCP 139.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netbios_listening: Option<bool>,
    /// SMB: TCP 445 (which SMB dialects are enabled is not collected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smb_listening: Option<bool>,
    /// RDP: TCP 3389.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdp_listening: Option<bool>,
    /// VNC: TCP 5900–5909.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vnc_listening: Option<bool>,
    /// SNMP: UDP 161.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snmp_listening: Option<bool>,
}

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortFact {
    /// `tcp` or `udp`.
    pub protocol: &'static str,
    /// 4 or 6.
    pub ip_version: u8,
    /// Local address (`0.0.0.0`, `::` and the like mean every address).
    pub address: String,
    /// Local port.
    pub port: u16,
    /// Owning process name, where found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// Bound to a loopback address only (not reachable from the network).
    pub loopback_only: bool,
}

fn bare(cidr: &str) -> &str {
    cidr.split('/').next().unwrap_or(cidr)
}

pub(super) fn derive(network: Option<&Network>) -> NetworkFacts {
    let Some(net) = network else {
        return NetworkFacts {
            interfaces: None,
            ipv4_addresses: None,
            ipv6_addresses: None,
            default_gateway_v4: None,
            default_gateway_v6: None,
            dns_servers: None,
            dns_search: None,
        };
    };
    let outward = || net.interfaces.iter().filter(|i| i.kind != "loopback");
    let addresses = |v6: bool| -> Vec<String> {
        outward()
            .flat_map(|i| i.addresses.iter().map(|a| bare(a)))
            .filter(|a| a.contains(':') == v6)
            .filter(|a| !(v6 && a.to_ascii_lowercase().starts_with("fe80:")))
            .map(str::to_owned)
            .collect()
    };
    NetworkFacts {
        interfaces: Some(
            net.interfaces
                .iter()
                .map(|i| InterfaceFact {
                    name: i.name.clone(),
                    kind: i.kind.clone(),
                    state: i.state.clone(),
                    up: i.state == "up",
                    mac: i.mac.clone(),
                    addresses: i.addresses.clone(),
                    speed_bits_per_second: i.speed_mbps.map(|m| u64::from(m) * 1_000_000),
                    mtu_bytes: i.mtu,
                })
                .collect(),
        ),
        ipv4_addresses: Some(addresses(false)),
        ipv6_addresses: Some(addresses(true)),
        default_gateway_v4: net.default_gateway_v4.clone(),
        default_gateway_v6: net.default_gateway_v6.clone(),
        dns_servers: Some(net.dns_servers.clone()),
        dns_search: Some(net.dns_search.clone()),
    }
}

/// Whether `address` is a loopback address (127/8, `::1`, or IPv4-mapped 127/8).
fn is_loopback(address: &str) -> bool {
    let a = address.to_ascii_lowercase();
    let v4 = a.strip_prefix("::ffff:").unwrap_or(&a);
    v4.starts_with("127.") || a == "::1" || a == "localhost"
}

fn port_fact(s: &ListeningSocket) -> PortFact {
    let tcp = s.protocol.starts_with("tcp");
    PortFact {
        protocol: if tcp { "tcp" } else { "udp" },
        ip_version: if s.protocol.ends_with('6') { 6 } else { 4 },
        address: s.address.clone(),
        port: s.port,
        process: s.process.clone(),
        loopback_only: is_loopback(&s.address),
    }
}

pub(super) fn listening(sockets: Option<&[ListeningSocket]>) -> ListeningFacts {
    let Some(sockets) = sockets else {
        return ListeningFacts {
            ports: None,
            tcp_ports: None,
            udp_ports: None,
            exposed_tcp_ports: None,
            exposed_udp_ports: None,
            ssh_listening: None,
            telnet_listening: None,
            ftp_listening: None,
            tftp_listening: None,
            rsh_listening: None,
            netbios_listening: None,
            smb_listening: None,
            rdp_listening: None,
            vnc_listening: None,
            snmp_listening: None,
        };
    };
    let ports: Vec<PortFact> = sockets.iter().map(port_fact).collect();
    let set = |proto: &str, exposed_only: bool| -> Vec<u16> {
        ports
            .iter()
            .filter(|p| p.protocol == proto && !(exposed_only && p.loopback_only))
            .map(|p| p.port)
            .collect::<BTreeSet<u16>>()
            .into_iter()
            .collect()
    };
    let any = |proto: &str, wanted: &dyn Fn(u16) -> bool, processes: &[&str]| -> Option<bool> {
        Some(ports.iter().any(|p| {
            (p.protocol == proto && wanted(p.port))
                || p.process
                    .as_deref()
                    .is_some_and(|name| processes.contains(&name))
        }))
    };
    ListeningFacts {
        tcp_ports: Some(set("tcp", false)),
        udp_ports: Some(set("udp", false)),
        exposed_tcp_ports: Some(set("tcp", true)),
        exposed_udp_ports: Some(set("udp", true)),
        ssh_listening: any("tcp", &|p| p == 22, &["sshd"]),
        telnet_listening: any("tcp", &|p| p == 23, &["telnetd", "in.telnetd"]),
        ftp_listening: any(
            "tcp",
            &|p| p == 21,
            &["vsftpd", "proftpd", "pure-ftpd", "ftpd", "in.ftpd"],
        ),
        tftp_listening: any("udp", &|p| p == 69, &["in.tftpd", "tftpd"]),
        rsh_listening: any(
            "tcp",
            &|p| (512..=514).contains(&p),
            &["in.rshd", "in.rlogind", "in.rexecd"],
        ),
        netbios_listening: Some(
            any("udp", &|p| p == 137 || p == 138, &["nmbd"]) == Some(true)
                || any("tcp", &|p| p == 139, &[]) == Some(true),
        ),
        smb_listening: any("tcp", &|p| p == 445, &[]),
        rdp_listening: any("tcp", &|p| p == 3389, &[]),
        vnc_listening: any("tcp", &|p| (5900..=5909).contains(&p), &[]),
        snmp_listening: any("udp", &|p| p == 161, &["snmpd"]),
        ports: Some(ports),
    }
}
