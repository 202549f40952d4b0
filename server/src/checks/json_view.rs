//! A zero-copy CEL view of a JSON document: how a host's facts (and a check's params)
//! reach CEL without being converted.
//!
//! cel's own `Value` conversion copies the whole document into maps and lists, and its
//! built-in containers deep-copy on every clone (each iteration of `exists`, `all`, ...
//! clones the element). A facts document with a package list of a few thousand entries
//! would cost milliseconds per host before a single check ran. These views borrow the
//! `serde_json::Value` instead: objects and arrays are views created on access, scalars
//! are cel's built-in types (strings borrowed, not copied). Only what an expression
//! touches is ever looked at. This module owns that mapping; it must not evaluate
//! anything.

use std::fmt;
use std::sync::OnceLock;

use cel::ExecutionError;
use cel::common::traits::{self, Container, Indexer, Iterable, Sizer, Zeroer};
use cel::common::types::{self, CelBool, CelDouble, CelInt, CelNull, CelString, CelUInt, Type};
use cel::common::value::{CowVal, Val};
use serde_json::Value as Json;

/// The CEL value of a JSON value, borrowing it: objects and arrays are views, scalars
/// the built-in CEL types (strings borrowed, not copied).
pub(crate) fn json_val<'v>(value: &'v Json) -> Box<dyn Val + 'v> {
    match value {
        Json::Null => Box::new(CelNull),
        Json::Bool(b) => Box::new(CelBool::from(*b)),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Box::new(CelInt::from(i))
            } else if let Some(u) = n.as_u64() {
                Box::new(CelUInt::from(u))
            } else {
                Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN)))
            }
        }
        Json::String(s) => Box::new(CelString::from(s.as_str())),
        Json::Array(items) => Box::new(JsonList::new(items)),
        Json::Object(map) => Box::new(JsonMap::new(map)),
    }
}

/// A JSON array seen as a CEL `list`.
pub(crate) struct JsonList<'v> {
    items: &'v [Json],
    elements: OnceLock<Vec<Box<dyn Val + 'v>>>,
}

impl<'v> JsonList<'v> {
    /// A view of `items`.
    pub(crate) fn new(items: &'v [Json]) -> Self {
        JsonList {
            items,
            elements: OnceLock::new(),
        }
    }
}

impl fmt::Debug for JsonList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonList(len {})", self.items.len())
    }
}

/// A JSON object seen as a CEL `map` with string keys.
pub(crate) struct JsonMap<'v> {
    map: &'v serde_json::Map<String, Json>,
    keys: OnceLock<Vec<Box<dyn Val + 'v>>>,
}

impl<'v> JsonMap<'v> {
    /// A view of `map`.
    pub(crate) fn new(map: &'v serde_json::Map<String, Json>) -> Self {
        JsonMap {
            map,
            keys: OnceLock::new(),
        }
    }
}

impl fmt::Debug for JsonMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonMap(len {})", self.map.len())
    }
}

struct SliceIter<'b, 'v> {
    items: &'b [Box<dyn Val + 'v>],
    pos: usize,
}

impl<'b, 'v: 'w, 'w> traits::Iterator<'b, 'w> for SliceIter<'b, 'v> {
    fn next(&mut self) -> Option<&'b (dyn Val + 'w)> {
        let item = self.items.get(self.pos)?;
        self.pos += 1;
        Some(item.as_ref())
    }
}

fn list_index(len: usize, idx: &dyn Val) -> Result<usize, ExecutionError> {
    let signed = if let Some(i) = idx.downcast_ref::<CelInt>() {
        Some(*i.inner())
    } else if let Some(u) = idx.downcast_ref::<CelUInt>() {
        i64::try_from(*u.inner()).ok()
    } else if let Some(d) = idx.downcast_ref::<CelDouble>() {
        let d = *d.inner();
        (d.fract() == 0.0 && d.abs() < 9.0e15).then_some(d as i64)
    } else {
        return Err(ExecutionError::UnexpectedType {
            got: idx.get_type().name().to_owned(),
            want: "int".to_owned(),
        });
    };
    signed
        .and_then(|i| usize::try_from(i).ok())
        .filter(|i| *i < len)
        .ok_or_else(|| ExecutionError::IndexOutOfBounds(cel::Value::Int(signed.unwrap_or(-1))))
}

