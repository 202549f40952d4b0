//! The web page's query strings: the hosts page's search form and the host page's
//! history range. Pure. The hosts form is translated into the read API's query and
//! parsed by [`crate::query::host_query`] (the same names, limits and messages); only
//! what the API does not have is handled here: empty form fields (a GET form sends
//! every field) are dropped, and `band` is taken out (the store does not filter by
//! band; the handler does).

use chrono::{DateTime, Duration, Utc};

use crate::query::{self, QueryError};
use crate::store::HostQuery;

/// The hosts page's parameters, in the order the form shows them.
pub const HOSTS_PARAMS: [&str; 8] = [
    "q", "band", "os", "kind", "label", "state", "limit", "after",
];

/// The bands the hosts page filters by.
pub const BANDS: [&str; 4] = ["green", "amber", "red", "unscored"];

/// What the hosts form asked for, as given (to fill the form again and build the next
/// page's link).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostsForm {
    /// Search text.
    pub q: String,
    /// Band.
    pub band: String,
    /// OS family, id or name.
    pub os: String,
    /// Machine kind.
    pub kind: String,
    /// `KEY:VALUE` labels.
    pub labels: Vec<String>,
    /// `reporting` or `stale`.
    pub state: String,
    /// Page size, as given.
    pub limit: String,
}

impl HostsForm {
    /// The query string of this form, starting after `after` (empty fields left out).
    pub fn url(&self, after: Option<&str>) -> String {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("q", &self.q),
            ("band", &self.band),
            ("os", &self.os),
            ("kind", &self.kind),
        ];
        for l in &self.labels {
            pairs.push(("label", l));
        }
        pairs.push(("state", &self.state));
        pairs.push(("limit", &self.limit));
        if let Some(a) = after {
            pairs.push(("after", a));
        }
        format!("/ui/hosts{}", super::html::query(&pairs))
    }

    /// Whether any filter is set.
    pub fn filtered(&self) -> bool {
        !(self.q.is_empty()
            && self.band.is_empty()
            && self.os.is_empty()
            && self.kind.is_empty()
            && self.labels.is_empty()
            && self.state.is_empty())
    }
}

/// The hosts page's request: the store query, the band filter, the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsRequest {
    /// For [`crate::store::Store::list_hosts`].
    pub query: HostQuery,
    /// Only hosts in this band (`unscored`: no score, or not assessed).
    pub band: Option<String>,
    /// The form as given.
    pub form: HostsForm,
}

fn bad(param: &str, message: impl Into<String>) -> QueryError {
    QueryError {
        param: param.to_owned(),
        message: message.into(),
    }
}

fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn reject_unknown(pairs: &[(String, String)], known: &[&str]) -> Result<(), QueryError> {
    match pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        Some((k, _)) => Err(bad(
            k,
            format!("unknown parameter (known: {})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// Parses the hosts page's query string.
pub fn hosts_request(
    raw: Option<&str>,
    stale_before: DateTime<Utc>,
) -> Result<HostsRequest, QueryError> {
    let all = pairs(raw);
    reject_unknown(&all, &HOSTS_PARAMS)?;
    let given: Vec<(String, String)> = all
        .into_iter()
        .map(|(k, v)| (k, v.trim().to_owned()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let mut bands = given.iter().filter(|(k, _)| k == "band").map(|(_, v)| v);
    let band = bands.next().cloned();
    if bands.next().is_some() {
        return Err(bad("band", "given more than once"));
    }
    if let Some(b) = &band
        && !BANDS.contains(&b.as_str())
    {
        return Err(bad(
            "band",
            format!("`{b}` is not one of {}", BANDS.join(", ")),
        ));
    }
    let mut api = form_urlencoded::Serializer::new(String::new());
    for (k, v) in given.iter().filter(|(k, _)| k != "band") {
        api.append_pair(k, v);
    }
    let query = query::host_query(Some(&api.finish()), stale_before)?;
    let value = |name: &str| {
        given
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let form = HostsForm {
        q: value("q"),
        band: band.clone().unwrap_or_default(),
        os: value("os"),
        kind: value("kind"),
        labels: given
            .iter()
            .filter(|(k, _)| k == "label")
            .map(|(_, v)| v.clone())
            .collect(),
        state: value("state"),
        limit: value("limit"),
    };
    Ok(HostsRequest { query, band, form })
}

/// The history ranges the host page offers: (parameter value, span).
pub const RANGES: [(&str, i64); 3] = [("1d", 1), ("7d", 7), ("30d", 30)];

/// The host page's history range: `range=1d|7d|30d` (default `1d`); returns its name and
/// `[from, to)` ending at `now`.
pub fn host_range(
    raw: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(&'static str, query::Range), QueryError> {
    let all = pairs(raw);
    reject_unknown(&all, &["range"])?;
    let mut given = all.iter().filter(|(k, _)| k == "range");
    let first = given.next();
    if given.next().is_some() {
        return Err(bad("range", "given more than once"));
    }
    let name = first.map_or("1d", |(_, v)| v.as_str());
    let Some((name, days)) = RANGES.iter().find(|(n, _)| *n == name) else {
        return Err(bad(
            "range",
            format!(
                "`{name}` is not one of {}",
                RANGES.map(|(n, _)| n).join(", ")
            ),
        ));
    };
    Ok((
        name,
        query::Range {
            from: now - Duration::days(*days),
            to: now,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::HostState;

    fn cutoff() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn an_empty_form_lists_everything() {
        let r = hosts_request(Some("q=&band=&os=&kind=&label=&state=&limit="), cutoff()).unwrap();
        assert_eq!(r.band, None);
        assert_eq!(r.query.limit, query::DEFAULT_PAGE_LIMIT);
        assert!(r.query.labels.is_empty() && r.query.search.is_none());
        assert!(!r.form.filtered());
        assert_eq!(r.form.url(None), "/ui/hosts");
    }

    #[test]
    fn filters_reach_the_store_query_and_the_next_link() {
        let r = hosts_request(
            Some("q=web&band=red&os=linux&kind=vm&label=site%3Adepot&state=stale&limit=20"),
            cutoff(),
        )
        .unwrap();
        assert_eq!(r.band.as_deref(), Some("red"));
        assert_eq!(r.query.search.as_deref(), Some("web"));
        assert_eq!(r.query.os.as_deref(), Some("linux"));
        assert_eq!(r.query.machine_kind.as_deref(), Some("vm"));
        assert_eq!(
            r.query.labels.get("site").map(String::as_str),
            Some("depot")
        );
        assert_eq!(r.query.state, Some(HostState::Stale));
        assert_eq!(r.query.limit, 20);
        assert!(r.form.filtered());
        assert_eq!(
            r.form.url(Some("h/9")),
            "/ui/hosts?q=web&band=red&os=linux&kind=vm&label=site%3Adepot&state=stale&limit=20&after=h%2F9"
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        for (raw, param) in [
            ("band=purple", "band"),
            ("band=red&band=green", "band"),
            ("kind=mainframe", "kind"),
            ("state=asleep", "state"),
            ("limit=0", "limit"),
            ("limit=lots", "limit"),
            ("label=nocolon", "label"),
            ("sort=name", "sort"),
        ] {
            let e = hosts_request(Some(raw), cutoff()).unwrap_err();
            assert_eq!(e.param, param, "{raw}: {e}");
        }
    }

    #[test]
    fn history_ranges() {
        let now = cutoff();
        let (name, r) = host_range(None, now).unwrap();
        assert_eq!((name, r.to - r.from), ("1d", Duration::days(1)));
        let (name, r) = host_range(Some("range=30d"), now).unwrap();
        assert_eq!((name, r.to - r.from), ("30d", Duration::days(30)));
        assert_eq!(
            host_range(Some("range=2y"), now).unwrap_err().param,
            "range"
        );
        assert_eq!(host_range(Some("from=x"), now).unwrap_err().param, "from");
    }
}
