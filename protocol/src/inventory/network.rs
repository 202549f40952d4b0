//! Network interfaces, routes, resolvers and listening sockets.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Network configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Interfaces, loopback included.
    pub interfaces: Vec<Interface>,
    /// IPv4 default gateway, where one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_gateway_v4: Option<String>,
    /// IPv6 default gateway, where one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_gateway_v6: Option<String>,
    /// DNS servers in resolver order.
    #[serde(default)]
    pub dns_servers: Vec<String>,
    /// DNS search domains.
    #[serde(default)]
    pub dns_search: Vec<String>,
}

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// Interface name (e.g. `eno1`, `eth0`).
    pub name: String,
    /// MAC address, lower-case, colon-separated; absent for interfaces without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Addresses in CIDR notation (e.g. `10.0.0.5/24`, `fe80::1/64`).
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Operational state (`up`, `down`, `unknown`, ...).
    pub state: String,
    /// Link speed in megabits per second, where the driver reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_mbps: Option<u32>,
    /// MTU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Kind of interface (`physical`, `virtual`, `loopback`, `bridge`, `bond`, `vlan`, ...).
    pub kind: String,
}

/// A socket listening for connections (TCP) or datagrams (UDP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListeningSocket {
    /// `tcp`, `tcp6`, `udp` or `udp6`.
    pub protocol: String,
    /// Local address (e.g. `0.0.0.0`, `::`, `127.0.0.1`).
    pub address: String,
    /// Local port.
    pub port: u16,
    /// Owning process id, where it could be found (volatile: not hashed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Owning process name (`comm`), where it could be found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
}
