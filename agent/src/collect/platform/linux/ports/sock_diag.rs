//! Listening sockets from the kernel's socket-diagnostics netlink interface
//! (`NETLINK_SOCK_DIAG`, `inet_diag`), the way `ss -l` reads them.
//!
//! Why not only `/proc/net/tcp`: the kernel builds that file by walking every bucket of
//! the TCP hash tables, whose size grows with the machine's memory, whether or not they
//! hold a socket. On the 24 GiB development VM one read of `/proc/net/tcp` costs 8 ms of
//! kernel time with two sockets in it, and the agent read it and `tcp6` on every report:
//! 40 % of a report's CPU. A dump request names the states it wants (LISTEN), and the
//! kernel then walks the listening table only.
//!
//! This file owns the wire format: the request (`inet_diag_req_v2`), the replies
//! (`inet_diag_msg`) and the netlink framing around them (`linux/inet_diag.h`,
//! `linux/netlink.h`). Every reply is bounds-checked; anything that is not a well-formed
//! `inet_diag_msg` of the asked family is an error, and the caller falls back to `/proc`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::RawSocket;

/// `AF_INET`.
const AF_INET: u8 = 2;
/// `AF_INET6`.
const AF_INET6: u8 = 10;
/// `IPPROTO_TCP`.
const IPPROTO_TCP: u8 = 6;
/// `IPPROTO_UDP`.
const IPPROTO_UDP: u8 = 17;
/// `TCP_LISTEN` (the TCP state enum, which UDP sockets use too).
const TCP_LISTEN: u8 = 10;
/// `TCP_CLOSE`: an unconnected UDP socket.
const TCP_CLOSE: u8 = 7;

/// `SOCK_DIAG_BY_FAMILY`: the message type of requests and replies.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `NLMSG_ERROR`.
const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`.
const NLMSG_DONE: u16 = 3;
/// `NLM_F_REQUEST | NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
const DUMP_REQUEST: u16 = 0x1 | 0x100 | 0x200;

/// `struct nlmsghdr`.
const NLMSG_HEADER: usize = 16;
/// `struct inet_diag_req_v2`.
const REQUEST_BODY: usize = 56;
/// `struct inet_diag_msg`.
const REPLY_BODY: usize = 72;

/// Which sockets one dump asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// TCP over IPv4, listening.
    Tcp,
    /// TCP over IPv6, listening.
    Tcp6,
    /// UDP over IPv4, unconnected.
    Udp,
    /// UDP over IPv6, unconnected.
    Udp6,
}

impl Table {
    /// Every table, in the order `/proc/net` lists them.
    pub const ALL: [Table; 4] = [Table::Tcp, Table::Tcp6, Table::Udp, Table::Udp6];

    /// The protocol name used in reports (`tcp`, `tcp6`, `udp`, `udp6`).
    pub fn protocol(self) -> &'static str {
        match self {
            Table::Tcp => "tcp",
            Table::Tcp6 => "tcp6",
            Table::Udp => "udp",
            Table::Udp6 => "udp6",
        }
    }

    fn family(self) -> u8 {
        match self {
            Table::Tcp | Table::Udp => AF_INET,
            Table::Tcp6 | Table::Udp6 => AF_INET6,
        }
    }

    fn ip_protocol(self) -> u8 {
        match self {
            Table::Tcp | Table::Tcp6 => IPPROTO_TCP,
            Table::Udp | Table::Udp6 => IPPROTO_UDP,
        }
    }

    fn state(self) -> u8 {
        match self {
            Table::Tcp | Table::Tcp6 => TCP_LISTEN,
            Table::Udp | Table::Udp6 => TCP_CLOSE,
        }
    }
}

/// The dump request for `table`: a netlink header and an `inet_diag_req_v2` asking for
/// every socket of the table's family and protocol in its listening state.
pub fn request(table: Table, seq: u32) -> [u8; NLMSG_HEADER + REQUEST_BODY] {
    let mut buf = [0u8; NLMSG_HEADER + REQUEST_BODY];
    buf[0..4].copy_from_slice(&((NLMSG_HEADER + REQUEST_BODY) as u32).to_ne_bytes());
    buf[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    buf[6..8].copy_from_slice(&DUMP_REQUEST.to_ne_bytes());
    buf[8..12].copy_from_slice(&seq.to_ne_bytes());
    // pid 0: the kernel fills in ours.
    let body = &mut buf[NLMSG_HEADER..];
    body[0] = table.family();
    body[1] = table.ip_protocol();
    // body[2]: no extensions; body[3]: padding.
    body[4..8].copy_from_slice(&(1u32 << table.state()).to_ne_bytes());
    // The socket id stays zero: a dump ignores it.
    buf
}

/// What one buffer of replies held.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Listening sockets found in it.
    pub sockets: Vec<RawSocket>,
    /// Whether it ended the dump (`NLMSG_DONE`).
    pub done: bool,
}

