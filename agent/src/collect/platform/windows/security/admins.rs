//! The local Administrators group (well-known SID `S-1-5-32-544`, whatever its localised
//! name).
//!
//! The live reader lists it with `NetLocalGroupGetMembers` (level 2: SID, kind, domain\
//! name); a recording is `Get-LocalGroupMember -SID S-1-5-32-544 | Select-Object Name,
//! SID, ObjectClass, PrincipalSource | ConvertTo-Json`, whose `SID` is an object with a
//! `Value`. Nested groups (`Domain Admins`) count as one member each: their own members
//! are the domain's business.

use serde::{Deserialize, Deserializer, Serialize};

/// The Administrators group's well-known SID.
pub const ADMINISTRATORS_SID: &str = "S-1-5-32-544";

/// One member of a local group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupMember {
    /// `DOMAIN\name` (`LAPTOP-7\Administrator`, `CONTOSO\Domain Admins`).
    pub name: String,
    /// The member's SID.
    #[serde(rename = "SID", deserialize_with = "sid")]
    pub sid: String,
    /// `User` or `Group`.
    #[serde(default)]
    pub object_class: Option<String>,
    /// `Local`, `ActiveDirectory`, `AzureAD`, ...
    #[serde(default)]
    pub principal_source: Option<String>,
}

/// A SID as a string, or PowerShell's `SecurityIdentifier` object (`{"Value": "S-1-..."}`).
fn sid<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Sid {
        Text(String),
        Object {
            #[serde(rename = "Value")]
            value: String,
        },
    }
    Ok(match Sid::deserialize(d)? {
        Sid::Text(s) | Sid::Object { value: s } => s,
    })
}

/// The Administrators group as the security section sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Administrators {
    /// Members, sorted by name.
    pub members: Vec<String>,
    /// Whether the built-in Administrator account (RID 500) is a member.
    pub builtin_administrator: bool,
}

/// Summarises the members.
pub fn administrators(members: &[GroupMember]) -> Administrators {
    let mut names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
    names.sort_by_key(|n| n.to_lowercase());
    Administrators {
        builtin_administrator: members
            .iter()
            .any(|m| m.sid.starts_with("S-1-5-21-") && m.sid.ends_with("-500")),
        members: names,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powershell_sid_objects_and_plain_sids_both_read() {
        let json = r#"[
          {"Name":"LAPTOP-7\\Administrator","SID":{"BinaryLength":28,"AccountDomainSid":{"Value":"S-1-5-21-1-2-3"},"Value":"S-1-5-21-1-2-3-500"},"ObjectClass":"User","PrincipalSource":"Local"},
          {"Name":"CONTOSO\\Domain Admins","SID":"S-1-5-21-9-8-7-512","ObjectClass":"Group","PrincipalSource":"ActiveDirectory"}
        ]"#;
        let members: Vec<GroupMember> = serde_json::from_str(json).unwrap();
        assert_eq!(members[0].sid, "S-1-5-21-1-2-3-500");
        assert_eq!(members[1].sid, "S-1-5-21-9-8-7-512");
        let a = administrators(&members);
        assert_eq!(a.members.len(), 2);
        assert!(a.builtin_administrator);
    }
}
