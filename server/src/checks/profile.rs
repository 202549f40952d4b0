//! Audit profiles (`config/profiles/*.toml`): which checks an audit runs, with what
//! weights and params, and the score below which a host fails the audit.
//!
//! This file owns the profile format and its validation against the catalogue; it must
//! not evaluate anything.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value as Json;
use toml::Spanned;

use super::catalogue::{Catalogue, Known};
use super::diag::{
    Diagnostics, LoadError, SourceFile, is_id, json_type, same_kind, show, toml_files, toml_to_json,
};
use super::model::{Category, Check, Severity, SourceLoc};

/// The name of the profile that runs every check unchanged ([`Profile::baseline`]).
pub const BASELINE: &str = "baseline";

/// An audit profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Name (the file's `name`, else its stem).
    pub name: String,
    /// What the profile is for.
    pub description: String,
    /// A host scoring below this fails the audit.
    pub fail_below: Option<f64>,
    /// Which checks it runs.
    pub selection: Selection,
    /// Per-check weight and param overrides, by check id.
    pub overrides: BTreeMap<String, Override>,
    /// Where it was defined (`None` for the built-in baseline).
    pub source: Option<SourceLoc>,
}

/// Which checks a profile runs.
///
/// A check is selected when it matches every criterion given (`ids`, `tags`,
/// `categories`, `severities`; any listed value within one), or is in `include_ids`;
/// then `exclude_ids` and `exclude_tags` remove checks. No criteria selects every check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Criterion: the check's id is one of these.
    pub ids: Vec<String>,
    /// Criterion: the check has one of these tags.
    pub tags: Vec<String>,
    /// Criterion: the check is in one of these categories.
    pub categories: Vec<Category>,
    /// Criterion: the check has one of these severities.
    pub severities: Vec<Severity>,
    /// Selected whatever the criteria say.
    pub include_ids: Vec<String>,
    /// Never selected.
    pub exclude_ids: Vec<String>,
    /// Checks with any of these tags are never selected.
    pub exclude_tags: Vec<String>,
}

impl Selection {
    /// Whether `check` is selected.
    pub fn selects(&self, check: &Check) -> bool {
        let id = check.id.as_str();
        if self.exclude_ids.iter().any(|x| x == id)
            || check.tags.iter().any(|t| self.exclude_tags.contains(t))
        {
            return false;
        }
        if self.include_ids.iter().any(|x| x == id) {
            return true;
        }
        (self.ids.is_empty() || self.ids.iter().any(|x| x == id))
            && (self.tags.is_empty() || check.tags.iter().any(|t| self.tags.contains(t)))
            && (self.categories.is_empty() || self.categories.contains(&check.category))
            && (self.severities.is_empty() || self.severities.contains(&check.severity))
    }
}

/// A profile's changes to one check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Override {
    /// The weight to use instead of the check's.
    pub weight: Option<f64>,
    /// Param values to use instead of the defaults.
    pub params: serde_json::Map<String, Json>,
}

impl Profile {
    /// Every check, unchanged, no threshold: what is used when no profile is named.
    pub fn baseline() -> Profile {
        Profile {
            name: BASELINE.to_owned(),
            description: "Every check in the catalogue, with its own weight and params.".to_owned(),
            fail_below: None,
            selection: Selection::default(),
            overrides: BTreeMap::new(),
            source: None,
        }
    }

    /// Whether the profile runs `check`.
    pub fn selects(&self, check: &Check) -> bool {
        self.selection.selects(check)
    }

    /// The weight `check` has under this profile.
    pub fn weight_for(&self, check: &Check) -> f64 {
        self.overrides
            .get(check.id.as_str())
            .and_then(|o| o.weight)
            .unwrap_or(check.weight)
    }

    /// `params` for `check` under this profile: its defaults with the overrides on top.
    pub fn params_for(&self, check: &Check) -> Json {
        let mut params = match &check.param_defaults {
            Json::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        if let Some(o) = self.overrides.get(check.id.as_str()) {
            for (k, v) in &o.params {
                params.insert(k.clone(), v.clone());
            }
        }
        Json::Object(params)
    }
}

/// The loaded profiles, by name.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    by_name: BTreeMap<String, Profile>,
}

impl Profiles {
    /// Reads every `*.toml` in `dir`, validating it against `catalogue`.
    pub fn load(dir: &Path, catalogue: &Catalogue) -> Result<Profiles, LoadError> {
        let mut diags = Diagnostics::default();
        let known = Known::from_catalogue(catalogue);
        let profiles = load_dir(dir, catalogue, &known, &mut diags);
        diags.finish(profiles)
    }

