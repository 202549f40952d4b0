//! Remote access: SMBv1 and Remote Desktop, from the registry.
//!
//! **SMBv1.** The SMB1 server is on when its driver is installed (`Services\srv`, the
//! `SMB1Protocol-Server` feature; Windows 10 1709 and later leave it out of new installs,
//! but an upgraded machine keeps it) and not disabled (`Start` 4), and the server has not
//! been told to refuse it (`LanmanServer\Parameters\SMB1` = 0; absent means on). The SMB1
//! client is on when `Services\mrxsmb10` is installed and not disabled.
//!
//! **RDP.** Remote Desktop accepts connections when `fDenyTSConnections` is 0; it
//! requires Network Level Authentication when `UserAuthentication` is 1 on the `RDP-Tcp`
//! listener. The Group Policy values under `HKLM\SOFTWARE\Policies\Microsoft\Windows
//! NT\Terminal Services` win over the local ones.

use crate::collect::platform::windows::registry::{RegRead, Registry};

/// The SMB server's parameters.
pub const LANMAN_SERVER: &str =
    r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters";
/// The SMB1 server driver.
pub const SMB1_SERVER_DRIVER: &str = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\srv";
/// The SMB1 client driver.
pub const SMB1_CLIENT_DRIVER: &str =
    r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\mrxsmb10";
/// Remote Desktop's switch.
pub const TERMINAL_SERVER: &str =
    r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server";
/// The RDP listener.
pub const RDP_TCP: &str =
    r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp";
/// Remote Desktop's Group Policy.
pub const RDP_POLICY: &str =
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services";

/// The keys read.
pub const READS: &[RegRead] = &[
    RegRead::key(LANMAN_SERVER),
    RegRead::key(SMB1_SERVER_DRIVER),
    RegRead::key(SMB1_CLIENT_DRIVER),
    RegRead::key(TERMINAL_SERVER),
    RegRead::key(RDP_TCP),
    RegRead::key(RDP_POLICY),
];

/// SMBv1 state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smb1 {
    /// The SMB1 server would accept SMB1 sessions.
    pub server: bool,
    /// The SMB1 client is available.
    pub client: bool,
    /// What the conclusion rests on.
    pub evidence: Vec<String>,
}

/// Remote Desktop state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rdp {
    /// Remote Desktop accepts connections.
    pub enabled: bool,
    /// Network Level Authentication is required.
    pub nla_required: bool,
    /// The listener's port.
    pub port: Option<u32>,
    /// What the conclusion rests on.
    pub evidence: Vec<String>,
}

fn driver(reg: &Registry, key: &str, what: &str, evidence: &mut Vec<String>) -> bool {
    if !reg.key_exists(key) {
        evidence.push(format!("{what} driver not installed"));
        return false;
    }
    match reg.dword(key, "Start") {
        Some(4) => {
            evidence.push(format!("{what} driver disabled (Start = 4)"));
            false
        }
        start => {
            evidence.push(format!(
                "{what} driver installed (Start = {})",
                start.map_or("?".to_owned(), |s| s.to_string())
            ));
            true
        }
    }
}

/// SMBv1's state.
pub fn smb1(reg: &Registry) -> Smb1 {
    let mut evidence = Vec::new();
    let driver_on = driver(reg, SMB1_SERVER_DRIVER, "SMB1 server (srv)", &mut evidence);
    let refused = match reg.dword(LANMAN_SERVER, "SMB1") {
        Some(0) => {
            evidence.push("LanmanServer\\Parameters SMB1 = 0".to_owned());
            true
        }
        Some(v) => {
            evidence.push(format!("LanmanServer\\Parameters SMB1 = {v}"));
            false
        }
        None => {
            evidence.push("LanmanServer\\Parameters SMB1 not set (on by default)".to_owned());
            false
        }
    };
    let client = driver(
        reg,
        SMB1_CLIENT_DRIVER,
        "SMB1 client (mrxsmb10)",
        &mut evidence,
    );
    Smb1 {
        server: driver_on && !refused,
        client,
        evidence,
    }
}

/// Remote Desktop's state, or `None` when the Terminal Server key is missing.
pub fn rdp(reg: &Registry) -> Option<Rdp> {
    if !reg.key_exists(TERMINAL_SERVER) {
        return None;
    }
    let mut evidence = Vec::new();
    let pick = |name: &str, evidence: &mut Vec<String>| {
        let (value, place) = match reg.dword(RDP_POLICY, name) {
            Some(v) => (Some(v), "Group Policy"),
            None => (
                reg.dword(
                    if name == "fDenyTSConnections" {
                        TERMINAL_SERVER
                    } else {
                        RDP_TCP
                    },
                    name,
                ),
                "local",
            ),
        };
        if let Some(v) = value {
            evidence.push(format!("{name} = {v} ({place})"));
        }
        value
    };
    // A missing fDenyTSConnections means denied: Windows writes 1 at install.
    let enabled = pick("fDenyTSConnections", &mut evidence) == Some(0);
    let nla_required = pick("UserAuthentication", &mut evidence) == Some(1);
    Some(Rdp {
        enabled,
        nla_required,
        port: reg.dword(RDP_TCP, "PortNumber"),
        evidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::platform::windows::registry::RegValue;

    #[test]
    fn smb1_needs_the_driver_and_no_refusal() {
        let mut r = Registry::new();
        r.add_key(LANMAN_SERVER);
        assert!(!smb1(&r).server, "no driver");
        r.set(SMB1_SERVER_DRIVER, "Start", RegValue::Dword(3));
        assert!(smb1(&r).server, "driver, no SMB1 value: on by default");
        r.set(LANMAN_SERVER, "SMB1", RegValue::Dword(0));
        assert!(!smb1(&r).server);
        r.set(LANMAN_SERVER, "SMB1", RegValue::Dword(1));
        r.set(SMB1_SERVER_DRIVER, "Start", RegValue::Dword(4));
        let s = smb1(&r);
        assert!(!s.server);
        assert!(!s.client);
        assert!(s.evidence[0].contains("disabled"));
    }

    #[test]
    fn rdp_policy_wins_and_nla_is_read_from_the_listener() {
        let mut r = Registry::new();
        r.set(TERMINAL_SERVER, "fDenyTSConnections", RegValue::Dword(0));
        r.set(RDP_TCP, "UserAuthentication", RegValue::Dword(0));
        r.set(RDP_TCP, "PortNumber", RegValue::Dword(3389));
        let d = rdp(&r).unwrap();
        assert!(d.enabled && !d.nla_required);
        assert_eq!(d.port, Some(3389));
        r.set(RDP_POLICY, "UserAuthentication", RegValue::Dword(1));
        r.set(RDP_POLICY, "fDenyTSConnections", RegValue::Dword(1));
        let d = rdp(&r).unwrap();
        assert!(!d.enabled && d.nla_required);
        assert_eq!(
            d.evidence,
            vec![
                "fDenyTSConnections = 1 (Group Policy)".to_owned(),
                "UserAuthentication = 1 (Group Policy)".to_owned()
            ]
        );
        assert!(rdp(&Registry::new()).is_none());
    }
}
