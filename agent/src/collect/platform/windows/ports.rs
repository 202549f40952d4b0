//! The Windows listening-sockets collector: TCP listeners and bound UDP endpoints with
//! their owning process.
//!
//! The live reader calls `GetExtendedTcpTable`/`GetExtendedUdpTable` with
//! `TCP_TABLE_OWNER_PID_ALL`/`UDP_TABLE_OWNER_PID` for IPv4 and IPv6 (no administrator
//! rights needed) and hands the rows over exactly as the API fills them
//! (`MIB_TCPROW_OWNER_PID` and friends): addresses and ports in network byte order inside
//! little-endian `DWORD`s. This module decodes them: a TCP row counts when its state is
//! `MIB_TCP_STATE_LISTEN` (2), every UDP row counts (UDP has no listen state). The owner
//! is the row's process id, named from the process list (`System` for pid 4, which owns
//! the kernel's listeners: SMB on 445, HTTP.sys on 80/5985). A socket held by several
//! processes keeps the lowest pid, as on Linux.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use estate_protocol::ListeningSocket;
use serde::{Deserialize, Serialize};

use super::source::Source;
use crate::collect::{CollectError, Collected, Collector, Context, Section};

/// `MIB_TCP_STATE_LISTEN`.
pub const TCP_LISTEN: u32 = 2;

/// A `MIB_TCPROW_OWNER_PID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpRow {
    /// `MIB_TCP_STATE`.
    #[serde(rename = "dwState")]
    pub state: u32,
    /// Local IPv4 address, network byte order.
    #[serde(rename = "dwLocalAddr")]
    pub local_addr: u32,
    /// Local port, network byte order in the low 16 bits.
    #[serde(rename = "dwLocalPort")]
    pub local_port: u32,
    /// Owning process id.
    #[serde(rename = "dwOwningPid")]
    pub pid: u32,
}

/// A `MIB_TCP6ROW_OWNER_PID` (local side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tcp6Row {
    /// `MIB_TCP_STATE`.
    #[serde(rename = "dwState")]
    pub state: u32,
    /// Local IPv6 address.
    #[serde(rename = "ucLocalAddr")]
    pub local_addr: [u8; 16],
    /// Local port, network byte order in the low 16 bits.
    #[serde(rename = "dwLocalPort")]
    pub local_port: u32,
    /// Owning process id.
    #[serde(rename = "dwOwningPid")]
    pub pid: u32,
}

/// A `MIB_UDPROW_OWNER_PID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UdpRow {
    /// Local IPv4 address, network byte order.
    #[serde(rename = "dwLocalAddr")]
    pub local_addr: u32,
    /// Local port, network byte order in the low 16 bits.
    #[serde(rename = "dwLocalPort")]
    pub local_port: u32,
    /// Owning process id.
    #[serde(rename = "dwOwningPid")]
    pub pid: u32,
}

/// A `MIB_UDP6ROW_OWNER_PID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Udp6Row {
    /// Local IPv6 address.
    #[serde(rename = "ucLocalAddr")]
    pub local_addr: [u8; 16],
    /// Local port, network byte order in the low 16 bits.
    #[serde(rename = "dwLocalPort")]
    pub local_port: u32,
    /// Owning process id.
    #[serde(rename = "dwOwningPid")]
    pub pid: u32,
}

/// The four endpoint tables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketTables {
    /// TCP over IPv4, all states.
    #[serde(default)]
    pub tcp: Vec<TcpRow>,
    /// TCP over IPv6, all states.
    #[serde(default)]
    pub tcp6: Vec<Tcp6Row>,
    /// UDP over IPv4.
    #[serde(default)]
    pub udp: Vec<UdpRow>,
    /// UDP over IPv6.
    #[serde(default)]
    pub udp6: Vec<Udp6Row>,
}

/// The IPv4 address in a row's `DWORD` (network byte order, read little-endian).
pub fn ipv4(raw: u32) -> Ipv4Addr {
    Ipv4Addr::from(raw.to_le_bytes())
}

/// The port in a row's `DWORD` (network byte order in the low 16 bits).
pub fn port(raw: u32) -> u16 {
    let [lo, hi, _, _] = raw.to_le_bytes();
    u16::from_be_bytes([lo, hi])
}

/// The row value a port has (the inverse of [`port`]), for recordings and tests.
pub fn raw_port(port: u16) -> u32 {
    let [hi, lo] = port.to_be_bytes();
    u32::from_le_bytes([hi, lo, 0, 0])
}

/// The row value an IPv4 address has (the inverse of [`ipv4`]).
pub fn raw_ipv4(addr: Ipv4Addr) -> u32 {
    u32::from_le_bytes(addr.octets())
}

/// Collects the `listening` section from a [`Source`].
#[derive(Debug, Clone)]
pub struct ListeningCollector {
    source: Arc<dyn Source>,
}

impl ListeningCollector {
    /// A collector reading from `source`.
    pub fn new(source: Arc<dyn Source>) -> Self {
        ListeningCollector { source }
    }
}

