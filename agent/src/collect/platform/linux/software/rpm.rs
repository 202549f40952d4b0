//! The RPM database (`rpmdb.sqlite`, rpm ≥ 4.16): installed packages.
//!
//! The database is opened read-only and `immutable`, so sqlite takes no lock and a
//! running `rpm`/`dnf` transaction is not disturbed (the price: a transaction still in
//! the write-ahead log is not seen until rpm checkpoints it, which it does on close).
//! Each row of the `Packages` table is an RPM header blob, parsed here. This module owns
//! the header format; it must not write to the database.
//!
//! Header blob layout (rpm's `headerExport`, all integers big-endian): `il` (u32,
//! number of index entries), `dl` (u32, data length), `il` entries of 16 bytes
//! (`tag`, `type`, `offset`, `count`, each i32/u32), then `dl` bytes of data.

use std::path::Path;

use chrono::{DateTime, Utc};
use estate_protocol::Package;
use rusqlite::{Connection, OpenFlags};

/// Source name of packages read from the RPM database.
pub const SOURCE: &str = "rpm";

/// Host paths of the sqlite RPM database, most common first (`/usr/lib/sysimage/rpm`
/// is where Fedora ≥ 36 and RHEL 10 keep it; `/var/lib/rpm` links there).
pub const SQLITE_PATHS: &[&str] = &[
    "/var/lib/rpm/rpmdb.sqlite",
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
];

/// Host paths of the Berkeley DB (rpm < 4.16: RHEL ≤ 8) and ndb (SUSE) databases,
/// which this agent does not read.
pub const OTHER_DB_PATHS: &[&str] = &[
    "/var/lib/rpm/Packages",
    "/var/lib/rpm/Packages.db",
    "/usr/lib/sysimage/rpm/Packages.db",
];

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_INSTALLTIME: u32 = 1008;
const TAG_SIZE: u32 = 1009;
const TAG_VENDOR: u32 = 1011;
const TAG_ARCH: u32 = 1022;
const TAG_LONGSIZE: u32 = 5009;

const TYPE_INT32: u32 = 4;
const TYPE_INT64: u32 = 5;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// Largest header blob accepted (rpm's own limit is 256 MiB; real ones are < 1 MiB).
const MAX_HEADER_BYTES: usize = 256 * 1024 * 1024;

/// What the database yielded: installed packages, and rows that could not be read.
#[derive(Debug, Default, PartialEq)]
pub struct RpmDb {
    /// Installed packages (gpg-pubkey pseudo-packages skipped), in database order.
    pub packages: Vec<Package>,
    /// Rows that could not be parsed, each naming the file and the row.
    pub problems: Vec<String>,
}

/// Reads every package of the sqlite database at `real_path` (the path on this
/// machine); `host_path` names it in messages.
pub fn read_sqlite(real_path: &Path, host_path: &str) -> Result<RpmDb, String> {
    let uri = format!(
        "file:{}?immutable=1",
        uri_escape(&real_path.to_string_lossy())
    );
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(&uri, flags)
        .map_err(|e| format!("{host_path}: cannot open the RPM database: {e}"))?;
    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .map_err(|e| format!("{host_path}: not an RPM database: {e}"))?;
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
        })
        .map_err(|e| format!("{host_path}: cannot read the Packages table: {e}"))?;
    let mut out = RpmDb::default();
    for row in rows {
        let (hnum, blob) =
            row.map_err(|e| format!("{host_path}: cannot read the Packages table: {e}"))?;
        match parse_header(&blob) {
            Ok(Some(package)) => out.packages.push(package),
            Ok(None) => {}
            Err(why) => out
                .problems
                .push(format!("{host_path}: package header #{hnum}: {why}")),
        }
    }
    Ok(out)
}

