//! Parsers for the kernel's routing and address tables under `/proc/net`: `route`,
//! `fib_trie`, `ipv6_route` and `if_inet6`. Pure functions over text, no I/O.
//!
//! Byte order differs between them: `route` prints each IPv4 address as a 32-bit word
//! in host byte order (`%08X` of a big-endian value), while `ipv6_route` and `if_inet6`
//! print IPv6 addresses as plain bytes in network order (`%pi6`).

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Route flag: route usable.
const RTF_UP: u32 = 0x0001;
/// Route flag: destination is reached through a gateway.
const RTF_GATEWAY: u32 = 0x0002;

/// One line of `/proc/net/route`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteV4 {
    /// Outgoing interface.
    pub iface: String,
    /// Destination network.
    pub destination: Ipv4Addr,
    /// Gateway (`0.0.0.0` for a directly connected network).
    pub gateway: Ipv4Addr,
    /// `RTF_*` flags.
    pub flags: u32,
    /// Route metric.
    pub metric: u32,
    /// Destination mask.
    pub mask: Ipv4Addr,
}

impl RouteV4 {
    /// Whether the route is up and reaches its destination directly (a subnet on a link).
    pub fn is_connected(&self) -> bool {
        self.flags & RTF_UP != 0 && self.flags & RTF_GATEWAY == 0
    }

    /// Prefix length of the mask.
    pub fn prefix_len(&self) -> u32 {
        self.mask.to_bits().count_ones()
    }

    /// Whether `address` is inside the destination network.
    pub fn contains(&self, address: Ipv4Addr) -> bool {
        address.to_bits() & self.mask.to_bits() == self.destination.to_bits()
    }
}

/// An IPv4 address word as `/proc/net/route` prints it.
fn word_v4(hex: &str) -> Option<Ipv4Addr> {
    if hex.len() != 8 {
        return None;
    }
    u32::from_str_radix(hex, 16)
        .ok()
        .map(|w| Ipv4Addr::from(w.to_ne_bytes()))
}

/// Parses `/proc/net/route`. Bad lines are returned as `(line number, why)`.
pub fn parse_route(text: &str) -> (Vec<RouteV4>, Vec<(usize, String)>) {
    let mut routes = Vec::new();
    let mut bad = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() || (index == 0 && fields[0] == "Iface") {
            continue;
        }
        let parsed = (|| {
            if fields.len() < 8 {
                return None;
            }
            Some(RouteV4 {
                iface: fields[0].to_owned(),
                destination: word_v4(fields[1])?,
                gateway: word_v4(fields[2])?,
                flags: u32::from_str_radix(fields[3], 16).ok()?,
                metric: fields[6].parse().ok()?,
                mask: word_v4(fields[7])?,
            })
        })();
        match parsed {
            Some(route) => routes.push(route),
            None => bad.push((index + 1, "not a route entry".to_owned())),
        }
    }
    (routes, bad)
}

/// The IPv4 default gateway: the up, gatewayed route to 0.0.0.0/0 with the lowest metric.
pub fn default_gateway_v4(routes: &[RouteV4]) -> Option<Ipv4Addr> {
    routes
        .iter()
        .filter(|r| {
            r.destination.is_unspecified()
                && r.mask.is_unspecified()
                && r.flags & (RTF_UP | RTF_GATEWAY) == RTF_UP | RTF_GATEWAY
        })
        .min_by_key(|r| r.metric)
        .map(|r| r.gateway)
}

/// Local addresses from `/proc/net/fib_trie`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalAddresses {
    /// Host addresses (`/32 host LOCAL`), ascending, each once.
    pub hosts: Vec<Ipv4Addr>,
    /// Whole local ranges (`/8 host LOCAL` for 127.0.0.0/8): network and prefix length.
    pub ranges: Vec<(Ipv4Addr, u8)>,
}

