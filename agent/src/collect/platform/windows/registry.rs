//! A snapshot of part of the Windows registry, and the `.reg` export format.
//!
//! The Windows collectors never talk to the registry themselves: they say which keys they
//! need ([`RegRead`]) and get a [`Registry`] snapshot holding those keys, read live on
//! Windows (`live::registry`) or from a recorded `.reg` export ([`parse_reg`]). This
//! module owns the snapshot (keys and value names are case-insensitive, as in Windows),
//! the key patterns and the `.reg` reader and writer. It does no I/O.
//!
//! `.reg` files are what `reg export` and regedit write: a `Windows Registry Editor
//! Version 5.00` header (UTF-16LE with a BOM from Windows; UTF-8 accepted), `[KEY]`
//! sections and `"name"=value` lines, where the value is a quoted string, `dword:` eight
//! hex digits, `hex:` bytes (REG_BINARY) or `hex(N):` bytes of type N (2 REG_EXPAND_SZ and
//! 7 REG_MULTI_SZ in UTF-16LE, b REG_QWORD little-endian), with `\` continuing a line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// `HKEY_LOCAL_MACHINE`.
pub const HKLM: &str = "HKEY_LOCAL_MACHINE";
/// `HKEY_USERS`: one subkey per loaded user hive (SID), plus `<SID>_Classes`.
pub const HKU: &str = "HKEY_USERS";

/// A registry value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegValue {
    /// REG_SZ.
    Sz(String),
    /// REG_EXPAND_SZ (environment references left unexpanded).
    ExpandSz(String),
    /// REG_MULTI_SZ.
    MultiSz(Vec<String>),
    /// REG_DWORD.
    Dword(u32),
    /// REG_QWORD.
    Qword(u64),
    /// REG_BINARY.
    Binary(Vec<u8>),
    /// Any other type (REG_NONE, REG_LINK, resource lists ...): its type number and bytes.
    Other {
        /// The REG_* type number.
        kind: u32,
        /// The raw data.
        data: Vec<u8>,
    },
}

impl RegValue {
    /// The value as a string (REG_SZ or REG_EXPAND_SZ).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            RegValue::Sz(s) | RegValue::ExpandSz(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a number: REG_DWORD, a REG_QWORD that fits, or a REG_SZ holding a
    /// decimal number (some installers and policies write numbers as strings).
    pub fn as_u32(&self) -> Option<u32> {
        match self {
            RegValue::Dword(v) => Some(*v),
            RegValue::Qword(v) => u32::try_from(*v).ok(),
            RegValue::Sz(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a 64-bit number (REG_QWORD, REG_DWORD, or 8 bytes of REG_BINARY
    /// such as the FILETIMEs Windows Defender keeps).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            RegValue::Qword(v) => Some(*v),
            RegValue::Dword(v) => Some(u64::from(*v)),
            RegValue::Binary(b) if b.len() == 8 => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(b);
                Some(u64::from_le_bytes(bytes))
            }
            _ => None,
        }
    }
}

/// One key of the snapshot: its path as written and its values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Key {
    path: String,
    /// Lower-cased value name -> (name as written, value). `""` is the default value.
    values: BTreeMap<String, (String, RegValue)>,
}

/// Keys read from the registry, addressed by full path (`HKEY_LOCAL_MACHINE\...`;
/// `HKLM\...` and `HKU\...` are accepted too). Lookups ignore case, as Windows does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    /// Normalised (lower-case, long root name) path -> key.
    keys: BTreeMap<String, Key>,
}

/// Expands a root abbreviation and trims separators: `HKLM\Software\` ->
/// `HKEY_LOCAL_MACHINE\Software`.
pub fn full_path(path: &str) -> String {
    let path = path.trim().trim_matches('\\');
    let (root, rest) = path.split_once('\\').unwrap_or((path, ""));
    let root = match root.to_ascii_uppercase().as_str() {
        "HKLM" => HKLM.to_owned(),
        "HKU" => HKU.to_owned(),
        "HKCU" => "HKEY_CURRENT_USER".to_owned(),
        "HKCR" => "HKEY_CLASSES_ROOT".to_owned(),
        _ => root.to_owned(),
    };
    if rest.is_empty() {
        root
    } else {
        format!("{root}\\{rest}")
    }
}

fn norm(path: &str) -> String {
    full_path(path).to_lowercase()
}