impl Collector for ListeningCollector {
    fn name(&self) -> &'static str {
        "listening"
    }

    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        let tables = self
            .source
            .sockets()
            .map_err(|e| CollectError::Other(e.to_string()))?;
        let mut problems = Vec::new();
        let processes = match self.source.processes() {
            Ok(p) => p,
            Err(err) => {
                problems.push(format!("process names: {err}"));
                BTreeMap::new()
            }
        };
        Ok(Collected::partial(
            Section::Listening(listening(&tables, &processes)),
            problems,
        ))
    }
}

/// The listening sockets in the tables, sorted by protocol, address and port.
pub fn listening(tables: &SocketTables, processes: &BTreeMap<u32, String>) -> Vec<ListeningSocket> {
    // (protocol, address, port) -> lowest pid.
    let mut found: BTreeMap<(&'static str, String, u16), u32> = BTreeMap::new();
    let mut add = |protocol: &'static str, address: String, port: u16, pid: u32| {
        found
            .entry((protocol, address, port))
            .and_modify(|p| *p = (*p).min(pid))
            .or_insert(pid);
    };
    for r in tables.tcp.iter().filter(|r| r.state == TCP_LISTEN) {
        add(
            "tcp",
            ipv4(r.local_addr).to_string(),
            port(r.local_port),
            r.pid,
        );
    }
    for r in tables.tcp6.iter().filter(|r| r.state == TCP_LISTEN) {
        add(
            "tcp6",
            Ipv6Addr::from(r.local_addr).to_string(),
            port(r.local_port),
            r.pid,
        );
    }
    for r in &tables.udp {
        add(
            "udp",
            ipv4(r.local_addr).to_string(),
            port(r.local_port),
            r.pid,
        );
    }
    for r in &tables.udp6 {
        add(
            "udp6",
            Ipv6Addr::from(r.local_addr).to_string(),
            port(r.local_port),
            r.pid,
        );
    }
    found
        .into_iter()
        .map(|((protocol, address, port), pid)| ListeningSocket {
            protocol: protocol.to_owned(),
            address,
            port,
            // Pid 0 is the idle process: the row has no owner.
            pid: (pid != 0).then_some(pid),
            process: match pid {
                0 => None,
                4 => Some(
                    processes
                        .get(&4)
                        .cloned()
                        .unwrap_or_else(|| "System".to_owned()),
                ),
                pid => processes.get(&pid).cloned(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::platform::windows::recorded::{self, RecordedSource};

    #[test]
    fn byte_order_of_the_rows() {
        assert_eq!(port(34560), 135);
        assert_eq!(port(48385), 445);
        assert_eq!(port(15629), 3389);
        assert_eq!(ipv4(16_777_343), Ipv4Addr::LOCALHOST);
        for p in [0u16, 22, 135, 445, 3389, 5985, 49664, 65535] {
            assert_eq!(port(raw_port(p)), p);
        }
        let a = Ipv4Addr::new(192, 168, 1, 23);
        assert_eq!(ipv4(raw_ipv4(a)), a);
    }

    #[test]
    fn laptop_listeners_with_their_processes() {
        let src = RecordedSource::fixture(recorded::WIN10_LAPTOP);
        let sockets = listening(&src.sockets().unwrap(), &src.processes().unwrap());
        let show: Vec<String> = sockets
            .iter()
            .map(|s| {
                format!(
                    "{} {} {} {}",
                    s.protocol,
                    s.address,
                    s.port,
                    s.process.as_deref().unwrap_or("-")
                )
            })
            .collect();
        assert_eq!(
            show,
            vec![
                "tcp 0.0.0.0 135 svchost.exe",
                "tcp 0.0.0.0 445 System",
                "tcp 0.0.0.0 3389 svchost.exe",
                "tcp 0.0.0.0 49664 lsass.exe",
                "tcp 127.0.0.1 9100 Dell.TechHub.exe",
                "tcp 192.168.1.23 139 System",
                "tcp6 :: 135 svchost.exe",
                "tcp6 :: 445 System",
                "udp 0.0.0.0 5353 svchost.exe",
                "udp 192.168.1.23 137 System",
                "udp6 :: 5353 svchost.exe",
            ]
        );
        // The established connection and the TIME_WAIT row are not listeners.
        assert!(!sockets.iter().any(|s| s.port == 51234 || s.port == 443));
    }

    #[test]
    fn shared_sockets_keep_the_lowest_pid_and_pid_0_has_no_owner() {
        let tables = SocketTables {
            udp: vec![
                UdpRow {
                    local_addr: 0,
                    local_port: raw_port(5353),
                    pid: 2200,
                },
                UdpRow {
                    local_addr: 0,
                    local_port: raw_port(5353),
                    pid: 1500,
                },
            ],
            tcp: vec![TcpRow {
                state: TCP_LISTEN,
                local_addr: 0,
                local_port: raw_port(80),
                pid: 0,
            }],
            ..SocketTables::default()
        };
        let s = listening(&tables, &BTreeMap::from([(1500, "a.exe".to_owned())]));
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].pid, s[0].process.as_deref()), (None, None));
        assert_eq!(
            (s[1].pid, s[1].process.as_deref()),
            (Some(1500), Some("a.exe"))
        );
    }
}