/// Parses `/proc/net/fib_trie`: a leaf line `|-- ADDRESS` is followed by one line per
/// prefix on it, `/LEN SCOPE TYPE`. The host's own addresses are the `/32 host LOCAL`
/// entries (the kernel adds one for every address configured on an interface).
/// Returns `None` when the text has no leaf at all (not a `fib_trie` file).
pub fn parse_fib_trie(text: &str) -> Option<LocalAddresses> {
    let mut local = LocalAddresses::default();
    let mut seen_hosts = HashSet::new();
    let mut current: Option<Ipv4Addr> = None;
    let mut leaves = 0usize;
    for line in text.lines() {
        let line = line.trim();
        if let Some(address) = line.strip_prefix("|-- ") {
            current = address.trim().parse().ok();
            leaves += usize::from(current.is_some());
        } else if line.starts_with('/') {
            let mut parts = line.split_whitespace();
            let len = parts.next().and_then(|l| l[1..].parse::<u8>().ok());
            let kind = parts.nth(1);
            if let (Some(address), Some(len), Some("LOCAL")) = (current, len, kind) {
                if len == 32 {
                    if seen_hosts.insert(address) {
                        local.hosts.push(address);
                    }
                } else if len < 32 && !local.ranges.contains(&(address, len)) {
                    local.ranges.push((address, len));
                }
            }
        } else {
            current = None;
        }
    }
    local.hosts.sort();
    (leaves > 0).then_some(local)
}

/// Places each local address on an interface with a prefix length: the connected route
/// (no gateway) with the longest prefix that contains it, then the lowest metric; an
/// address inside a local range (127.0.0.0/8) goes to `loopback` with the range's prefix.
/// Addresses that match neither (no route on any link) are left out.
pub fn assign_v4(
    local: &LocalAddresses,
    routes: &[RouteV4],
    loopback: Option<&str>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for &address in &local.hosts {
        let best = routes
            .iter()
            .filter(|r| r.is_connected() && r.contains(address))
            .min_by_key(|r| (u32::MAX - r.prefix_len(), r.metric));
        if let Some(route) = best {
            out.push((
                route.iface.clone(),
                format!("{address}/{}", route.prefix_len()),
            ));
            continue;
        }
        let range = local.ranges.iter().find(|(network, len)| {
            let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
            address.to_bits() & mask == network.to_bits()
        });
        if let (Some((_, len)), Some(lo)) = (range, loopback) {
            out.push((lo.to_owned(), format!("{address}/{len}")));
        }
    }
    out
}

fn hex_v6(hex: &str) -> Option<Ipv6Addr> {
    if hex.len() != 32 {
        return None;
    }
    u128::from_str_radix(hex, 16).ok().map(Ipv6Addr::from)
}

/// Parses `/proc/net/if_inet6`: `ADDRESS IFINDEX PREFIXLEN SCOPE FLAGS NAME`, all hex.
/// Returns `(interface, "address/prefix")` pairs and bad line numbers.
pub fn parse_if_inet6(text: &str) -> (Vec<(String, String)>, Vec<usize>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let parsed = (fields.len() == 6)
            .then(|| Some((hex_v6(fields[0])?, u8::from_str_radix(fields[2], 16).ok()?)))
            .flatten();
        match parsed {
            Some((address, len)) if len <= 128 => {
                out.push((fields[5].to_owned(), format!("{address}/{len}")));
            }
            _ => bad.push(index + 1),
        }
    }
    (out, bad)
}