impl Registry {
    /// An empty snapshot.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds a key (and nothing else): records that it exists.
    pub fn add_key(&mut self, path: &str) {
        let path = full_path(path);
        self.keys.entry(path.to_lowercase()).or_insert_with(|| Key {
            path,
            values: BTreeMap::new(),
        });
    }

    /// Sets a value, creating its key.
    pub fn set(&mut self, path: &str, name: &str, value: RegValue) {
        let path = full_path(path);
        let key = self.keys.entry(path.to_lowercase()).or_insert_with(|| Key {
            path,
            values: BTreeMap::new(),
        });
        key.values
            .insert(name.to_lowercase(), (name.to_owned(), value));
    }

    /// Whether the key exists: it was read, or a key under it was.
    pub fn key_exists(&self, path: &str) -> bool {
        let n = norm(path);
        if self.keys.contains_key(&n) {
            return true;
        }
        let prefix = format!("{n}\\");
        self.keys
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix))
    }

    /// A value of a key.
    pub fn value(&self, path: &str, name: &str) -> Option<&RegValue> {
        self.keys
            .get(&norm(path))?
            .values
            .get(&name.to_lowercase())
            .map(|(_, v)| v)
    }

    /// A string value (REG_SZ or REG_EXPAND_SZ), trimmed; `None` when empty.
    pub fn string(&self, path: &str, name: &str) -> Option<&str> {
        self.value(path, name)
            .and_then(RegValue::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// A numeric value (see [`RegValue::as_u32`]).
    pub fn dword(&self, path: &str, name: &str) -> Option<u32> {
        self.value(path, name).and_then(RegValue::as_u32)
    }

    /// The values of a key, as (name as written, value), in name order.
    pub fn values(&self, path: &str) -> Vec<(&str, &RegValue)> {
        self.keys
            .get(&norm(path))
            .map(|k| k.values.values().map(|(n, v)| (n.as_str(), v)).collect())
            .unwrap_or_default()
    }

    /// The names of a key's direct subkeys (as written), sorted case-insensitively.
    pub fn subkeys(&self, path: &str) -> Vec<String> {
        let prefix = format!("{}\\", norm(path));
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for (k, key) in self.keys.range(prefix.clone()..) {
            if !k.starts_with(&prefix) {
                break;
            }
            let depth = prefix.matches('\\').count();
            if let Some(child) = key.path.split('\\').nth(depth) {
                names
                    .entry(child.to_lowercase())
                    .or_insert_with(|| child.to_owned());
            }
        }
        names.into_values().collect()
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys that `reads` select, with their values: what a live read of `reads` would
    /// have returned from the machine this snapshot was recorded on.
    pub fn subset(&self, reads: &[RegRead]) -> Registry {
        let mut out = Registry::new();
        for (n, key) in &self.keys {
            if reads.iter().any(|r| r.selects(n)) {
                out.keys.insert(n.clone(), key.clone());
            }
        }
        out
    }

    /// Merges another snapshot into this one (its values win).
    pub fn merge(&mut self, other: Registry) {
        for (n, key) in other.keys {
            let entry = self.keys.entry(n).or_insert_with(|| Key {
                path: key.path.clone(),
                values: BTreeMap::new(),
            });
            entry.values.extend(key.values);
        }
    }

    /// The snapshot as a `.reg` export (UTF-8 text; Windows writes UTF-16LE).
    pub fn to_reg(&self) -> String {
        let mut out = String::from("Windows Registry Editor Version 5.00\r\n");
        for key in self.keys.values() {
            let _ = write!(out, "\r\n[{}]\r\n", key.path);
            for (name, value) in key.values.values() {
                let name = if name.is_empty() {
                    "@".to_owned()
                } else {
                    format!("\"{}\"", escape(name))
                };
                let _ = write!(out, "{name}={}\r\n", format_value(value));
            }
        }
        out
    }
}

/// Which keys a collector needs: `path` (a `*` component matches any one subkey, as the
/// SIDs under `HKEY_USERS`), and `depth` levels of subkeys below it, each with its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegRead {
    /// The key, from its root (`HKEY_LOCAL_MACHINE\...`).
    pub path: &'static str,
    /// Levels of subkeys read below it (0: the key's own values only).
    pub depth: u8,
}

impl RegRead {
    /// The key itself and its values.
    pub const fn key(path: &'static str) -> Self {
        RegRead { path, depth: 0 }
    }

    /// The key and each of its subkeys with their values.
    pub const fn children(path: &'static str) -> Self {
        RegRead { path, depth: 1 }
    }

    /// The pattern's components, the root spelled out.
    pub fn components(&self) -> Vec<String> {
        full_path(self.path)
            .split('\\')
            .map(str::to_owned)
            .collect()
    }

    /// Whether the normalised key path `n` is one this read returns.
    fn selects(&self, n: &str) -> bool {
        let pattern = norm(self.path);
        let want: Vec<&str> = pattern.split('\\').collect();
        let have: Vec<&str> = n.split('\\').collect();
        if have.len() < want.len() || have.len() > want.len() + usize::from(self.depth) {
            return false;
        }
        want.iter().zip(&have).all(|(w, h)| *w == "*" || w == h)
    }
}

/// Why a `.reg` file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RegParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong there.
    pub message: String,
}