/// Escapes the characters that mean something in an sqlite URI path.
fn uri_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' | '?' | '#' | ' ' => out.push_str(&format!("%{:02X}", c as u32)),
            _ => out.push(c),
        }
    }
    out
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// One header, decoded just enough to read a few tags.
struct Header<'a> {
    index: &'a [u8],
    data: &'a [u8],
}

impl<'a> Header<'a> {
    fn new(blob: &'a [u8]) -> Result<Self, String> {
        let il = be32(blob, 0).ok_or("shorter than 8 bytes")? as usize;
        let dl = be32(blob, 4).ok_or("shorter than 8 bytes")? as usize;
        let index_len = il.checked_mul(16).ok_or("index too large")?;
        if index_len > MAX_HEADER_BYTES || dl > MAX_HEADER_BYTES {
            return Err(format!("implausible sizes (il {il}, dl {dl})"));
        }
        let need = 8 + index_len + dl;
        if blob.len() < need {
            return Err(format!(
                "truncated: {} bytes, the header says {need}",
                blob.len()
            ));
        }
        Ok(Header {
            index: &blob[8..8 + index_len],
            data: &blob[8 + index_len..need],
        })
    }

    /// (type, offset, count) of `tag`.
    fn entry(&self, tag: u32) -> Option<(u32, usize, usize)> {
        self.index
            .chunks_exact(16)
            .find(|e| be32(e, 0) == Some(tag))
            .and_then(|e| Some((be32(e, 4)?, be32(e, 8)? as usize, be32(e, 12)? as usize)))
    }

    fn string(&self, tag: u32) -> Result<Option<String>, String> {
        let Some((kind, offset, _)) = self.entry(tag) else {
            return Ok(None);
        };
        if !matches!(kind, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
            return Err(format!("tag {tag} has type {kind}, not a string"));
        }
        let rest = self
            .data
            .get(offset..)
            .ok_or_else(|| format!("tag {tag} points outside the data"))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| format!("tag {tag} is not NUL-terminated"))?;
        Ok(Some(String::from_utf8_lossy(&rest[..end]).into_owned()))
    }

    fn int(&self, tag: u32) -> Result<Option<u64>, String> {
        let Some((kind, offset, count)) = self.entry(tag) else {
            return Ok(None);
        };
        if count == 0 {
            return Ok(None);
        }
        let value = match kind {
            TYPE_INT32 => be32(self.data, offset).map(u64::from),
            TYPE_INT64 => {
                let high = be32(self.data, offset);
                let low = offset.checked_add(4).and_then(|at| be32(self.data, at));
                high.zip(low)
                    .map(|(h, l)| (u64::from(h) << 32) | u64::from(l))
            }
            _ => return Err(format!("tag {tag} has type {kind}, not an integer")),
        };
        value
            .map(Some)
            .ok_or_else(|| format!("tag {tag} points outside the data"))
    }
}