impl<'v> Val for JsonList<'v> {
    fn get_type(&self) -> &Type {
        &types::LIST_TYPE
    }
    fn cel_type() -> &'static Type {
        &types::LIST_TYPE
    }
    fn as_container(&self) -> Option<&dyn Container> {
        Some(self)
    }
    fn as_indexer<'b, 'w>(&'b self) -> Option<&'b (dyn Indexer + 'w)>
    where
        Self: 'w,
    {
        Some(self)
    }
    fn as_iterable<'b, 'w>(&'b self) -> Option<&'b (dyn Iterable + 'w)>
    where
        Self: 'w,
    {
        Some(self)
    }
    fn as_sizer(&self) -> Option<&dyn Sizer> {
        Some(self)
    }
    fn as_zeroer(&self) -> Option<&dyn Zeroer> {
        Some(self)
    }
    fn equals(&self, other: &dyn Val) -> bool {
        list_equals(self, other)
    }
    fn clone_as_boxed<'w>(&self) -> Box<dyn Val + 'w>
    where
        Self: 'w,
    {
        Box::new(JsonList::new(self.items))
    }
}

fn list_equals(this: &JsonList<'_>, other: &dyn Val) -> bool {
    if *other.get_type() != types::LIST_TYPE {
        return false;
    }
    let (Some(sizer), Some(iterable)) = (other.as_sizer(), other.as_iterable()) else {
        return false;
    };
    if usize::try_from(*sizer.size().inner()).ok() != Some(this.items.len()) {
        return false;
    }
    let mut theirs = iterable.iter();
    this.items
        .iter()
        .all(|mine| theirs.next().is_some_and(|t| json_val(mine).equals(t)))
}

impl<'v> Indexer for JsonList<'v> {
    fn get<'b, 'w>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'w>, ExecutionError>
    where
        Self: 'w,
    {
        let i = list_index(self.items.len(), idx)?;
        let item = self.items.get(i).ok_or_else(|| {
            ExecutionError::IndexOutOfBounds(cel::Value::Int(i64::try_from(i).unwrap_or(-1)))
        })?;
        Ok(CowVal::Owned(json_val(item)))
    }
    fn steal<'w>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'w>, ExecutionError>
    where
        Self: 'w,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}

impl<'v> Iterable for JsonList<'v> {
    fn iter<'b, 'w>(&'b self) -> Box<dyn traits::Iterator<'b, 'w> + 'b>
    where
        Self: 'w,
    {
        let items = self
            .elements
            .get_or_init(|| self.items.iter().map(json_val).collect());
        Box::new(SliceIter { items, pos: 0 })
    }
}

impl Container for JsonList<'_> {
    fn contains(&self, value: &dyn Val) -> Result<bool, ExecutionError> {
        // Strings (the common case: a name in a list of names) compare without boxing.
        if let Some(needle) = value.downcast_ref::<CelString>() {
            let needle = needle.inner();
            return Ok(self
                .items
                .iter()
                .any(|item| matches!(item, Json::String(s) if s == needle)));
        }
        Ok(self.items.iter().any(|item| json_val(item).equals(value)))
    }
}

impl Sizer for JsonList<'_> {
    fn size(&self) -> CelInt {
        CelInt::from(i64::try_from(self.items.len()).unwrap_or(i64::MAX))
    }
}

impl Zeroer for JsonList<'_> {
    fn is_zero_value(&self) -> bool {
        self.items.is_empty()
    }
}

fn key_str(key: &dyn Val) -> Result<&str, ExecutionError> {
    key.downcast_ref::<CelString>()
        .map(CelString::inner)
        .ok_or_else(|| ExecutionError::UnexpectedType {
            got: key.get_type().name().to_owned(),
            want: "string".to_owned(),
        })
}

impl<'v> Val for JsonMap<'v> {
    fn get_type(&self) -> &Type {
        &types::MAP_TYPE
    }
    fn cel_type() -> &'static Type {
        &types::MAP_TYPE
    }
    fn as_container(&self) -> Option<&dyn Container> {
        Some(self)
    }
    fn as_indexer<'b, 'w>(&'b self) -> Option<&'b (dyn Indexer + 'w)>
    where
        Self: 'w,
    {
        Some(self)
    }
    fn as_iterable<'b, 'w>(&'b self) -> Option<&'b (dyn Iterable + 'w)>
    where
        Self: 'w,
    {
        Some(self)
    }
    fn as_sizer(&self) -> Option<&dyn Sizer> {
        Some(self)
    }
    fn as_zeroer(&self) -> Option<&dyn Zeroer> {
        Some(self)
    }
    fn equals(&self, other: &dyn Val) -> bool {
        if *other.get_type() != types::MAP_TYPE {
            return false;
        }
        let (Some(sizer), Some(indexer)) = (other.as_sizer(), other.as_indexer()) else {
            return false;
        };
        usize::try_from(*sizer.size().inner()).ok() == Some(self.map.len())
            && self.map.iter().all(|(k, v)| {
                indexer
                    .get(&CelString::from(k.as_str()))
                    .is_ok_and(|theirs| json_val(v).equals(theirs.as_ref()))
            })
    }
    fn clone_as_boxed<'w>(&self) -> Box<dyn Val + 'w>
    where
        Self: 'w,
    {
        Box::new(JsonMap::new(self.map))
    }
}

impl<'v> Indexer for JsonMap<'v> {
    fn get<'b, 'w>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'w>, ExecutionError>
    where
        Self: 'w,
    {
        let key = key_str(idx)?;
        match self.map.get(key) {
            Some(value) => Ok(CowVal::Owned(json_val(value))),
            None => Err(ExecutionError::no_such_key(key)),
        }
    }
    fn steal<'w>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'w>, ExecutionError>
    where
        Self: 'w,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}

impl<'v> Iterable for JsonMap<'v> {
    fn iter<'b, 'w>(&'b self) -> Box<dyn traits::Iterator<'b, 'w> + 'b>
    where
        Self: 'w,
    {
        let items = self.keys.get_or_init(|| {
            self.map
                .keys()
                .map(|k| Box::new(CelString::from(k.as_str())) as Box<dyn Val + 'v>)
                .collect()
        });
        Box::new(SliceIter { items, pos: 0 })
    }
}

impl Container for JsonMap<'_> {
    fn contains(&self, value: &dyn Val) -> Result<bool, ExecutionError> {
        Ok(self.map.contains_key(key_str(value)?))
    }
}

impl Sizer for JsonMap<'_> {
    fn size(&self) -> CelInt {
        CelInt::from(i64::try_from(self.map.len()).unwrap_or(i64::MAX))
    }
}

impl Zeroer for JsonMap<'_> {
    fn is_zero_value(&self) -> bool {
        self.map.is_empty()
    }
}
