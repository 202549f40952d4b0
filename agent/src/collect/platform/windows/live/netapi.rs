//! Local group members through NetAPI: the group's localised name from its well-known
//! SID (`LookupAccountSidW`), then `NetLocalGroupGetMembers` at level 2.

#![allow(unsafe_code)]

use ::windows::Win32::Foundation::{HLOCAL, LocalFree};
use ::windows::Win32::NetworkManagement::NetManagement::{
    LOCALGROUP_MEMBERS_INFO_2, MAX_PREFERRED_LENGTH, NetApiBufferFree, NetLocalGroupGetMembers,
};
use ::windows::Win32::Security::Authorization::{ConvertSidToStringSidW, ConvertStringSidToSidW};
use ::windows::Win32::Security::{LookupAccountSidW, PSID, SID_NAME_USE};
use ::windows::core::{PCWSTR, PWSTR};

use crate::collect::platform::windows::security::admins::GroupMember;
use crate::collect::platform::windows::source::SourceError;

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// The account name of a SID (`Administrators`, `Administratoren`, ...).
fn group_name(sid: &str, what: &str) -> Result<String, SourceError> {
    let text = wide(sid);
    let mut psid = PSID::default();
    // SAFETY: `text` is NUL-terminated; `psid` receives a LocalAlloc'd SID freed below.
    unsafe { ConvertStringSidToSidW(PCWSTR(text.as_ptr()), &mut psid) }
        .map_err(|e| SourceError::failed(what, format!("ConvertStringSidToSidW: {e}")))?;
    let mut name = vec![0u16; 256];
    let mut domain = vec![0u16; 256];
    let mut name_len = name.len() as u32;
    let mut domain_len = domain.len() as u32;
    let mut kind = SID_NAME_USE::default();
    // SAFETY: the buffers hold the lengths given; `psid` is valid until freed.
    let result = unsafe {
        LookupAccountSidW(
            PCWSTR::null(),
            psid,
            Some(PWSTR(name.as_mut_ptr())),
            &mut name_len,
            Some(PWSTR(domain.as_mut_ptr())),
            &mut domain_len,
            &mut kind,
        )
    };
    // SAFETY: `psid` was allocated by ConvertStringSidToSidW with LocalAlloc.
    unsafe {
        let _ = LocalFree(Some(HLOCAL(psid.0)));
    }
    result.map_err(|e| SourceError::failed(what, format!("LookupAccountSidW: {e}")))?;
    Ok(String::from_utf16_lossy(&name[..name_len as usize]))
}

/// The members of the local group with this SID.
pub fn members(sid: &str) -> Result<Vec<GroupMember>, SourceError> {
    let what = format!("NetLocalGroupGetMembers {sid}");
    let group = group_name(sid, &what)?;
    let group_w = wide(&group);
    let mut buf: *mut u8 = std::ptr::null_mut();
    let mut read = 0u32;
    let mut total = 0u32;
    // SAFETY: `group_w` is NUL-terminated; NetAPI allocates `buf`, freed below.
    let rc = unsafe {
        NetLocalGroupGetMembers(
            PCWSTR::null(),
            PCWSTR(group_w.as_ptr()),
            2,
            &mut buf,
            MAX_PREFERRED_LENGTH,
            &mut read,
            &mut total,
            None,
        )
    };
    if rc != 0 {
        if !buf.is_null() {
            // SAFETY: allocated by NetAPI.
            unsafe {
                NetApiBufferFree(Some(buf.cast()));
            }
        }
        return Err(match rc {
            5 => SourceError::AccessDenied { what },
            rc => SourceError::failed(what, format!("{group}: error {rc}")),
        });
    }
    let mut out = Vec::with_capacity(read as usize);
    let entries = buf.cast::<LOCALGROUP_MEMBERS_INFO_2>();
    for i in 0..read as usize {
        // SAFETY: NetAPI returned `read` entries in `buf`.
        let entry = unsafe { &*entries.add(i) };
        let mut sid_text = PWSTR::null();
        // SAFETY: the entry's SID is valid while `buf` is; the string is LocalFree'd.
        let member_sid = unsafe {
            match ConvertSidToStringSidW(entry.lgrmi2_sid, &mut sid_text) {
                Ok(()) => {
                    let s = sid_text.to_string().unwrap_or_default();
                    let _ = LocalFree(Some(HLOCAL(sid_text.0.cast())));
                    s
                }
                Err(_) => String::new(),
            }
        };
        // SAFETY: a NUL-terminated string inside `buf`.
        let name = unsafe { entry.lgrmi2_domainandname.to_string() }.unwrap_or_default();
        let object_class = match entry.lgrmi2_sidusage.0 {
            1 => "User",
            2 | 4 | 5 => "Group",
            _ => "Other",
        };
        out.push(GroupMember {
            name,
            sid: member_sid,
            object_class: Some(object_class.to_owned()),
            principal_source: None,
        });
    }
    // SAFETY: allocated by NetAPI; not used after this.
    unsafe {
        NetApiBufferFree(Some(buf.cast()));
    }
    Ok(out)
}
