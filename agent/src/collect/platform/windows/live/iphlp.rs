//! The TCP and UDP endpoint tables from the IP helper API (`GetExtendedTcpTable`,
//! `GetExtendedUdpTable`), rows copied as the API fills them.

#![allow(unsafe_code)]

use ::windows::Win32::Foundation::{ERROR_INSUFFICIENT_BUFFER, NO_ERROR};
use ::windows::Win32::NetworkManagement::IpHelper::{
    GetExtendedTcpTable, GetExtendedUdpTable, MIB_TCP6ROW_OWNER_PID, MIB_TCPROW_OWNER_PID,
    MIB_UDP6ROW_OWNER_PID, MIB_UDPROW_OWNER_PID, TCP_TABLE_OWNER_PID_ALL, UDP_TABLE_OWNER_PID,
};
use ::windows::Win32::Networking::WinSock::{AF_INET, AF_INET6};

use crate::collect::platform::windows::ports::{SocketTables, Tcp6Row, TcpRow, Udp6Row, UdpRow};
use crate::collect::platform::windows::source::SourceError;

const WHAT: &str = "GetExtendedTcpTable/GetExtendedUdpTable";

/// Fills a table with `call(buffer, size)`, growing the buffer while the API asks for
/// more, and returns its rows.
fn table<Row: Copy>(
    name: &str,
    call: impl Fn(*mut core::ffi::c_void, &mut u32) -> u32,
) -> Result<Vec<Row>, SourceError> {
    let mut size = 16 * 1024u32;
    for _ in 0..4 {
        // u32 storage: the tables are arrays of DWORD-aligned rows after a DWORD count.
        let mut buf = vec![0u32; (size as usize).div_ceil(4)];
        let rc = call(buf.as_mut_ptr().cast(), &mut size);
        if rc == ERROR_INSUFFICIENT_BUFFER.0 {
            continue;
        }
        if rc != NO_ERROR.0 {
            return Err(SourceError::failed(WHAT, format!("{name}: error {rc}")));
        }
        let count = buf[0] as usize;
        let room = (buf.len() * 4 - 4) / std::mem::size_of::<Row>();
        if count > room {
            return Err(SourceError::failed(
                WHAT,
                format!("{name}: {count} rows announced in a buffer for {room}"),
            ));
        }
        let rows = buf[1..].as_ptr().cast::<Row>();
        // SAFETY: the API wrote `count` rows after the count, within the buffer (checked
        // above); the rows are plain data and read unaligned-safe.
        return Ok((0..count)
            .map(|i| unsafe { std::ptr::read_unaligned(rows.add(i)) })
            .collect());
    }
    Err(SourceError::failed(
        WHAT,
        format!("{name}: the table kept growing"),
    ))
}

/// The four tables.
pub fn sockets() -> Result<SocketTables, SourceError> {
    let tcp = |af: u16| {
        move |buf: *mut core::ffi::c_void, size: &mut u32| {
            // SAFETY: `buf` holds `size` writable bytes.
            unsafe {
                GetExtendedTcpTable(
                    Some(buf),
                    size,
                    false,
                    u32::from(af),
                    TCP_TABLE_OWNER_PID_ALL,
                    0,
                )
            }
        }
    };
    let udp = |af: u16| {
        move |buf: *mut core::ffi::c_void, size: &mut u32| {
            // SAFETY: `buf` holds `size` writable bytes.
            unsafe {
                GetExtendedUdpTable(
                    Some(buf),
                    size,
                    false,
                    u32::from(af),
                    UDP_TABLE_OWNER_PID,
                    0,
                )
            }
        }
    };
    let tcp4: Vec<MIB_TCPROW_OWNER_PID> = table("TCP/IPv4", tcp(AF_INET.0))?;
    let udp4: Vec<MIB_UDPROW_OWNER_PID> = table("UDP/IPv4", udp(AF_INET.0))?;
    // IPv6 may be unbound from every adapter: an error there leaves the v6 tables empty.
    let tcp6: Vec<MIB_TCP6ROW_OWNER_PID> = table("TCP/IPv6", tcp(AF_INET6.0)).unwrap_or_default();
    let udp6: Vec<MIB_UDP6ROW_OWNER_PID> = table("UDP/IPv6", udp(AF_INET6.0)).unwrap_or_default();
    Ok(SocketTables {
        tcp: tcp4
            .iter()
            .map(|r| TcpRow {
                state: r.dwState,
                local_addr: r.dwLocalAddr,
                local_port: r.dwLocalPort,
                pid: r.dwOwningPid,
            })
            .collect(),
        tcp6: tcp6
            .iter()
            .map(|r| Tcp6Row {
                state: r.dwState,
                local_addr: r.ucLocalAddr,
                local_port: r.dwLocalPort,
                pid: r.dwOwningPid,
            })
            .collect(),
        udp: udp4
            .iter()
            .map(|r| UdpRow {
                local_addr: r.dwLocalAddr,
                local_port: r.dwLocalPort,
                pid: r.dwOwningPid,
            })
            .collect(),
        udp6: udp6
            .iter()
            .map(|r| Udp6Row {
                local_addr: r.ucLocalAddr,
                local_port: r.dwLocalPort,
                pid: r.dwOwningPid,
            })
            .collect(),
    })
}