    /// Parses `(origin, text)` pairs as profile files.
    pub fn parse(sources: &[(&str, &str)], catalogue: &Catalogue) -> Result<Profiles, LoadError> {
        let mut diags = Diagnostics::default();
        let known = Known::from_catalogue(catalogue);
        let files = sources
            .iter()
            .map(|(o, t)| SourceFile::new((*o).to_owned(), Path::new(o), (*t).to_owned()))
            .collect();
        let profiles = load_files(files, catalogue, &known, &mut diags);
        diags.finish(profiles)
    }

    /// The profile called `name`; `baseline` exists even when no file defines it.
    pub fn get(&self, name: &str) -> Option<Profile> {
        match self.by_name.get(name) {
            Some(p) => Some(p.clone()),
            None if name == BASELINE => Some(Profile::baseline()),
            None => None,
        }
    }

    /// The profiles from files, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Profile> {
        self.by_name.values()
    }

    /// The names, `baseline` included.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_name.keys().cloned().collect();
        if !self.by_name.contains_key(BASELINE) {
            names.push(BASELINE.to_owned());
            names.sort();
        }
        names
    }
}

impl Known {
    pub(crate) fn from_catalogue(catalogue: &Catalogue) -> Known {
        let mut known = Known::default();
        for check in catalogue.checks() {
            known.checks.insert(
                check.id.as_str().to_owned(),
                check
                    .params
                    .iter()
                    .map(|(k, p)| (k.clone(), p.default.clone()))
                    .collect(),
            );
        }
        known
    }
}

pub(crate) fn load_dir(
    dir: &Path,
    catalogue: &Catalogue,
    known: &Known,
    diags: &mut Diagnostics,
) -> Profiles {
    let paths = match toml_files(dir) {
        Ok(p) => p,
        Err(e) => {
            diags.read_error(dir, e);
            Vec::new()
        }
    };
    let mut files = Vec::new();
    for path in paths {
        match SourceFile::read(&path) {
            Ok(f) => files.push(f),
            Err(e) => diags.read_error(&path, e),
        }
    }
    load_files(files, catalogue, known, diags)
}

fn load_files(
    files: Vec<SourceFile>,
    catalogue: &Catalogue,
    known: &Known,
    diags: &mut Diagnostics,
) -> Profiles {
    let mut profiles = Profiles::default();
    let mut first: BTreeMap<String, SourceLoc> = BTreeMap::new();
    for file in &files {
        let raw: RawProfile = match toml::from_str(&file.text) {
            Ok(r) => r,
            Err(e) => {
                diags.toml_error(file, &e);
                continue;
            }
        };
        let stem = Path::new(&file.origin)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name_at = raw.name.as_ref().map_or(0, |n| n.span().start);
        let before = diags.len();
        let profile = validate(raw, &stem, file, catalogue, known, diags);
        if let Some(prev) = first.get(&profile.name) {
            diags.at(
                file,
                name_at,
                "name",
                format!(
                    "duplicate profile name `{}` (first defined at {prev})",
                    profile.name
                ),
            );
            continue;
        }
        first.insert(profile.name.clone(), file.loc(name_at));
        if diags.len() == before {
            profiles.by_name.insert(profile.name.clone(), profile);
        }
    }
    profiles
}

// ---------------------------------------------------------------------------------
// Raw layer.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Option<Spanned<String>>,
    description: Option<String>,
    fail_below: Option<Spanned<f64>>,
    #[serde(default)]
    select: RawSelect,
    #[serde(default)]
    checks: BTreeMap<Spanned<String>, RawOverride>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSelect {
    #[serde(default)]
    ids: Vec<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    #[serde(default)]
    categories: Vec<Spanned<String>>,
    #[serde(default)]
    severities: Vec<Spanned<String>>,
    #[serde(default)]
    include_ids: Vec<Spanned<String>>,
    #[serde(default)]
    exclude_ids: Vec<Spanned<String>>,
    #[serde(default)]
    exclude_tags: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    weight: Option<Spanned<f64>>,
    #[serde(default)]
    params: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
}