/// The IPv6 default gateway from `/proc/net/ipv6_route`: the up, gatewayed route to
/// `::/0` with a next hop, lowest metric first. Returns it and bad line numbers.
pub fn default_gateway_v6(text: &str) -> (Option<Ipv6Addr>, Vec<usize>) {
    let mut best: Option<(u32, Ipv6Addr)> = None;
    let mut bad = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let parsed = (fields.len() == 10)
            .then(|| {
                Some((
                    hex_v6(fields[0])?,
                    u8::from_str_radix(fields[1], 16).ok()?,
                    hex_v6(fields[4])?,
                    u32::from_str_radix(fields[5], 16).ok()?,
                    u32::from_str_radix(fields[8], 16).ok()?,
                ))
            })
            .flatten();
        let Some((destination, len, next_hop, metric, flags)) = parsed else {
            bad.push(index + 1);
            continue;
        };
        let default = destination.is_unspecified() && len == 0;
        let gatewayed = flags & (RTF_UP | RTF_GATEWAY) == RTF_UP | RTF_GATEWAY;
        if default
            && gatewayed
            && !next_hop.is_unspecified()
            && best.is_none_or(|(m, _)| metric < m)
        {
            best = Some((metric, next_hop));
        }
    }
    (best.map(|(_, gateway)| gateway), bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded on a Firecracker guest (kernel 6.18): 192.0.2.2/24 on eth0.
    const ROUTE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
        eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
        eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";

    const FIB_TRIE: &str = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n\
     +-- 127.0.0.0/8 2 0 2\n        +-- 127.0.0.0/31 1 0 0\n           |-- 127.0.0.0\n              /8 host LOCAL\n\
           |-- 127.0.0.1\n              /32 host LOCAL\n        |-- 127.255.255.255\n           /32 link BROADCAST\n\
     +-- 192.0.2.0/24 2 0 2\n        +-- 192.0.2.0/30 2 0 2\n           |-- 192.0.2.0\n              /24 link UNICAST\n\
           |-- 192.0.2.2\n              /32 host LOCAL\n        |-- 192.0.2.255\n           /32 link BROADCAST\n\
Local:\n  +-- 0.0.0.0/0 3 0 5\n     +-- 192.0.2.0/24 2 0 2\n           |-- 192.0.2.2\n              /32 host LOCAL\n";

    #[test]
    fn routes_decode_and_give_the_default_gateway() {
        let (routes, bad) = parse_route(ROUTE);
        assert!(bad.is_empty());
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[1].destination, Ipv4Addr::new(192, 0, 2, 0));
        assert_eq!(routes[1].prefix_len(), 24);
        assert!(routes[1].is_connected() && !routes[0].is_connected());
        assert_eq!(
            default_gateway_v4(&routes),
            Some(Ipv4Addr::new(192, 0, 2, 1))
        );
    }

    #[test]
    fn fib_trie_local_addresses_are_placed_on_their_interfaces() {
        let local = parse_fib_trie(FIB_TRIE).unwrap();
        assert_eq!(
            local.hosts,
            vec![Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(192, 0, 2, 2)]
        );
        assert_eq!(local.ranges, vec![(Ipv4Addr::new(127, 0, 0, 0), 8)]);
        let (routes, _) = parse_route(ROUTE);
        assert_eq!(
            assign_v4(&local, &routes, Some("lo")),
            vec![
                ("lo".to_owned(), "127.0.0.1/8".to_owned()),
                ("eth0".to_owned(), "192.0.2.2/24".to_owned()),
            ]
        );
        assert_eq!(parse_fib_trie("garbage\n"), None);
    }

    #[test]
    fn longest_prefix_wins_and_unrouted_addresses_are_left_out() {
        let local = LocalAddresses {
            hosts: vec![Ipv4Addr::new(10, 0, 1, 5), Ipv4Addr::new(172, 16, 0, 9)],
            ranges: vec![],
        };
        let route = |iface: &str, dest: [u8; 4], mask: [u8; 4]| RouteV4 {
            iface: iface.into(),
            destination: dest.into(),
            gateway: Ipv4Addr::UNSPECIFIED,
            flags: RTF_UP,
            metric: 0,
            mask: mask.into(),
        };
        let routes = vec![
            route("wide", [10, 0, 0, 0], [255, 0, 0, 0]),
            route("narrow", [10, 0, 1, 0], [255, 255, 255, 0]),
        ];
        assert_eq!(
            assign_v4(&local, &routes, Some("lo")),
            vec![("narrow".to_owned(), "10.0.1.5/24".to_owned())]
        );
    }

    #[test]
    fn ipv6_gateway_skips_the_unreachable_catch_all() {
        // Recorded on a Firecracker guest: default via fd00::1, and the kernel's
        // unreachable ::/0 entry on lo.
        let text = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n\
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n\
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
        let (gateway, bad) = default_gateway_v6(text);
        assert!(bad.is_empty());
        assert_eq!(gateway, Some("fd00::1".parse().unwrap()));
        let catch_all = text.lines().nth(2).unwrap();
        assert_eq!(default_gateway_v6(catch_all), (None, vec![]));
        assert_eq!(default_gateway_v6("::/0 via fd00::1\n").1, vec![1]);
    }

    #[test]
    fn if_inet6_prefixes_are_hex() {
        let (addrs, bad) = parse_if_inet6(
            "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n\
             00000000000000000000000000000001 01 80 10 80       lo\nshort line\n",
        );
        assert_eq!(
            addrs,
            vec![
                ("eth0".to_owned(), "fe80::fc:ff:fe00:1/64".to_owned()),
                ("lo".to_owned(), "::1/128".to_owned()),
            ]
        );
        assert_eq!(bad, vec![3]);
    }
}
