//! The HTTP exchanges of a simulated agent: the client, enrolment, sending one report,
//! and how an answer is classified (as `crate::transport` does for the real agent).

use std::time::Duration;

use estate_protocol::{ENROL_PATH, EnrolRequest, EnrolResponse, IngestResponse, REPORTS_PATH};
use reqwest::StatusCode;
use uuid::Uuid;

use super::host::Token;
use super::{Options, Shared, SimulateError};
use crate::transport::{api_message, error_chain, parse_retry_after};

/// An answer to one attempt.
#[derive(Debug)]
pub(super) enum Outcome {
    Acknowledged {
        duplicate: bool,
    },
    Rejected {
        status: u16,
        message: String,
    },
    Retry {
        after: Option<Duration>,
        key: String,
        reason: String,
    },
    Unauthorised(String),
}

pub(super) fn client(options: &Options) -> Result<reqwest::Client, SimulateError> {
    crate::probes::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(crate::transport::CONNECT_TIMEOUT)
        .timeout(crate::transport::REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("estate-agent-simulate/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(options.concurrency)
        .pool_idle_timeout(Duration::from_secs(30));
    if let Some(ca) = &options.ca_file {
        let ca_error = |message: String| SimulateError::CaFile {
            path: ca.clone(),
            message,
        };
        let pem = std::fs::read(ca).map_err(|e| ca_error(e.to_string()))?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_error(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca_error("no certificate in the file".to_owned()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| SimulateError::Client(e.to_string()))
}

fn request_error_key(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connect"
    } else {
        "request"
    }
}

/// Classifies an answer to `POST /api/v1/reports` as the agent's transport does.
pub(super) fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    report_id: Uuid,
) -> Outcome {
    let code = status.as_u16();
    match status {
        s if s.is_success() => match serde_json::from_slice::<IngestResponse>(body) {
            Ok(ack) if ack.report_id == report_id => Outcome::Acknowledged {
                duplicate: ack.duplicate,
            },
            Ok(ack) => Outcome::Retry {
                after: None,
                key: "bad_ack".to_owned(),
                reason: format!("acknowledgement names report {} instead", ack.report_id),
            },
            Err(err) => Outcome::Retry {
                after: None,
                key: "bad_ack".to_owned(),
                reason: format!("unexpected acknowledgement: {err}"),
            },
        },
        StatusCode::UNAUTHORIZED => Outcome::Unauthorised(api_message(body)),
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => Outcome::Retry {
            after: retry_after,
            key: code.to_string(),
            reason: format!("status {code}: {}", api_message(body)),
        },
        s if s.is_client_error() => Outcome::Rejected {
            status: code,
            message: api_message(body),
        },
        _ => Outcome::Retry {
            after: retry_after,
            key: code.to_string(),
            reason: format!("status {code}: {}", api_message(body)),
        },
    }
}

/// Enrols a host: its agent token, or (error key, message, permanent).
pub(super) async fn enrol(
    shared: &Shared,
    client: &reqwest::Client,
    host_id: &str,
    hostname: &str,
) -> Result<Token, (String, String, bool)> {
    let request = EnrolRequest {
        host_id: host_id.to_owned(),
        hostname: hostname.to_owned(),
    };
    let body =
        serde_json::to_vec(&request).map_err(|e| ("encode".to_owned(), e.to_string(), true))?;
    let answer = client
        .post(format!("{}{ENROL_PATH}", shared.options.collector))
        .bearer_auth(&shared.options.enrolment_token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| (request_error_key(&e).to_owned(), error_chain(&e), false))?;
    let status = answer.status();
    let body = answer
        .bytes()
        .await
        .map_err(|e| ("body".to_owned(), error_chain(&e), false))?;
    if !status.is_success() {
        // A refused enrolment token will not be accepted on a later try either.
        let permanent = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
        return Err((
            status.as_u16().to_string(),
            format!("status {}: {}", status.as_u16(), api_message(&body)),
            permanent,
        ));
    }
    let response: EnrolResponse = serde_json::from_slice(&body).map_err(|e| {
        (
            "bad_answer".to_owned(),
            format!("unexpected answer: {e}"),
            false,
        )
    })?;
    Ok(Token::new(&response.agent_token))
}

pub(super) async fn post_report(
    shared: &Shared,
    client: &reqwest::Client,
    token: &Token,
    report_id: Uuid,
    body: &[u8],
) -> Outcome {
    shared.stats().sent += 1;
    let started = std::time::Instant::now();
    let sent = client
        .post(format!("{}{REPORTS_PATH}", shared.options.collector))
        .bearer_auth(token.as_string())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::CONTENT_ENCODING, "gzip")
        .body(body.to_vec())
        .send()
        .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(err) => {
            return Outcome::Retry {
                after: None,
                key: request_error_key(&err).to_owned(),
                reason: error_chain(&err),
            };
        }
    };
    let status = answer.status();
    let retry_after = answer
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let body = match answer.bytes().await {
        Ok(body) => body,
        Err(err) => {
            return Outcome::Retry {
                after: retry_after,
                key: "body".to_owned(),
                reason: error_chain(&err),
            };
        }
    };
    shared.stats().latency.record(started.elapsed());
    classify(status, retry_after, &body, report_id)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn answers_are_classified_as_the_agent_does() {
        let id = Uuid::from_u128(7);
        let ack = serde_json::to_vec(&IngestResponse {
            report_id: id,
            duplicate: true,
        })
        .unwrap();
        assert!(matches!(
            classify(StatusCode::OK, None, &ack, id),
            Outcome::Acknowledged { duplicate: true }
        ));
        assert!(matches!(
            classify(StatusCode::OK, None, &ack, Uuid::from_u128(8)),
            Outcome::Retry { .. }
        ));
        let after = Some(Duration::from_secs(4));
        match classify(StatusCode::TOO_MANY_REQUESTS, after, b"{}", id) {
            Outcome::Retry { after: a, key, .. } => {
                assert_eq!(a, after);
                assert_eq!(key, "429");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, after, b"", id),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, None, b"", id),
            Outcome::Unauthorised(_)
        ));
        let body = br#"{"error_code":"invalid_report","message":"no"}"#;
        match classify(StatusCode::UNPROCESSABLE_ENTITY, None, body, id) {
            Outcome::Rejected { status, message } => {
                assert_eq!(status, 422);
                assert_eq!(message, "invalid_report: no");
            }
            other => panic!("{other:?}"),
        }
    }
}