/// Decodes a `.reg` file's bytes: UTF-16LE with a BOM (as Windows writes), or UTF-8.
pub fn decode_reg_bytes(bytes: &[u8]) -> Result<String, RegParseError> {
    let err = |message: &str| RegParseError {
        line: 1,
        message: message.to_owned(),
    };
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        if !rest.len().is_multiple_of(2) {
            return Err(err("UTF-16 text with an odd number of bytes"));
        }
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16(&units).map_err(|_| err("invalid UTF-16"));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    String::from_utf8(bytes.to_vec()).map_err(|_| err("neither UTF-16LE with a BOM nor UTF-8"))
}

/// Parses a `.reg` export into a snapshot. Deletions (`[-KEY]`, `"name"=-`) are refused:
/// a recording holds what is there, not changes.
pub fn parse_reg(text: &str) -> Result<Registry, RegParseError> {
    let mut registry = Registry::new();
    let mut lines = text.lines().enumerate().peekable();
    let mut current: Option<String> = None;
    let mut header_seen = false;
    while let Some((index, raw)) = lines.next() {
        let line_no = index + 1;
        let err = |message: String| RegParseError {
            line: line_no,
            message,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        if !header_seen {
            if line == "Windows Registry Editor Version 5.00" || line == "REGEDIT4" {
                header_seen = true;
                continue;
            }
            return Err(err(format!(
                "expected the header `Windows Registry Editor Version 5.00`, found `{line}`"
            )));
        }
        if let Some(inner) = line.strip_prefix('[') {
            let Some(path) = inner.strip_suffix(']') else {
                return Err(err(format!("unterminated key line `{line}`")));
            };
            if path.starts_with('-') {
                return Err(err(format!("key deletion `{line}` in a recording")));
            }
            registry.add_key(path);
            current = Some(path.to_owned());
            continue;
        }
        let Some(key) = current.clone() else {
            return Err(err("a value before any [KEY] line".to_owned()));
        };
        // Join continuation lines (a trailing backslash outside a string).
        let mut logical = line.to_owned();
        while logical.ends_with('\\') && !in_string_at_end(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim()),
                None => return Err(err("a continued line at the end of the file".to_owned())),
            }
        }
        let (name, rest) = split_name(&logical).map_err(err)?;
        let value = parse_value(rest.trim()).map_err(err)?;
        registry.set(&key, &name, value);
    }
    if !header_seen {
        return Err(RegParseError {
            line: 1,
            message: "empty file: no `Windows Registry Editor Version 5.00` header".to_owned(),
        });
    }
    Ok(registry)
}

/// Whether a line ends inside an open string (so its trailing `\` is not a continuation).
fn in_string_at_end(line: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    for c in line.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' && in_string {
            escaped = true;
        } else if c == '"' {
            in_string = !in_string;
        }
    }
    in_string || escaped
}

/// Splits `"name"=value` or `@=value` into the unescaped name and the value text.
fn split_name(line: &str) -> Result<(String, &str), String> {
    if let Some(rest) = line.strip_prefix('@') {
        let rest = rest.trim_start();
        return rest
            .strip_prefix('=')
            .map(|v| (String::new(), v))
            .ok_or_else(|| format!("expected `=` after `@` in `{line}`"));
    }
    let Some(rest) = line.strip_prefix('"') else {
        return Err(format!(
            "expected `\"name\"=value` or `@=value`, found `{line}`"
        ));
    };
    let (name, after) =
        read_quoted(rest).ok_or_else(|| format!("unterminated name in `{line}`"))?;
    let after = after.trim_start();
    let value = after
        .strip_prefix('=')
        .ok_or_else(|| format!("expected `=` after the name in `{line}`"))?;
    Ok((name, value))
}

