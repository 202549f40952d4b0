//! The network section: interfaces, addresses, gateway and resolvers.

use estate_protocol::{Interface, Network};

use super::Ctx;
use crate::simulate::catalogue::{Hypervisor, Maker};
use crate::simulate::profile::{HostClass, Platform};
use crate::simulate::rng::Rng;

/// The host's IPv4 address on its site's network.
pub(crate) fn address(ctx: &Ctx<'_>) -> String {
    let index = ctx.p.index;
    format!(
        "10.{}.{}.{}",
        ctx.p.subnet,
        (index >> 8) & 0xff,
        (index & 0xff).max(2)
    )
}

fn mac(rng: &mut Rng, prefix: &str) -> String {
    let tail = rng.hex(3);
    format!("{prefix}:{}:{}:{}", &tail[0..2], &tail[2..4], &tail[4..6])
}

/// `network`.
pub(crate) fn network(ctx: &Ctx<'_>) -> Network {
    let p = ctx.p;
    let mut rng = ctx.rng(20);
    let windows = p.is_windows();
    let address = address(ctx);
    let prefix_len = if p.class.is_server() { 24 } else { 22 };
    let mac_prefix = match p.platform {
        Platform::Virtual { cluster, .. } if cluster.hypervisor == Hypervisor::Vmware => "00:50:56",
        Platform::Virtual { .. } => "00:15:5d",
        Platform::Physical(model) => match (model.maker, p.class.is_server()) {
            (Maker::Dell, true) => "b0:26:28",
            (Maker::Hp, true) => "94:40:c9",
            (Maker::Dell, false) => "d4:81:d7",
            (Maker::Hp, false) => "84:a9:3e",
            (Maker::Lenovo, _) => "8c:16:45",
        },
    };
    let mac_main = mac(&mut rng, mac_prefix);
    let link_local = format!(
        "fe80::{}:{}ff:fe{}:{}",
        rng.hex(2),
        rng.hex(1),
        rng.hex(1),
        rng.hex(2)
    );
    let (main_name, speed) = match (p.class, windows, p.platform) {
        (HostClass::WindowsLaptop, _, _) => ("Wi-Fi", None),
        (_, true, Platform::Virtual { .. }) => ("Ethernet0", Some(10_000)),
        (_, true, _) => ("Ethernet", Some(1_000)),
        (_, false, Platform::Virtual { cluster, .. })
            if cluster.hypervisor == Hypervisor::Vmware =>
        {
            ("ens192", Some(10_000))
        }
        (_, false, Platform::Virtual { .. }) => ("eth0", Some(10_000)),
        (HostClass::PhysicalServer, false, _) => ("eno1", Some(10_000)),
        (_, false, _) => ("enp0s31f6", Some(1_000)),
    };
    let mut interfaces = vec![Interface {
        name: main_name.to_owned(),
        mac: Some(mac_main),
        addresses: vec![
            format!("{address}/{prefix_len}"),
            format!("{link_local}/64"),
        ],
        state: "up".to_owned(),
        speed_mbps: speed,
        mtu: Some(1500),
        kind: if p.is_virtual() {
            "virtual"
        } else {
            "physical"
        }
        .to_owned(),
    }];
    if p.class == HostClass::WindowsLaptop {
        interfaces.push(Interface {
            name: "Ethernet".to_owned(),
            mac: Some(mac(&mut rng, mac_prefix)),
            addresses: Vec::new(),
            state: "down".to_owned(),
            speed_mbps: None,
            mtu: Some(1500),
            kind: "physical".to_owned(),
        });
    }
    if p.class == HostClass::PhysicalServer {
        interfaces.push(Interface {
            name: if windows { "Ethernet 2" } else { "eno2" }.to_owned(),
            mac: Some(mac(&mut rng, mac_prefix)),
            addresses: Vec::new(),
            state: "down".to_owned(),
            speed_mbps: None,
            mtu: Some(1500),
            kind: "physical".to_owned(),
        });
    }
    interfaces.push(Interface {
        name: if windows {
            "Loopback Pseudo-Interface 1"
        } else {
            "lo"
        }
        .to_owned(),
        mac: None,
        addresses: vec!["127.0.0.1/8".to_owned(), "::1/128".to_owned()],
        state: if windows { "up" } else { "unknown" }.to_owned(),
        speed_mbps: None,
        mtu: Some(if windows { 1500 } else { 65_536 }),
        kind: "loopback".to_owned(),
    });
    interfaces.sort_by(|a, b| a.name.cmp(&b.name));
    let dns_servers = if p.traits.neglected && rng.chance(0.5) {
        vec!["10.20.0.10".to_owned()]
    } else {
        vec!["10.20.0.10".to_owned(), "10.21.0.10".to_owned()]
    };
    Network {
        interfaces,
        default_gateway_v4: Some(format!("10.{}.{}.1", p.subnet, (p.index >> 8) & 0xff)),
        default_gateway_v6: None,
        dns_servers,
        dns_search: vec!["council.local".to_owned()],
    }
}
