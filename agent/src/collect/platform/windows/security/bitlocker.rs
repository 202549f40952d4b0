//! BitLocker, per volume, from `Win32_EncryptableVolume`.
//!
//! The class lives in `ROOT\CIMV2\Security\MicrosoftVolumeEncryption`, answers only
//! administrators and wants packet privacy. A volume is encrypted when its
//! `ProtectionStatus` is 1 (protection on): a fully encrypted volume whose protection is
//! suspended has its key in the clear on disk and counts as unencrypted, as does one
//! still encrypting. Volumes without a drive letter (recovery, EFI) and removable volumes
//! are left out. Drive letters are reported as mount points (`C:\`), as the filesystems
//! section writes them.

use estate_protocol::DiskEncryption;

use crate::collect::platform::windows::cim::{self, CimObject};
use crate::collect::platform::windows::source::WmiQuery;

/// `Win32_EncryptableVolume` (administrators only).
pub const QUERY: WmiQuery = WmiQuery {
    namespace: r"ROOT\CIMV2\Security\MicrosoftVolumeEncryption",
    class: "Win32_EncryptableVolume",
    properties: &[
        "DriveLetter",
        "ProtectionStatus",
        "ConversionStatus",
        "EncryptionMethod",
        "VolumeType",
    ],
    privacy: true,
};

/// One volume's BitLocker state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Mount point (`C:\`).
    pub mount_point: String,
    /// Protection on.
    pub protected: bool,
    /// `ConversionStatus` in words (`fully encrypted`, `encryption in progress`, ...).
    pub conversion: &'static str,
    /// `EncryptionMethod` in words (`XTS-AES 128`, `none`, ...).
    pub method: &'static str,
}

/// The volumes with drive letters, fixed ones only.
pub fn volumes(list: &[CimObject]) -> Vec<Volume> {
    let mut out: Vec<Volume> = list
        .iter()
        .filter(|v| cim::uint(v, "VolumeType") != Some(2))
        .filter_map(|v| {
            let letter = cim::string(v, "DriveLetter")?;
            let conversion = match cim::uint(v, "ConversionStatus") {
                Some(0) => "fully decrypted",
                Some(1) => "fully encrypted",
                Some(2) => "encryption in progress",
                Some(3) => "decryption in progress",
                Some(4) => "encryption paused",
                Some(5) => "decryption paused",
                _ => "unknown",
            };
            let method = match cim::uint(v, "EncryptionMethod") {
                Some(0) => "none",
                Some(1) => "AES 128 with diffuser",
                Some(2) => "AES 256 with diffuser",
                Some(3) => "AES 128",
                Some(4) => "AES 256",
                Some(5) => "hardware encryption",
                Some(6) => "XTS-AES 128",
                Some(7) => "XTS-AES 256",
                _ => "unknown",
            };
            Some(Volume {
                mount_point: format!("{}\\", letter.trim_end_matches('\\')),
                protected: cim::uint(v, "ProtectionStatus") == Some(1),
                conversion,
                method,
            })
        })
        .collect();
    out.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    out
}

/// The protocol's view: encrypted and unencrypted mount points.
pub fn disk_encryption(volumes: &[Volume]) -> DiskEncryption {
    let (on, off): (Vec<&Volume>, Vec<&Volume>) = volumes.iter().partition(|v| v.protected);
    DiskEncryption {
        encrypted_mounts: on.iter().map(|v| v.mount_point.clone()).collect(),
        unencrypted_mounts: off.iter().map(|v| v.mount_point.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn suspended_protection_counts_as_unencrypted_and_removable_and_letterless_are_skipped() {
        let list = cim::instances(json!([
            {"DriveLetter": "C:", "ProtectionStatus": 1, "ConversionStatus": 1, "EncryptionMethod": 6, "VolumeType": 0},
            {"DriveLetter": "D:", "ProtectionStatus": 0, "ConversionStatus": 1, "EncryptionMethod": 7, "VolumeType": 1},
            {"DriveLetter": null, "ProtectionStatus": 0, "ConversionStatus": 0, "EncryptionMethod": 0, "VolumeType": 1},
            {"DriveLetter": "E:", "ProtectionStatus": 0, "ConversionStatus": 0, "EncryptionMethod": 0, "VolumeType": 2}
        ]))
        .unwrap();
        let v = volumes(&list);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].mount_point, "C:\\");
        assert_eq!((v[0].protected, v[0].method), (true, "XTS-AES 128"));
        assert_eq!(
            (v[1].protected, v[1].conversion),
            (false, "fully encrypted")
        );
        let d = disk_encryption(&v);
        assert_eq!(d.encrypted_mounts, vec!["C:\\".to_owned()]);
        assert_eq!(d.unencrypted_mounts, vec!["D:\\".to_owned()]);
    }
}