/// Reads a string whose opening quote is already consumed: (unescaped, rest after the
/// closing quote).
fn read_quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, next)) => out.push(next),
                None => return None,
            },
            '"' => return Some((out, &s[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

fn parse_value(text: &str) -> Result<RegValue, String> {
    if text == "-" {
        return Err("value deletion (`=-`) in a recording".to_owned());
    }
    if let Some(rest) = text.strip_prefix('"') {
        let (s, after) =
            read_quoted(rest).ok_or_else(|| format!("unterminated string `{text}`"))?;
        if !after.trim().is_empty() {
            return Err(format!("text after the closing quote in `{text}`"));
        }
        return Ok(RegValue::Sz(s));
    }
    if let Some(hex) = text.strip_prefix("dword:") {
        let hex = hex.trim();
        if hex.is_empty() || hex.len() > 8 {
            return Err(format!("`dword:` needs up to 8 hex digits, found `{hex}`"));
        }
        return u32::from_str_radix(hex, 16)
            .map(RegValue::Dword)
            .map_err(|_| format!("`dword:{hex}` is not hexadecimal"));
    }
    let (kind, bytes) = if let Some(rest) = text.strip_prefix("hex:") {
        (3, rest)
    } else if let Some(rest) = text.strip_prefix("hex(") {
        let (kind, rest) = rest
            .split_once("):")
            .ok_or_else(|| format!("expected `hex(N):` in `{text}`"))?;
        let kind = u32::from_str_radix(kind.trim(), 16)
            .map_err(|_| format!("`hex({kind})` is not a hexadecimal type"))?;
        (kind, rest)
    } else {
        return Err(format!(
            "unrecognised value `{text}` (expected a string, dword:, hex: or hex(N):)"
        ));
    };
    let data = parse_hex_bytes(bytes)?;
    Ok(match kind {
        1 => RegValue::Sz(utf16_strings(&data)?.into_iter().next().unwrap_or_default()),
        2 => RegValue::ExpandSz(utf16_strings(&data)?.into_iter().next().unwrap_or_default()),
        3 => RegValue::Binary(data),
        4 if data.len() == 4 => {
            RegValue::Dword(u32::from_le_bytes([data[0], data[1], data[2], data[3]]))
        }
        7 => RegValue::MultiSz(utf16_strings(&data)?),
        0xb if data.len() == 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&data);
            RegValue::Qword(u64::from_le_bytes(b))
        }
        4 | 0xb => return Err(format!("hex({kind:x}) with {} bytes", data.len())),
        kind => RegValue::Other { kind, data },
    })
}

/// A value as `RegEnumValueW`/`RegQueryValueExW` return it: the `REG_*` type and the
/// raw bytes. Strings lose their terminating NULs; a string with an odd number of bytes
/// (an installer's mistake) loses its last byte, a malformed one is kept as raw data.
pub fn value_from_raw(kind: u32, data: &[u8]) -> RegValue {
    let strings = |data: &[u8]| utf16_strings(&data[..data.len() - data.len() % 2]);
    match kind {
        1 | 2 => match strings(data) {
            Ok(list) => {
                let s = list.into_iter().next().unwrap_or_default();
                if kind == 1 {
                    RegValue::Sz(s)
                } else {
                    RegValue::ExpandSz(s)
                }
            }
            Err(_) => RegValue::Other {
                kind,
                data: data.to_vec(),
            },
        },
        7 => match strings(data) {
            Ok(list) => RegValue::MultiSz(list),
            Err(_) => RegValue::Other {
                kind,
                data: data.to_vec(),
            },
        },
        3 => RegValue::Binary(data.to_vec()),
        4 if data.len() == 4 => {
            RegValue::Dword(u32::from_le_bytes([data[0], data[1], data[2], data[3]]))
        }
        0xb if data.len() == 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(data);
            RegValue::Qword(u64::from_le_bytes(b))
        }
        kind => RegValue::Other {
            kind,
            data: data.to_vec(),
        },
    }
}

