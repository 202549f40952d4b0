//! The bounded on-disk spool: reports waiting for the collector's acknowledgement.
//!
//! One file per report holding exactly the bytes to send (gzip-compressed JSON), named
//! `<sequence, 20 digits>-<report_id>.json.gz` so that name order is creation order. A
//! file is written under a temporary name, `fsync`ed, renamed and the directory
//! `fsync`ed, so a crash leaves either a complete report or a temporary file that the
//! next start removes. Past `max_bytes` the oldest reports are dropped (counted and
//! logged). Files that cannot be read as gzip, and reports the collector rejects for
//! good, are moved to `rejected/` (itself bounded). This module owns those files; it
//! must not build reports or talk to the network.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use uuid::Uuid;

/// Prefix of files still being written; removed on start.
pub const TEMP_PREFIX: &str = ".tmp-";
/// Suffix of a complete spooled report.
pub const SUFFIX: &str = ".json.gz";
/// Subdirectory for reports that can never be accepted and unreadable files.
pub const REJECTED_DIR: &str = "rejected";
/// Most files kept in `rejected/`; the oldest go first past it.
pub const MAX_REJECTED_FILES: usize = 100;

/// A spool operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file or directory operation failed.
    #[error("spool {path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The report alone is bigger than the spool's limit.
    #[error("report of {len} bytes does not fit a spool of {max_bytes} bytes")]
    TooLarge {
        /// The report's size.
        len: u64,
        /// The spool's limit.
        max_bytes: u64,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One complete report in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in creation order.
    pub seq: u64,
    /// The report's id, as the collector acknowledges it.
    pub report_id: Uuid,
    /// Size of the file, bytes.
    pub len: u64,
    /// The file.
    pub path: PathBuf,
}

/// What [`Spool::push`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pushed {
    /// The report written.
    pub entry: Option<Entry>,
    /// Older reports dropped to make room.
    pub dropped: Vec<Uuid>,
}

/// The spool directory and what is in it, oldest first.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    entries: VecDeque<Entry>,
    total_bytes: u64,
    next_seq: u64,
    dropped_total: u64,
    rejected_total: u64,
    /// The report being sent now: dropped for space only when nothing else is left.
    in_flight: Option<u64>,
}

