//! WMI queries through the `wmi` crate (COM): `SELECT * FROM <class>` in the query's
//! namespace, each instance turned into a JSON object holding the query's properties.

use std::collections::HashMap;

use ::wmi::{AuthLevel, Variant, WMIConnection, WMIError};
use serde_json::{Number, Value};

use crate::collect::platform::windows::cim::CimObject;
use crate::collect::platform::windows::source::{SourceError, WmiQuery};

/// `WBEM_E_ACCESS_DENIED`.
const WBEM_E_ACCESS_DENIED: u32 = 0x8004_1003;
/// `E_ACCESSDENIED`.
const E_ACCESSDENIED: u32 = 0x8007_0005;
/// `WBEM_E_INVALID_NAMESPACE`.
const WBEM_E_INVALID_NAMESPACE: u32 = 0x8004_100E;
/// `WBEM_E_INVALID_CLASS`.
const WBEM_E_INVALID_CLASS: u32 = 0x8004_1010;
/// `WBEM_E_NOT_SUPPORTED`.
const WBEM_E_NOT_SUPPORTED: u32 = 0x8004_100C;
/// `REGDB_E_CLASSNOTREG`: no WMI at all.
const REGDB_E_CLASSNOTREG: u32 = 0x8004_0154;

fn error(query: &WmiQuery, err: WMIError) -> SourceError {
    let what = query.describe();
    match err {
        WMIError::HResultError { hres } => {
            let code = hres as u32;
            match code {
                WBEM_E_ACCESS_DENIED | E_ACCESSDENIED => SourceError::AccessDenied { what },
                WBEM_E_INVALID_NAMESPACE => {
                    SourceError::unavailable(what, format!("invalid namespace ({code:#010X})"))
                }
                WBEM_E_INVALID_CLASS => {
                    SourceError::unavailable(what, format!("invalid class ({code:#010X})"))
                }
                WBEM_E_NOT_SUPPORTED | REGDB_E_CLASSNOTREG => {
                    SourceError::unavailable(what, format!("not supported ({code:#010X})"))
                }
                _ => SourceError::failed(what, format!("HRESULT {code:#010X}")),
            }
        }
        other => SourceError::failed(what, other.to_string()),
    }
}

/// A WMI value as JSON (dates stay CIM `DATETIME` strings; objects are dropped).
fn json(value: Variant) -> Value {
    let num = |n: Number| Value::Number(n);
    match value {
        Variant::Empty | Variant::Null | Variant::Unknown(_) | Variant::Object(_) => Value::Null,
        Variant::String(s) => Value::String(s),
        Variant::I1(v) => num(v.into()),
        Variant::I2(v) => num(v.into()),
        Variant::I4(v) => num(v.into()),
        Variant::I8(v) => num(v.into()),
        Variant::UI1(v) => num(v.into()),
        Variant::UI2(v) => num(v.into()),
        Variant::UI4(v) => num(v.into()),
        Variant::UI8(v) => num(v.into()),
        Variant::R4(v) => Number::from_f64(f64::from(v)).map_or(Value::Null, Value::Number),
        Variant::R8(v) => Number::from_f64(v).map_or(Value::Null, Value::Number),
        Variant::Bool(b) => Value::Bool(b),
        Variant::Array(items) => Value::Array(items.into_iter().map(json).collect()),
        // `Variant` is non-exhaustive in spirit: anything new is not a value we read.
        #[allow(unreachable_patterns)]
        _ => Value::Null,
    }
}

/// Runs the query.
pub fn query(q: &WmiQuery) -> Result<Vec<CimObject>, SourceError> {
    let con = WMIConnection::with_namespace_path(q.namespace).map_err(|e| error(q, e))?;
    if q.privacy {
        con.set_proxy_blanket(AuthLevel::PktPrivacy)
            .map_err(|e| error(q, e))?;
    }
    let rows: Vec<HashMap<String, Variant>> = con
        .raw_query(format!("SELECT * FROM {}", q.class))
        .map_err(|e| error(q, e))?;
    Ok(rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .filter(|(name, _)| q.properties.iter().any(|p| p.eq_ignore_ascii_case(name)))
                .map(|(name, value)| (name, json(value)))
                .collect()
        })
        .collect())
}