/// Parses one buffer received from the kernel in reply to [`request`]`(table, seq)`.
/// A UDP socket counts as listening when it is unconnected with no remote address or
/// port, as for `/proc/net/udp`.
pub fn parse(buf: &[u8], table: Table, seq: u32) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut rest = buf;
    while !rest.is_empty() {
        if rest.len() < NLMSG_HEADER {
            return Err(format!("truncated netlink header ({} bytes)", rest.len()));
        }
        let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        let kind = u16::from_ne_bytes(rest[4..6].try_into().expect("2 bytes"));
        let msg_seq = u32::from_ne_bytes(rest[8..12].try_into().expect("4 bytes"));
        if len < NLMSG_HEADER || len > rest.len() {
            return Err(format!(
                "netlink message length {len} outside 16..={}",
                rest.len()
            ));
        }
        if msg_seq != seq {
            return Err(format!("reply to request {msg_seq}, expected {seq}"));
        }
        let body = &rest[NLMSG_HEADER..len];
        match kind {
            NLMSG_DONE => {
                parsed.done = true;
                return Ok(parsed);
            }
            NLMSG_ERROR => {
                let errno = body
                    .get(0..4)
                    .map(|b| i32::from_ne_bytes(b.try_into().expect("4 bytes")))
                    .unwrap_or(0);
                return Err(format!(
                    "the kernel refused the dump: {}",
                    io::Error::from_raw_os_error(-errno)
                ));
            }
            SOCK_DIAG_BY_FAMILY => {
                if let Some(socket) = parse_reply(body, table)? {
                    parsed.sockets.push(socket);
                }
            }
            other => return Err(format!("unexpected netlink message type {other}")),
        }
        // Messages are aligned to 4 bytes.
        let next = len.next_multiple_of(4).min(rest.len());
        rest = &rest[next..];
    }
    Ok(parsed)
}

/// One `inet_diag_msg`: `None` when it is not a listening socket.
fn parse_reply(body: &[u8], table: Table) -> Result<Option<RawSocket>, String> {
    if body.len() < REPLY_BODY {
        return Err(format!(
            "inet_diag_msg of {} bytes, expected at least {REPLY_BODY}",
            body.len()
        ));
    }
    let family = body[0];
    if family != table.family() {
        return Err(format!(
            "reply for address family {family} in a {} dump",
            table.protocol()
        ));
    }
    let state = body[1];
    // struct inet_diag_sockid at offset 4: sport, dport (big-endian), src[16], dst[16].
    let port = u16::from_be_bytes([body[4], body[5]]);
    let remote_port = u16::from_be_bytes([body[6], body[7]]);
    let address = address(family, &body[8..24]);
    let remote = address_is_zero(family, &body[24..40]);
    let inode = u32::from_ne_bytes(body[68..72].try_into().expect("4 bytes"));
    let listening = match table {
        Table::Tcp | Table::Tcp6 => state == TCP_LISTEN,
        Table::Udp | Table::Udp6 => state == TCP_CLOSE && remote && remote_port == 0,
    };
    Ok(listening.then(|| RawSocket {
        protocol: table.protocol(),
        address,
        port,
        inode: u64::from(inode),
    }))
}

fn address(family: u8, raw: &[u8]) -> IpAddr {
    if family == AF_INET {
        IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))
    } else {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&raw[..16]);
        IpAddr::V6(Ipv6Addr::from(octets))
    }
}

fn address_is_zero(family: u8, raw: &[u8]) -> bool {
    let len = if family == AF_INET { 4 } else { 16 };
    raw[..len].iter().all(|&b| b == 0)
}

