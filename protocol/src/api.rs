//! The HTTP API's request and response bodies between agent and collector.
//!
//! - `POST /api/v1/enrol` with `Authorization: Bearer <enrolment token>` and an
//!   [`EnrolRequest`] → `200` [`EnrolResponse`]: the per-host agent token, shown once.
//! - `POST /api/v1/reports` with `Authorization: Bearer <agent token>`, a [`crate::Report`]
//!   as JSON (`Content-Type: application/json`, optionally `Content-Encoding: gzip`) →
//!   `200` [`IngestResponse`] once the report is durable (a repeat of a stored
//!   `report_id` is also `200`, with `duplicate: true`, so the agent can drop it).
//! - Every error is an [`ApiError`] with a stable `error_code` and the HTTP status.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Path of the enrolment endpoint.
pub const ENROL_PATH: &str = "/api/v1/enrol";
/// Path of the ingest endpoint.
pub const REPORTS_PATH: &str = "/api/v1/reports";

/// An agent asking for its per-host token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The host's stable id (see [`crate::Report::host_id`]).
    pub host_id: String,
    /// The host name, for people reading the token list.
    pub hostname: String,
}

/// The per-host agent token. The collector keeps only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolResponse {
    /// The host the token is bound to.
    pub host_id: String,
    /// The bearer token for `POST /api/v1/reports`.
    pub agent_token: String,
}

/// The collector's acknowledgement of a report: it is durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestResponse {
    /// The report acknowledged.
    pub report_id: Uuid,
    /// True when the report had been stored before (it is not stored twice).
    pub duplicate: bool,
}

/// An error answer. `error_code` is stable (documented in the API reference);
/// `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `unauthenticated`, `schema_version`.
    pub error_code: String,
    /// What was wrong.
    pub message: String,
}