/// Decodes one header blob. `Ok(None)` for the `gpg-pubkey` pseudo-packages that
/// hold imported signing keys.
pub fn parse_header(blob: &[u8]) -> Result<Option<Package>, String> {
    let header = Header::new(blob)?;
    let name = header.string(TAG_NAME)?.ok_or("no NAME tag")?;
    if name == "gpg-pubkey" {
        return Ok(None);
    }
    let version = header.string(TAG_VERSION)?.ok_or("no VERSION tag")?;
    let release = header.string(TAG_RELEASE)?;
    let epoch = header.int(TAG_EPOCH)?;
    let mut full = String::new();
    if let Some(epoch) = epoch {
        full.push_str(&format!("{epoch}:"));
    }
    full.push_str(&version);
    if let Some(release) = release.filter(|r| !r.is_empty()) {
        full.push('-');
        full.push_str(&release);
    }
    let size = match header.int(TAG_LONGSIZE)? {
        Some(size) => Some(size),
        None => header.int(TAG_SIZE)?,
    };
    let install_time = header
        .int(TAG_INSTALLTIME)?
        .and_then(|secs| DateTime::<Utc>::from_timestamp(i64::try_from(secs).ok()?, 0));
    Ok(Some(Package {
        name,
        version: full,
        arch: header.string(TAG_ARCH)?.filter(|a| !a.is_empty()),
        source: SOURCE.to_owned(),
        installed_size_bytes: size,
        publisher: header.string(TAG_VENDOR)?.filter(|v| !v.is_empty()),
        install_time,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes a header the way rpm's `headerExport` does (test-only encoder, to
    /// build malformed variants; the fixture database holds rpm's own blobs).
    fn encode(entries: &[(u32, u32, Vec<u8>, u32)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, kind, bytes, count) in entries {
            if *kind == TYPE_INT32 {
                while data.len() % 4 != 0 {
                    data.push(0);
                }
            }
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&kind.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&count.to_be_bytes());
            data.extend_from_slice(bytes);
        }
        let mut blob = Vec::new();
        blob.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
        blob.extend_from_slice(&index);
        blob.extend_from_slice(&data);
        blob
    }

    fn s(text: &str) -> (Vec<u8>, u32) {
        let mut b = text.as_bytes().to_vec();
        b.push(0);
        (b, 1)
    }

    fn sample() -> Vec<u8> {
        let str_entry = |tag, text: &str| {
            let (b, c) = s(text);
            (tag, TYPE_STRING, b, c)
        };
        encode(&[
            str_entry(TAG_NAME, "openssl"),
            str_entry(TAG_VERSION, "3.0.7"),
            str_entry(TAG_RELEASE, "27.el9"),
            (TAG_EPOCH, TYPE_INT32, 1u32.to_be_bytes().to_vec(), 1),
            (
                TAG_INSTALLTIME,
                TYPE_INT32,
                1_717_000_000u32.to_be_bytes().to_vec(),
                1,
            ),
            (TAG_SIZE, TYPE_INT32, 1_234_567u32.to_be_bytes().to_vec(), 1),
            str_entry(TAG_VENDOR, "Rocky Enterprise Software Foundation"),
            str_entry(TAG_ARCH, "x86_64"),
        ])
    }

    #[test]
    fn a_header_decodes_to_a_package_with_epoch_version_release() {
        let package = parse_header(&sample()).unwrap().unwrap();
        assert_eq!(package.name, "openssl");
        assert_eq!(package.version, "1:3.0.7-27.el9");
        assert_eq!(package.arch.as_deref(), Some("x86_64"));
        assert_eq!(package.installed_size_bytes, Some(1_234_567));
        assert_eq!(
            package.publisher.as_deref(),
            Some("Rocky Enterprise Software Foundation")
        );
        assert_eq!(
            package.install_time.map(|t| t.timestamp()),
            Some(1_717_000_000)
        );
    }

    #[test]
    fn truncated_and_garbage_headers_are_errors_not_panics() {
        let blob = sample();
        for len in 0..blob.len() {
            assert!(parse_header(&blob[..len]).is_err(), "length {len}");
        }
        assert!(parse_header(&[0xff; 64]).is_err());
        let mut bad_offset = blob.clone();
        // First index entry's offset (NAME) pointing far outside the data.
        bad_offset[16..20].copy_from_slice(&0x00ff_ffffu32.to_be_bytes());
        assert_eq!(
            parse_header(&bad_offset).unwrap_err(),
            "tag 1000 points outside the data"
        );
    }

    #[test]
    fn gpg_pubkeys_are_skipped() {
        let (name, count) = s("gpg-pubkey");
        let blob = encode(&[(TAG_NAME, TYPE_STRING, name, count)]);
        assert_eq!(parse_header(&blob), Ok(None));
    }

    #[test]
    fn uri_special_characters_are_escaped() {
        assert_eq!(uri_escape("/tmp/a b?c#d%e"), "/tmp/a%20b%3Fc%23d%25e");
    }
}