fn parse_hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(|b| u8::from_str_radix(b, 16).map_err(|_| format!("`{b}` is not a hex byte")))
        .collect()
}

/// UTF-16LE data as NUL-separated strings (the final empty ones dropped).
fn utf16_strings(data: &[u8]) -> Result<Vec<String>, String> {
    if !data.len().is_multiple_of(2) {
        return Err("UTF-16 data with an odd number of bytes".to_owned());
    }
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let mut out = Vec::new();
    for part in units.split(|u| *u == 0) {
        out.push(String::from_utf16(part).map_err(|_| "invalid UTF-16 string".to_owned())?);
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    Ok(out)
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn hex_list(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn utf16_bytes(strings: &[&str], terminators: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for s in strings {
        for u in s.encode_utf16() {
            out.extend_from_slice(&u.to_le_bytes());
        }
        out.extend_from_slice(&[0, 0]);
    }
    for _ in 1..terminators {
        out.extend_from_slice(&[0, 0]);
    }
    out
}

fn format_value(value: &RegValue) -> String {
    match value {
        RegValue::Sz(s) => format!("\"{}\"", escape(s)),
        RegValue::ExpandSz(s) => format!("hex(2):{}", hex_list(&utf16_bytes(&[s], 1))),
        RegValue::MultiSz(v) => {
            let strs: Vec<&str> = v.iter().map(String::as_str).collect();
            format!("hex(7):{}", hex_list(&utf16_bytes(&strs, 2)))
        }
        RegValue::Dword(v) => format!("dword:{v:08x}"),
        RegValue::Qword(v) => format!("hex(b):{}", hex_list(&v.to_le_bytes())),
        RegValue::Binary(b) => format!("hex:{}", hex_list(b)),
        RegValue::Other { kind, data } => format!("hex({kind:x}):{}", hex_list(data)),
    }
}

/// The UTF-16LE bytes Windows would write for `text` (with a BOM), for tests and
/// recordings that want a byte-exact `.reg` file.
pub fn encode_utf16_reg(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"ProductName"="Windows 10 Pro"
"CurrentBuild"="19045"
"UBR"=dword:00000ecb
"InstallTime"=hex(b):b0,6c,fb,3b,6c,3c,d9,01
"PathName"=hex(2):43,00,3a,00,5c,00,57,00,69,00,6e,00,64,00,6f,00,77,00,73,00,\
  00,00
@="default \"quoted\" C:\\path"

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Session Manager]
"PendingFileRenameOperations"=hex(7):5c,00,3f,00,3f,00,5c,00,43,00,3a,00,5c,00,\
  61,00,00,00,00,00,00,00
"Blob"=hex:01,02,ff

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending]
"#;

    #[test]
    fn reads_every_value_type_and_continuations() {
        let reg = parse_reg(SAMPLE).unwrap();
        let cv = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion";
        assert_eq!(reg.string(cv, "productname"), Some("Windows 10 Pro"));
        assert_eq!(reg.dword(cv, "UBR"), Some(3787));
        assert_eq!(
            reg.value(cv, "InstallTime").and_then(RegValue::as_u64),
            Some(0x01d9_3c6c_3bfb_6cb0)
        );
        assert_eq!(
            reg.value(cv, "PathName"),
            Some(&RegValue::ExpandSz("C:\\Windows".to_owned()))
        );
        assert_eq!(reg.string(cv, ""), Some("default \"quoted\" C:\\path"));
        let sm = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Session Manager";
        assert_eq!(
            reg.value(sm, "PendingFileRenameOperations"),
            // The empty destination of the pair ("delete") is indistinguishable from the
            // list's terminator: trailing empty strings are dropped.
            Some(&RegValue::MultiSz(vec![r"\??\C:\a".to_owned()]))
        );
        assert_eq!(
            reg.value(sm, "blob"),
            Some(&RegValue::Binary(vec![1, 2, 255]))
        );
        assert!(reg.key_exists(
            r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending"
        ));
        // Parents of read keys exist; siblings do not.
        assert!(reg.key_exists(r"HKLM\SOFTWARE\Microsoft"));
        assert!(!reg.key_exists(r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate"));
        assert_eq!(
            reg.subkeys(r"hklm\software\microsoft"),
            vec!["Windows".to_owned(), "Windows NT".to_owned()]
        );
    }

    #[test]
    fn utf16_exports_as_windows_writes_them_are_decoded() {
        let bytes = encode_utf16_reg(SAMPLE);
        let text = decode_reg_bytes(&bytes).unwrap();
        assert_eq!(parse_reg(&text).unwrap(), parse_reg(SAMPLE).unwrap());
    }

    #[test]
    fn writing_and_reading_back_gives_the_same_snapshot() {
        let reg = parse_reg(SAMPLE).unwrap();
        let again = parse_reg(&reg.to_reg()).unwrap();
        assert_eq!(again, reg);
    }

    #[test]
    fn errors_name_the_line() {
        let bad = "Windows Registry Editor Version 5.00\n\n[HKLM\\X]\n\"a\"=dword:xyz\n";
        let err = parse_reg(bad).unwrap_err();
        assert_eq!(err.line, 4);
        assert!(err.message.contains("dword:xyz"), "{err}");
        assert_eq!(parse_reg("[HKLM\\X]\n").unwrap_err().line, 1);
        assert!(
            parse_reg("Windows Registry Editor Version 5.00\n\"a\"=\"b\"\n")
                .unwrap_err()
                .message
                .contains("before any [KEY]")
        );
        assert!(
            parse_reg("Windows Registry Editor Version 5.00\n[-HKLM\\X]\n")
                .unwrap_err()
                .message
                .contains("deletion")
        );
    }

    #[test]
    fn raw_values_as_the_registry_api_returns_them() {
        let sz: Vec<u8> = "Dell Inc.\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(value_from_raw(1, &sz), RegValue::Sz("Dell Inc.".into()));
        // No terminating NUL, and a stray odd byte.
        let mut odd: Vec<u8> = "7-Zip".encode_utf16().flat_map(u16::to_le_bytes).collect();
        odd.push(0);
        assert_eq!(value_from_raw(1, &odd), RegValue::Sz("7-Zip".into()));
        let multi: Vec<u8> = "a\0bc\0\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(
            value_from_raw(7, &multi),
            RegValue::MultiSz(vec!["a".into(), "bc".into()])
        );
        assert_eq!(
            value_from_raw(4, &[0xdb, 0x0e, 0, 0]),
            RegValue::Dword(3803)
        );
        assert_eq!(value_from_raw(0xb, &7u64.to_le_bytes()), RegValue::Qword(7));
        assert_eq!(value_from_raw(3, &[1, 2]), RegValue::Binary(vec![1, 2]));
        // A DWORD of the wrong size is kept raw rather than guessed.
        assert_eq!(
            value_from_raw(4, &[1, 2]),
            RegValue::Other {
                kind: 4,
                data: vec![1, 2]
            }
        );
        assert_eq!(value_from_raw(1, &[]), RegValue::Sz(String::new()));
    }

    #[test]
    fn reads_select_keys_by_pattern_and_depth() {
        let mut reg = Registry::new();
        let uninstall = r"Software\Microsoft\Windows\CurrentVersion\Uninstall";
        reg.set(
            &format!(r"HKU\S-1-5-21-1\{uninstall}\Zoom"),
            "DisplayName",
            RegValue::Sz("Zoom".into()),
        );
        reg.set(
            &format!(r"HKU\S-1-5-21-1\{uninstall}\Zoom\Deeper"),
            "X",
            RegValue::Dword(1),
        );
        reg.set(
            &format!(r"HKU\S-1-5-21-2\{uninstall}\Slack"),
            "DisplayName",
            RegValue::Sz("Slack".into()),
        );
        reg.set(r"HKU\S-1-5-21-2\Software\Other", "Y", RegValue::Dword(1));
        let read = [RegRead::children(
            r"HKEY_USERS\*\Software\Microsoft\Windows\CurrentVersion\Uninstall",
        )];
        let sub = reg.subset(&read);
        assert_eq!(sub.len(), 2);
        assert_eq!(
            sub.subkeys("HKU"),
            vec!["S-1-5-21-1".to_owned(), "S-1-5-21-2".to_owned()]
        );
        assert!(!sub.key_exists(&format!(r"HKU\S-1-5-21-1\{uninstall}\Zoom\Deeper")));
        assert!(!sub.key_exists(r"HKU\S-1-5-21-2\Software\Other"));
    }
}