fn validate(
    raw: RawProfile,
    stem: &str,
    file: &SourceFile,
    catalogue: &Catalogue,
    known: &Known,
    diags: &mut Diagnostics,
) -> Profile {
    let name = match &raw.name {
        Some(n) if !is_id(n.get_ref()) => {
            diags.span(
                file,
                n.span(),
                "name",
                format!(
                    "`{}` is not a valid profile name: use lowercase letters, digits, `.`, `_` and `-`",
                    n.get_ref()
                ),
            );
            n.get_ref().clone()
        }
        Some(n) => n.get_ref().clone(),
        None => stem.to_owned(),
    };
    if let Some(f) = &raw.fail_below
        && !(0.0..=1.0).contains(f.get_ref())
    {
        diags.span(
            file,
            f.span(),
            "fail_below",
            format!("`{}` is outside 0–1 (a score is a ratio)", f.get_ref()),
        );
    }

    let ids = |list: &[Spanned<String>], key: &str, diags: &mut Diagnostics| -> Vec<String> {
        let mut out = Vec::new();
        for id in list {
            if known.checks.contains_key(id.get_ref()) {
                out.push(id.get_ref().clone());
            } else {
                diags.span(
                    file,
                    id.span(),
                    key,
                    format!("unknown check `{}`", id.get_ref()),
                );
            }
        }
        out
    };
    let s = &raw.select;
    let mut selection = Selection {
        ids: ids(&s.ids, "select.ids", diags),
        include_ids: ids(&s.include_ids, "select.include_ids", diags),
        exclude_ids: ids(&s.exclude_ids, "select.exclude_ids", diags),
        ..Selection::default()
    };
    for (list, key, out) in [
        (&s.tags, "select.tags", &mut selection.tags),
        (
            &s.exclude_tags,
            "select.exclude_tags",
            &mut selection.exclude_tags,
        ),
    ] {
        for tag in list {
            if is_id(tag.get_ref()) {
                out.push(tag.get_ref().clone());
            } else {
                diags.span(
                    file,
                    tag.span(),
                    key,
                    format!("`{}` is not a valid tag", tag.get_ref()),
                );
            }
        }
    }
    for c in &s.categories {
        match Category::parse(c.get_ref()) {
            Some(c) => selection.categories.push(c),
            None => diags.span(
                file,
                c.span(),
                "select.categories",
                format!(
                    "unknown category `{}`; expected one of {}",
                    c.get_ref(),
                    Category::ALL.map(Category::as_str).join(", ")
                ),
            ),
        }
    }
    for v in &s.severities {
        match Severity::parse(v.get_ref()) {
            Some(v) => selection.severities.push(v),
            None => diags.span(
                file,
                v.span(),
                "select.severities",
                format!(
                    "unknown severity `{}`; expected one of {}",
                    v.get_ref(),
                    Severity::ALL.map(Severity::as_str).join(", ")
                ),
            ),
        }
    }

    let mut overrides = BTreeMap::new();
    for (id, o) in &raw.checks {
        let key = format!("checks.{}", id.get_ref());
        let Some(defaults) = known.checks.get(id.get_ref()) else {
            diags.span(
                file,
                id.span(),
                &key,
                format!("unknown check `{}`", id.get_ref()),
            );
            continue;
        };
        if let Some(check) = catalogue.get(id.get_ref())
            && !selection.selects(check)
        {
            diags.span(
                file,
                id.span(),
                &key,
                format!(
                    "check `{}` is not selected by this profile, so it cannot be overridden",
                    id.get_ref()
                ),
            );
        }
        let mut out = Override::default();
        if let Some(w) = &o.weight {
            if w.get_ref().is_finite() && *w.get_ref() >= 0.0 {
                out.weight = Some(*w.get_ref());
            } else {
                diags.span(
                    file,
                    w.span(),
                    &format!("{key}.weight"),
                    format!("weight must be a number ≥ 0, not {}", w.get_ref()),
                );
            }
        }
        for (pname, value) in &o.params {
            let pkey = format!("{key}.params.{}", pname.get_ref());
            let json = toml_to_json(value.get_ref());
            match defaults.get(pname.get_ref()) {
                None => {
                    let declared = if defaults.is_empty() {
                        "it declares none".to_owned()
                    } else {
                        format!(
                            "declared: {}",
                            defaults.keys().cloned().collect::<Vec<_>>().join(", ")
                        )
                    };
                    diags.span(
                        file,
                        pname.span(),
                        &pkey,
                        format!(
                            "check `{}` has no param `{}` ({declared})",
                            id.get_ref(),
                            pname.get_ref()
                        ),
                    );
                }
                Some(default) if !same_kind(default, &json) => diags.span(
                    file,
                    value.span(),
                    &pkey,
                    format!(
                        "`{}` is a {}, but the param's default is a {}",
                        show(value.get_ref()),
                        json_type(&json),
                        json_type(default)
                    ),
                ),
                Some(_) => {
                    out.params.insert(pname.get_ref().clone(), json);
                }
            }
        }
        overrides.insert(id.get_ref().clone(), out);
    }

    Profile {
        name,
        description: raw.description.unwrap_or_default().trim().to_owned(),
        fail_below: raw.fail_below.map(Spanned::into_inner),
        selection,
        overrides,
        source: Some(file.loc(0)),
    }
}