impl Spool {
    /// Opens (creating it if needed) the spool in `dir`: removes temporary files left by
    /// a crash, quarantines files that are not complete gzip reports, and indexes the
    /// rest in creation order.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let rejected = dir.join(REJECTED_DIR);
        fs::create_dir_all(&rejected).map_err(io_err(&rejected))?;
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            entries: VecDeque::new(),
            total_bytes: 0,
            next_seq: 1,
            dropped_total: 0,
            rejected_total: 0,
            in_flight: None,
        };
        let mut found = Vec::new();
        for item in fs::read_dir(dir).map_err(io_err(dir))? {
            let item = item.map_err(io_err(dir))?;
            let path = item.path();
            let name = item.file_name().to_string_lossy().into_owned();
            let is_file = item.file_type().map(|t| t.is_file()).unwrap_or(false);
            if !is_file {
                continue;
            }
            if name.starts_with(TEMP_PREFIX) {
                tracing::warn!(file = %path.display(), "removing a partly written report left by a crash");
                fs::remove_file(&path).map_err(io_err(&path))?;
                continue;
            }
            let parsed = parse_name(&name);
            let valid = parsed.is_some() && fs::read(&path).is_ok_and(|bytes| is_gzip(&bytes));
            match parsed {
                Some((seq, report_id)) if valid => {
                    let len = item.metadata().map_err(io_err(&path))?.len();
                    found.push(Entry {
                        seq,
                        report_id,
                        len,
                        path,
                    });
                }
                _ => {
                    tracing::warn!(file = %path.display(), "quarantining an unreadable spool file");
                    spool.move_to_rejected(&path, &name)?;
                }
            }
        }
        found.sort_by_key(|e| e.seq);
        spool.next_seq = found.last().map_or(1, |e| e.seq + 1);
        spool.total_bytes = found.iter().map(|e| e.len).sum();
        spool.entries = found.into();
        sync_dir(dir)?;
        Ok(spool)
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reports waiting, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// Number of reports waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no report is waiting.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of reports waiting.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Reports dropped because the spool was full, since it was opened.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }

    /// Reports moved to `rejected/`, since it was opened.
    pub fn rejected_total(&self) -> u64 {
        self.rejected_total
    }

    /// Marks the report being sent (`None`: none). Making room skips it while any other
    /// report can go, so a report is not both dropped and then delivered.
    pub fn set_in_flight(&mut self, seq: Option<u64>) {
        self.in_flight = seq;
    }

    /// The oldest report waiting.
    pub fn oldest(&self) -> Option<&Entry> {
        self.entries.front()
    }

    /// Writes one report durably, dropping the oldest reports first when it would not
    /// fit under `max_bytes` otherwise.
    pub fn push(&mut self, report_id: Uuid, bytes: &[u8]) -> Result<Pushed, SpoolError> {
        let len = bytes.len() as u64;
        if len > self.max_bytes {
            return Err(SpoolError::TooLarge {
                len,
                max_bytes: self.max_bytes,
            });
        }
        let mut pushed = Pushed::default();
        while self.total_bytes + len > self.max_bytes {
            let victim = self
                .entries
                .iter()
                .position(|e| Some(e.seq) != self.in_flight)
                .unwrap_or(0);
            let Some(oldest) = self.entries.remove(victim) else {
                break;
            };
            self.total_bytes -= oldest.len;
            self.dropped_total += 1;
            tracing::warn!(
                report_id = %oldest.report_id,
                dropped_total = self.dropped_total,
                max_bytes = self.max_bytes,
                "spool full: dropping the oldest report"
            );
            remove_if_present(&oldest.path)?;
            pushed.dropped.push(oldest.report_id);
        }
        let seq = self.next_seq;
        let name = format!("{seq:020}-{report_id}{SUFFIX}");
        let temp = self.dir.join(format!("{TEMP_PREFIX}{name}"));
        let path = self.dir.join(&name);
        write_durably(&temp, bytes)?;
        fs::rename(&temp, &path).map_err(io_err(&path))?;
        sync_dir(&self.dir)?;
        self.next_seq += 1;
        let entry = Entry {
            seq,
            report_id,
            len,
            path,
        };
        self.total_bytes += len;
        self.entries.push_back(entry.clone());
        pushed.entry = Some(entry);
        Ok(pushed)
    }

    /// Reads a report's bytes. An unreadable or corrupt file is quarantined and `None`
    /// returned.
    pub fn read(&mut self, entry: &Entry) -> Result<Option<Vec<u8>>, SpoolError> {
        match fs::read(&entry.path) {
            Ok(bytes) if is_gzip(&bytes) => Ok(Some(bytes)),
            Ok(_) => {
                tracing::warn!(report_id = %entry.report_id, "quarantining a corrupt spooled report");
                self.reject(entry)?;
                Ok(None)
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                self.forget(entry);
                Ok(None)
            }
            Err(err) => Err(io_err(&entry.path)(err)),
        }
    }

    /// Removes an acknowledged report. Removing one already gone (dropped meanwhile) is
    /// not an error.
    pub fn remove(&mut self, entry: &Entry) -> Result<(), SpoolError> {
        if self.forget(entry) {
            remove_if_present(&entry.path)?;
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Moves a report the collector will never accept to `rejected/`.
    pub fn reject(&mut self, entry: &Entry) -> Result<(), SpoolError> {
        if self.forget(entry) {
            let name = entry
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| format!("{}{SUFFIX}", entry.report_id));
            self.move_to_rejected(&entry.path, &name)?;
        }
        Ok(())
    }

    /// Files in `rejected/`.
    pub fn rejected_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.dir.join(REJECTED_DIR))
            .map(|items| items.filter_map(|i| i.ok().map(|i| i.path())).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    fn forget(&mut self, entry: &Entry) -> bool {
        match self.entries.iter().position(|e| e.seq == entry.seq) {
            Some(i) => {
                if let Some(gone) = self.entries.remove(i) {
                    self.total_bytes -= gone.len;
                }
                true
            }
            None => false,
        }
    }

    fn move_to_rejected(&mut self, path: &Path, name: &str) -> Result<(), SpoolError> {
        let rejected = self.dir.join(REJECTED_DIR);
        let target = rejected.join(name);
        match fs::rename(path, &target) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(io_err(&target)(err)),
        }
        self.rejected_total += 1;
        let mut files = self.rejected_files();
        while files.len() > MAX_REJECTED_FILES {
            let oldest = files.remove(0);
            remove_if_present(&oldest)?;
        }
        sync_dir(&rejected)?;
        sync_dir(&self.dir)
    }
}

/// `<seq>-<uuid>.json.gz` → (seq, uuid).
fn parse_name(name: &str) -> Option<(u64, Uuid)> {
    let stem = name.strip_suffix(SUFFIX)?;
    let (seq, id) = stem.split_once('-')?;
    if seq.len() != 20 {
        return None;
    }
    Some((seq.parse().ok()?, Uuid::parse_str(id).ok()?))
}