/// Dumps `table` from the running kernel.
pub fn dump(table: Table) -> io::Result<Vec<RawSocket>> {
    use rustix::net::{
        AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType, netlink, recv, sendto,
        socket_with,
    };
    let fd = socket_with(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        Some(netlink::SOCK_DIAG),
    )?;
    let seq = 1;
    sendto(
        &fd,
        &request(table, seq),
        SendFlags::empty(),
        &netlink::SocketAddrNetlink::new(0, 0),
    )?;
    let mut sockets = Vec::new();
    // The kernel sends a dump in datagrams of up to a page or so each; 32 KiB holds one.
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let (received, _) = recv(&fd, &mut buf[..], RecvFlags::empty())?;
        if received == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the netlink dump ended without NLMSG_DONE",
            ));
        }
        let parsed = parse(&buf[..received], table, seq)
            .map_err(|message| io::Error::new(io::ErrorKind::InvalidData, message))?;
        sockets.extend(parsed.sockets);
        if parsed.done {
            return Ok(sockets);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: usize, kind: u16, seq: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&(len as u32).to_ne_bytes());
        h.extend_from_slice(&kind.to_ne_bytes());
        h.extend_from_slice(&0x2u16.to_ne_bytes()); // NLM_F_MULTI
        h.extend_from_slice(&seq.to_ne_bytes());
        h.extend_from_slice(&4242u32.to_ne_bytes());
        h
    }

    #[allow(clippy::too_many_arguments)]
    fn reply(
        family: u8,
        state: u8,
        port: u16,
        src: &[u8],
        remote_port: u16,
        dst: &[u8],
        inode: u32,
        seq: u32,
    ) -> Vec<u8> {
        let mut body = vec![family, state, 0, 0];
        body.extend_from_slice(&port.to_be_bytes());
        body.extend_from_slice(&remote_port.to_be_bytes());
        let mut a = [0u8; 16];
        a[..src.len()].copy_from_slice(src);
        body.extend_from_slice(&a);
        let mut b = [0u8; 16];
        b[..dst.len()].copy_from_slice(dst);
        body.extend_from_slice(&b);
        body.extend_from_slice(&[0u8; 12]); // interface, cookie
        body.extend_from_slice(&[0u8; 16]); // expires, rqueue, wqueue, uid
        body.extend_from_slice(&inode.to_ne_bytes());
        let mut msg = header(NLMSG_HEADER + body.len(), SOCK_DIAG_BY_FAMILY, seq);
        msg.extend_from_slice(&body);
        msg
    }

    fn done(seq: u32) -> Vec<u8> {
        let mut msg = header(NLMSG_HEADER + 4, NLMSG_DONE, seq);
        msg.extend_from_slice(&0i32.to_ne_bytes());
        msg
    }

    #[test]
    fn the_request_asks_for_one_family_protocol_and_state() {
        let req = request(Table::Tcp6, 7);
        assert_eq!(u32::from_ne_bytes(req[0..4].try_into().unwrap()), 72);
        assert_eq!(u16::from_ne_bytes(req[4..6].try_into().unwrap()), 20);
        assert_eq!(u16::from_ne_bytes(req[6..8].try_into().unwrap()), 0x301);
        assert_eq!(u32::from_ne_bytes(req[8..12].try_into().unwrap()), 7);
        assert_eq!(&req[16..18], &[AF_INET6, IPPROTO_TCP]);
        assert_eq!(u32::from_ne_bytes(req[20..24].try_into().unwrap()), 1 << 10);
        let udp = request(Table::Udp, 1);
        assert_eq!(&udp[16..18], &[AF_INET, IPPROTO_UDP]);
        assert_eq!(u32::from_ne_bytes(udp[20..24].try_into().unwrap()), 1 << 7);
    }

    #[test]
    fn replies_become_sockets_and_done_ends_the_dump() {
        let mut buf = reply(AF_INET, TCP_LISTEN, 22, &[0, 0, 0, 0], 0, &[], 1001, 1);
        buf.extend(reply(
            AF_INET,
            TCP_LISTEN,
            5432,
            &[127, 0, 0, 1],
            0,
            &[],
            1002,
            1,
        ));
        let parsed = parse(&buf, Table::Tcp, 1).unwrap();
        assert!(!parsed.done);
        assert_eq!(
            parsed.sockets,
            vec![
                RawSocket {
                    protocol: "tcp",
                    address: "0.0.0.0".parse().unwrap(),
                    port: 22,
                    inode: 1001
                },
                RawSocket {
                    protocol: "tcp",
                    address: "127.0.0.1".parse().unwrap(),
                    port: 5432,
                    inode: 1002
                },
            ]
        );
        let end = parse(&done(1), Table::Tcp, 1).unwrap();
        assert!(end.done && end.sockets.is_empty());
    }

    #[test]
    fn ipv6_addresses_are_read_as_bytes_in_network_order() {
        let loopback = Ipv6Addr::LOCALHOST.octets();
        let buf = reply(AF_INET6, TCP_LISTEN, 443, &loopback, 0, &[], 9, 3);
        let parsed = parse(&buf, Table::Tcp6, 3).unwrap();
        assert_eq!(parsed.sockets[0].address, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(parsed.sockets[0].port, 443);
    }

    #[test]
    fn connected_udp_sockets_and_other_states_are_not_listening() {
        let mut buf = reply(AF_INET, TCP_CLOSE, 53, &[0; 4], 0, &[0; 4], 1, 1);
        // Connected: a remote address and port.
        buf.extend(reply(
            AF_INET,
            TCP_CLOSE,
            40000,
            &[10, 0, 0, 5],
            53,
            &[10, 0, 0, 1],
            2,
            1,
        ));
        buf.extend(reply(
            AF_INET,
            1,
            40001,
            &[10, 0, 0, 5],
            53,
            &[10, 0, 0, 1],
            3,
            1,
        ));
        buf.extend(done(1));
        let parsed = parse(&buf, Table::Udp, 1).unwrap();
        assert!(parsed.done);
        assert_eq!(parsed.sockets.len(), 1);
        assert_eq!((parsed.sockets[0].port, parsed.sockets[0].inode), (53, 1));
    }

    #[test]
    fn malformed_replies_are_errors_not_panics() {
        let good = reply(AF_INET, TCP_LISTEN, 22, &[0; 4], 0, &[], 1, 1);
        // Every truncation of a good reply.
        for cut in 1..good.len() {
            let mut bad = good[..cut].to_vec();
            if cut >= 4 {
                // Keep the header's length honest about what is there.
                bad[0..4].copy_from_slice(&(cut as u32).to_ne_bytes());
            }
            assert!(parse(&bad, Table::Tcp, 1).is_err(), "cut at {cut}");
        }
        // A length past the buffer, and one below the header.
        let mut long = good.clone();
        long[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(
            parse(&long, Table::Tcp, 1)
                .unwrap_err()
                .contains("length 1000")
        );
        let mut short = good.clone();
        short[0..4].copy_from_slice(&8u32.to_ne_bytes());
        assert!(parse(&short, Table::Tcp, 1).is_err());
        // Another request's reply, another family, another message type.
        assert!(
            parse(&good, Table::Tcp, 2)
                .unwrap_err()
                .contains("expected 2")
        );
        assert!(
            parse(&good, Table::Tcp6, 1)
                .unwrap_err()
                .contains("family 2")
        );
        let mut odd = good.clone();
        odd[4..6].copy_from_slice(&99u16.to_ne_bytes());
        assert!(parse(&odd, Table::Tcp, 1).unwrap_err().contains("type 99"));
    }

    #[test]
    fn a_kernel_error_is_reported_with_its_errno() {
        let mut msg = header(NLMSG_HEADER + 4 + 16, NLMSG_ERROR, 1);
        msg.extend_from_slice(&(-2i32).to_ne_bytes()); // -ENOENT: no udp_diag module
        msg.extend_from_slice(&[0u8; 16]);
        let err = parse(&msg, Table::Udp, 1).unwrap_err();
        assert!(
            err.contains("refused") && err.contains("No such file"),
            "{err}"
        );
    }

    #[test]
    fn the_live_kernel_lists_a_listener_of_this_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        match dump(Table::Tcp) {
            Ok(sockets) => assert!(
                sockets
                    .iter()
                    .any(|s| s.port == port && s.address == IpAddr::V4(Ipv4Addr::LOCALHOST)),
                "port {port} not in {sockets:?}"
            ),
            // A kernel without inet_diag (or a sandbox refusing netlink) is not ours to
            // test; the collector falls back to /proc there.
            Err(err) => eprintln!("no sock_diag here: {err}"),
        }
    }
}
