//! Reads registry keys with `RegOpenKeyExW`/`RegEnumKeyExW`/`RegEnumValueW` (64-bit view)
//! into a [`Registry`] snapshot. Missing keys are absent; keys that cannot be opened for
//! another reason are named in the problems.

#![allow(unsafe_code)]

use ::windows::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, ERROR_MORE_DATA, ERROR_NO_MORE_ITEMS,
    ERROR_PATH_NOT_FOUND, ERROR_SUCCESS, WIN32_ERROR,
};
use ::windows::Win32::System::Registry::{
    HKEY, HKEY_LOCAL_MACHINE, HKEY_USERS, KEY_READ, KEY_WOW64_64KEY, RegCloseKey, RegEnumKeyExW,
    RegEnumValueW, RegOpenKeyExW, RegQueryInfoKeyW,
};
use ::windows::core::{PCWSTR, PWSTR};

use crate::collect::platform::windows::registry::{self, RegRead, Registry};
use crate::collect::platform::windows::source::RegistryRead;

/// An open key, closed on drop.
struct Key(HKEY);

impl Drop for Key {
    fn drop(&mut self) {
        // SAFETY: the handle came from RegOpenKeyExW and is closed once, here.
        unsafe {
            let _ = RegCloseKey(self.0);
        }
    }
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// Opens `sub` under a root key; `Ok(None)` when it does not exist.
fn open(root: HKEY, sub: &str) -> Result<Option<Key>, WIN32_ERROR> {
    let name = wide(sub);
    let mut key = HKEY::default();
    // SAFETY: `name` is NUL-terminated and outlives the call; `key` is a valid out pointer.
    let rc = unsafe {
        RegOpenKeyExW(
            root,
            PCWSTR(name.as_ptr()),
            None,
            KEY_READ | KEY_WOW64_64KEY,
            &mut key,
        )
    };
    match rc {
        ERROR_SUCCESS => Ok(Some(Key(key))),
        ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND => Ok(None),
        err => Err(err),
    }
}

/// The names of a key's subkeys.
fn subkeys(key: HKEY) -> Result<Vec<String>, WIN32_ERROR> {
    let mut names = Vec::new();
    let mut buf = vec![0u16; 256];
    let mut index = 0;
    loop {
        let mut len = buf.len() as u32;
        // SAFETY: `buf` holds `len` u16s; the optional pointers are None.
        let rc = unsafe {
            RegEnumKeyExW(
                key,
                index,
                Some(PWSTR(buf.as_mut_ptr())),
                &mut len,
                None,
                None,
                None,
                None,
            )
        };
        match rc {
            ERROR_SUCCESS => {
                names.push(String::from_utf16_lossy(&buf[..len as usize]));
                index += 1;
            }
            ERROR_MORE_DATA => buf.resize(buf.len() * 2, 0),
            ERROR_NO_MORE_ITEMS => return Ok(names),
            err => return Err(err),
        }
    }
}

/// Adds the key's values to the snapshot.
fn values(key: &Key, path: &str, out: &mut Registry) -> Result<(), WIN32_ERROR> {
    let mut max_name = 0u32;
    let mut max_data = 0u32;
    // SAFETY: out pointers to locals; the rest None.
    let rc = unsafe {
        RegQueryInfoKeyW(
            key.0,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            Some(&mut max_name),
            Some(&mut max_data),
            None,
            None,
        )
    };
    if rc != ERROR_SUCCESS {
        return Err(rc);
    }
    let mut name = vec![0u16; max_name as usize + 1];
    let mut data = vec![0u8; max_data as usize + 2];
    let mut index = 0;
    loop {
        let mut name_len = name.len() as u32;
        let mut data_len = data.len() as u32;
        let mut kind = 0u32;
        // SAFETY: `name` holds `name_len` u16s and `data` holds `data_len` bytes.
        let rc = unsafe {
            RegEnumValueW(
                key.0,
                index,
                Some(PWSTR(name.as_mut_ptr())),
                &mut name_len,
                None,
                Some(&mut kind),
                Some(data.as_mut_ptr()),
                Some(&mut data_len),
            )
        };
        match rc {
            ERROR_SUCCESS => {
                let value_name = String::from_utf16_lossy(&name[..name_len as usize]);
                let bytes = &data[..(data_len as usize).min(data.len())];
                out.set(path, &value_name, registry::value_from_raw(kind, bytes));
                index += 1;
            }
            // A value grew since RegQueryInfoKeyW: make room and ask again.
            ERROR_MORE_DATA => {
                name.resize(name.len().max(name_len as usize + 1) * 2, 0);
                data.resize(data.len().max(data_len as usize + 2) * 2, 0);
            }
            ERROR_NO_MORE_ITEMS => return Ok(()),
            err => return Err(err),
        }
    }
}

fn describe(err: WIN32_ERROR) -> String {
    if err == ERROR_ACCESS_DENIED {
        "access denied".to_owned()
    } else {
        format!("error {}", err.0)
    }
}

/// Reads `sub` (under the root named `root_name`) and `depth` levels below it.
fn read_key(root: HKEY, root_name: &str, sub: &str, depth: u8, out: &mut RegistryRead) {
    let full = format!(r"{root_name}\{sub}");
    let key = match open(root, sub) {
        Ok(Some(key)) => key,
        Ok(None) => return,
        Err(err) => {
            out.problems.push(format!("{full}: {}", describe(err)));
            return;
        }
    };
    out.registry.add_key(&full);
    if let Err(err) = values(&key, &full, &mut out.registry) {
        out.problems
            .push(format!("{full}: values: {}", describe(err)));
    }
    if depth == 0 {
        return;
    }
    match subkeys(key.0) {
        Ok(children) => {
            for child in children {
                read_key(root, root_name, &format!(r"{sub}\{child}"), depth - 1, out);
            }
        }
        Err(err) => out
            .problems
            .push(format!("{full}: subkeys: {}", describe(err))),
    }
}

/// Expands the first `*` of `components` (under `root`) into each existing subkey.
fn expand(root: HKEY, root_name: &str, components: &[String], depth: u8, out: &mut RegistryRead) {
    match components.iter().position(|c| c == "*") {
        None => read_key(root, root_name, &components.join("\\"), depth, out),
        Some(i) => {
            let parent = components[..i].join("\\");
            let children = if parent.is_empty() {
                // A predefined root is always open (and must not be closed).
                subkeys(root)
            } else {
                match open(root, &parent) {
                    Ok(Some(key)) => subkeys(key.0),
                    Ok(None) => return,
                    Err(err) => Err(err),
                }
            };
            match children {
                Ok(children) => {
                    for child in children {
                        let mut next = components.to_vec();
                        next[i] = child;
                        expand(root, root_name, &next, depth, out);
                    }
                }
                Err(err) => out
                    .problems
                    .push(format!(r"{root_name}\{parent}: subkeys: {}", describe(err))),
            }
        }
    }
}

/// Reads every key the reads select.
pub fn read(reads: &[RegRead]) -> RegistryRead {
    let mut out = RegistryRead::default();
    for r in reads {
        let components = r.components();
        let Some((root_name, rest)) = components.split_first() else {
            continue;
        };
        let root = match root_name.as_str() {
            registry::HKLM => HKEY_LOCAL_MACHINE,
            registry::HKU => HKEY_USERS,
            other => {
                out.problems
                    .push(format!("{other}: the agent reads only HKLM and HKU"));
                continue;
            }
        };
        expand(root, root_name, rest, r.depth, &mut out);
    }
    out
}