/// Whether `bytes` is one complete gzip stream (its checksum verified).
pub fn is_gzip(bytes: &[u8]) -> bool {
    let mut decoder = flate2::read::GzDecoder::new(bytes);
    let mut buf = [0u8; 8192];
    loop {
        match decoder.read(&mut buf) {
            Ok(0) => return !bytes.is_empty(),
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

/// Gzip-compresses `bytes`.
pub fn gzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// Serialises `value` as JSON straight into a gzip stream: only the compressed bytes are
/// held, never the whole JSON (about 150 KB for a report with the full inventory, in a
/// buffer grown to 256 KB: the largest block of the daemon's peak).
pub fn gzip_json<T: serde::Serialize + ?Sized>(value: &T) -> io::Result<Vec<u8>> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // serde_json writes in small pieces: batch them for the compressor.
    let mut writer = io::BufWriter::with_capacity(8 * 1024, encoder);
    serde_json::to_writer(&mut writer, value)?;
    writer.into_inner().map_err(|e| e.into_error())?.finish()
}

fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), SpoolError> {
    let mut file = File::create(path).map_err(io_err(path))?;
    file.write_all(bytes).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))
}

fn remove_if_present(path: &Path) -> Result<(), SpoolError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(io_err(path)(err)),
    }
}

/// `fsync`s a directory so a rename or removal in it is durable. Platforms that cannot
/// open a directory as a file skip it.
fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    match File::open(dir) {
        Ok(handle) => match handle.sync_all() {
            Ok(()) => Ok(()),
            // Some file systems refuse fsync on a directory; the rename is still done.
            Err(err) if err.kind() == io::ErrorKind::InvalidInput => Ok(()),
            Err(err) => Err(io_err(dir)(err)),
        },
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn gzip_json_holds_the_json_of_the_value() {
        let value = serde_json::json!({"n": 1, "pad": "x".repeat(20_000)});
        let gzipped = gzip_json(&value).unwrap();
        assert!(is_gzip(&gzipped));
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(&gzipped[..])
            .read_to_end(&mut json)
            .unwrap();
        assert_eq!(json, serde_json::to_vec(&value).unwrap());
    }

    fn report(n: usize) -> (Uuid, Vec<u8>) {
        let id = Uuid::new_v4();
        (
            id,
            gzip(format!("{{\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(n)).as_bytes()).unwrap(),
        )
    }

    #[test]
    fn entries_come_back_in_creation_order_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let ids: Vec<Uuid> = (0..12)
            .map(|n| {
                let (id, bytes) = report(n);
                spool.push(id, &bytes).unwrap();
                id
            })
            .collect();
        let reopened = Spool::open(dir.path(), 1 << 20).unwrap();
        let order: Vec<Uuid> = reopened.entries().map(|e| e.report_id).collect();
        assert_eq!(order, ids);
        assert_eq!(reopened.total_bytes(), spool.total_bytes());
        // A new report after reopening still sorts last.
        let mut reopened = reopened;
        let (id, bytes) = report(99);
        let pushed = reopened.push(id, &bytes).unwrap();
        assert_eq!(pushed.entry.unwrap().seq, 13);
    }

    #[test]
    fn full_spool_drops_the_oldest_and_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let (_, sample) = report(10);
        let one = sample.len() as u64;
        // Room for three reports of this size.
        let mut spool = Spool::open(dir.path(), one * 3 + one / 2).unwrap();
        let ids: Vec<Uuid> = (0..5)
            .map(|_| {
                let (id, bytes) = report(10);
                assert_eq!(bytes.len() as u64, one);
                spool.push(id, &bytes).unwrap();
                id
            })
            .collect();
        assert_eq!(spool.len(), 3);
        assert_eq!(spool.dropped_total(), 2);
        let kept: Vec<Uuid> = spool.entries().map(|e| e.report_id).collect();
        assert_eq!(kept, ids[2..]);
        assert!(spool.total_bytes() <= one * 3 + one / 2);
        let files = fs::read_dir(dir.path())
            .unwrap()
            .filter(|f| f.as_ref().unwrap().path().is_file())
            .count();
        assert_eq!(files, 3);
    }

    /// Regression: a full spool dropped the report being sent, which was then delivered
    /// too, so it counted as both dropped and delivered.
    #[test]
    fn making_room_skips_the_report_being_sent() {
        let dir = tempfile::tempdir().unwrap();
        let (_, sample) = report(10);
        let one = sample.len() as u64;
        let mut spool = Spool::open(dir.path(), one * 2).unwrap();
        let (a, ab) = report(10);
        let (b, bb) = report(10);
        let ea = spool.push(a, &ab).unwrap().entry.unwrap();
        spool.push(b, &bb).unwrap();
        spool.set_in_flight(Some(ea.seq));
        let (c, cb) = report(10);
        assert_eq!(spool.push(c, &cb).unwrap().dropped, vec![b]);
        let kept: Vec<Uuid> = spool.entries().map(|e| e.report_id).collect();
        assert_eq!(kept, vec![a, c]);
        // Only the one in flight left to drop: it goes.
        let mut tiny = Spool::open(&dir.path().join("tiny"), one).unwrap();
        let ed = tiny.push(a, &ab).unwrap().entry.unwrap();
        tiny.set_in_flight(Some(ed.seq));
        assert_eq!(tiny.push(b, &bb).unwrap().dropped, vec![a]);
    }

    #[test]
    fn report_larger_than_the_spool_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 16).unwrap();
        let (id, bytes) = report(100);
        assert!(matches!(
            spool.push(id, &bytes),
            Err(SpoolError::TooLarge { .. })
        ));
        assert!(spool.is_empty());
    }

    #[test]
    fn crash_leftovers_are_removed_and_complete_files_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let (id, bytes) = report(5);
        spool.push(id, &bytes).unwrap();
        // A crash mid-write: a truncated temporary file.
        let (other, other_bytes) = report(6);
        let temp = dir
            .path()
            .join(format!("{TEMP_PREFIX}{:020}-{other}{SUFFIX}", 2));
        fs::write(&temp, &other_bytes[..other_bytes.len() / 2]).unwrap();
        let mut reopened = Spool::open(dir.path(), 1 << 20).unwrap();
        assert!(!temp.exists());
        assert_eq!(reopened.len(), 1);
        let entry = reopened.oldest().unwrap().clone();
        assert_eq!(entry.report_id, id);
        assert_eq!(reopened.read(&entry).unwrap().unwrap(), bytes);
    }

    #[test]
    fn corrupt_file_is_skipped_and_quarantined() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let (first, bytes) = report(5);
        let entry = spool.push(first, &bytes).unwrap().entry.unwrap();
        let (second, bytes2) = report(7);
        spool.push(second, &bytes2).unwrap();
        // Torn by something else after it was written.
        fs::write(&entry.path, &bytes[..bytes.len() - 4]).unwrap();
        fs::write(dir.path().join("not-a-report.json.gz"), b"junk").unwrap();
        let reopened = Spool::open(dir.path(), 1 << 20).unwrap();
        let ids: Vec<Uuid> = reopened.entries().map(|e| e.report_id).collect();
        assert_eq!(ids, vec![second]);
        assert_eq!(reopened.rejected_total(), 2);
        assert_eq!(reopened.rejected_files().len(), 2);
        assert!(!entry.path.exists());
    }

    #[test]
    fn corruption_found_when_reading_quarantines_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let (id, bytes) = report(5);
        let entry = spool.push(id, &bytes).unwrap().entry.unwrap();
        fs::write(&entry.path, b"\x1f\x8bnot really").unwrap();
        assert_eq!(spool.read(&entry).unwrap(), None);
        assert!(spool.is_empty());
        assert_eq!(spool.rejected_files().len(), 1);
    }

    #[test]
    fn remove_and_reject_update_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let (a, ab) = report(1);
        let (b, bb) = report(2);
        let ea = spool.push(a, &ab).unwrap().entry.unwrap();
        let eb = spool.push(b, &bb).unwrap().entry.unwrap();
        spool.remove(&ea).unwrap();
        spool.remove(&ea).unwrap();
        assert!(!ea.path.exists());
        spool.reject(&eb).unwrap();
        assert!(spool.is_empty());
        assert_eq!(spool.total_bytes(), 0);
        assert_eq!(spool.rejected_total(), 1);
        assert!(
            spool.rejected_files()[0]
                .to_string_lossy()
                .contains(&b.to_string())
        );
    }

    #[test]
    fn rejected_dir_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 24).unwrap();
        for n in 0..MAX_REJECTED_FILES + 5 {
            let (id, bytes) = report(n % 3);
            let entry = spool.push(id, &bytes).unwrap().entry.unwrap();
            spool.reject(&entry).unwrap();
        }
        assert_eq!(spool.rejected_files().len(), MAX_REJECTED_FILES);
    }
}
