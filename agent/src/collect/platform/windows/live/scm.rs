//! The Service Control Manager: `EnumServicesStatusExW` for the Win32 services and their
//! run state, `QueryServiceConfigW`/`QueryServiceConfig2W` for start type, account and
//! delayed start. Needs no administrator rights.

#![allow(unsafe_code)]

use ::windows::Win32::Foundation::ERROR_MORE_DATA;
use ::windows::Win32::System::Services::{
    CloseServiceHandle, ENUM_SERVICE_STATUS_PROCESSW, EnumServicesStatusExW, OpenSCManagerW,
    OpenServiceW, QUERY_SERVICE_CONFIGW, QueryServiceConfig2W, QueryServiceConfigW,
    SC_ENUM_PROCESS_INFO, SC_HANDLE, SC_MANAGER_CONNECT, SC_MANAGER_ENUMERATE_SERVICE,
    SERVICE_CONFIG_DELAYED_AUTO_START_INFO, SERVICE_DELAYED_AUTO_START_INFO, SERVICE_QUERY_CONFIG,
    SERVICE_STATE_ALL, SERVICE_WIN32,
};
use ::windows::core::{PCWSTR, PWSTR};

use crate::collect::platform::windows::services::{Code, ScmService};
use crate::collect::platform::windows::source::SourceError;

const WHAT: &str = "Service Control Manager";

/// A service handle, closed on drop.
struct Handle(SC_HANDLE);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from OpenSCManagerW/OpenServiceW and is closed once.
        unsafe {
            let _ = CloseServiceHandle(self.0);
        }
    }
}

/// A NUL-terminated UTF-16 string, or `None` for a null pointer.
///
/// # Safety
/// `p` is null or points to a NUL-terminated UTF-16 string.
unsafe fn string(p: PWSTR) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    unsafe { p.to_string().ok() }
}

/// A byte buffer aligned for the structures the SCM writes into it.
fn aligned(bytes: usize) -> Vec<u64> {
    vec![0u64; bytes.div_ceil(8).max(1)]
}

fn as_bytes(buf: &mut [u64]) -> &mut [u8] {
    // SAFETY: u64 storage reinterpreted as bytes: same memory, alignment 1 ≤ 8, length
    // scaled by 8; the borrow keeps `buf` alive and exclusive.
    unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<u8>(), buf.len() * 8) }
}

/// Every Win32 service with its configuration.
pub fn services() -> Result<Vec<ScmService>, SourceError> {
    // SAFETY: null machine and database names mean the local SCM.
    let scm = unsafe {
        OpenSCManagerW(
            PCWSTR::null(),
            PCWSTR::null(),
            SC_MANAGER_CONNECT | SC_MANAGER_ENUMERATE_SERVICE,
        )
    }
    .map_err(|e| SourceError::failed(WHAT, format!("OpenSCManagerW: {e}")))?;
    let scm = Handle(scm);

    let mut out = Vec::new();
    let mut resume = 0u32;
    let mut buf = aligned(64 * 1024);
    loop {
        let mut needed = 0u32;
        let mut returned = 0u32;
        // SAFETY: the buffer is writable and 8-byte aligned; the out pointers are locals.
        let result = unsafe {
            EnumServicesStatusExW(
                scm.0,
                SC_ENUM_PROCESS_INFO,
                SERVICE_WIN32,
                SERVICE_STATE_ALL,
                Some(as_bytes(&mut buf)),
                &mut needed,
                &mut returned,
                Some(&mut resume),
                PCWSTR::null(),
            )
        };
        let more = match &result {
            Ok(()) => false,
            Err(e) if e.code() == ERROR_MORE_DATA.to_hresult() => true,
            Err(e) => {
                return Err(SourceError::failed(
                    WHAT,
                    format!("EnumServicesStatusExW: {e}"),
                ));
            }
        };
        let entries = buf.as_ptr().cast::<ENUM_SERVICE_STATUS_PROCESSW>();
        for i in 0..returned as usize {
            // SAFETY: the SCM wrote `returned` entries at the start of the buffer, with
            // their strings inside it; the buffer is not touched until they are copied.
            let entry = unsafe { &*entries.add(i) };
            // SAFETY: the entry's strings are NUL-terminated (see above).
            let (name, display) =
                unsafe { (string(entry.lpServiceName), string(entry.lpDisplayName)) };
            let Some(name) = name else { continue };
            let status = entry.ServiceStatusProcess;
            let config = config(&scm, &name);
            out.push(ScmService {
                display_name: display,
                state: Code::Number(status.dwCurrentState.0),
                start_mode: Code::Number(config.as_ref().map_or(u32::MAX, |c| c.0)),
                delayed_auto_start: config.as_ref().and_then(|c| c.2),
                start_name: config.and_then(|c| c.1),
                process_id: Some(status.dwProcessId),
                service_type: Some(Code::Number(status.dwServiceType.0)),
                exit_code: Some(status.dwWin32ExitCode),
                name,
            });
        }
        if !more {
            return Ok(out);
        }
        if needed as usize > buf.len() * 8 {
            buf = aligned(needed as usize);
        }
    }
}

/// (start type, account, delayed start) of one service; `None` when it cannot be opened
/// (it may have been deleted since the enumeration).
fn config(scm: &Handle, name: &str) -> Option<(u32, Option<String>, Option<bool>)> {
    let wide: Vec<u16> = name.encode_utf16().chain(std::iter::once(0)).collect();
    // SAFETY: `wide` is NUL-terminated and outlives the call.
    let service =
        unsafe { OpenServiceW(scm.0, PCWSTR(wide.as_ptr()), SERVICE_QUERY_CONFIG) }.ok()?;
    let service = Handle(service);
    let mut needed = 0u32;
    // SAFETY: a size query with no buffer.
    let _ = unsafe { QueryServiceConfigW(service.0, None, 0, &mut needed) };
    let mut buf = aligned(needed as usize);
    let size = u32::try_from(buf.len() * 8).ok()?;
    // SAFETY: the buffer holds `size` bytes, aligned for QUERY_SERVICE_CONFIGW.
    unsafe {
        QueryServiceConfigW(
            service.0,
            Some(buf.as_mut_ptr().cast::<QUERY_SERVICE_CONFIGW>()),
            size,
            &mut needed,
        )
    }
    .ok()?;
    // SAFETY: the call succeeded: the buffer starts with a QUERY_SERVICE_CONFIGW whose
    // strings point inside the buffer.
    let (start, account) = unsafe {
        let c = &*buf.as_ptr().cast::<QUERY_SERVICE_CONFIGW>();
        (c.dwStartType.0, string(c.lpServiceStartName))
    };
    let mut delayed = aligned(std::mem::size_of::<SERVICE_DELAYED_AUTO_START_INFO>());
    // SAFETY: the buffer is large enough and aligned for the structure.
    let delayed = unsafe {
        QueryServiceConfig2W(
            service.0,
            SERVICE_CONFIG_DELAYED_AUTO_START_INFO,
            Some(as_bytes(&mut delayed)),
            &mut needed,
        )
        .ok()
        .map(|()| {
            (*delayed.as_ptr().cast::<SERVICE_DELAYED_AUTO_START_INFO>())
                .fDelayedAutostart
                .as_bool()
        })
    };
    Some((start, account, delayed))
}
