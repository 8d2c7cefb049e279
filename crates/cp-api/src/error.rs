//! The control plane's errors, and the one place that turns them into HTTP answers: RFC 9457
//! `application/problem+json` with a stable `type`, a human `detail` and, for validation, every field
//! error with its path.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use protocol::{FieldError, PROBLEM_JSON, Problem};

/// Where problem types are documented; each `type` is this plus the problem's name.
pub const PROBLEM_BASE: &str = "https://agent-marketplace.dev/problems/";

/// Seconds a client should wait before retrying when the database is unavailable.
const RETRY_AFTER_SECONDS: u32 = 5;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is well-formed but its content breaks rules; every error found is listed.
    #[error("{} error(s) in the request", .0.len())]
    Validation(Vec<FieldError>),
    /// The request cannot be read (malformed JSON, a bad query string).
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    /// No such resource, or one the caller may not know exists.
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with the current state (a name already taken).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request would pass a spending limit (an org's spend cap, a run's maximum charge).
    #[error("{0}")]
    PaymentRequired(String),
    /// The caller has used up its request rate; it may retry after `retry_after` seconds.
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: u64 },
    /// The database cannot be reached; the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// A fault of ours.
    #[error("{0}")]
    Internal(String),
}

impl From<DieselError> for Error {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => Self::NotFound("no such resource".to_owned()),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::Conflict(format!("already exists: {}", info.message()))
            }
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                Self::Unavailable(format!("database connection lost: {}", info.message()))
            }
            other => Self::Internal(format!("database error: {other}")),
        }
    }
}

impl From<manifest::Error> for Error {
    fn from(error: manifest::Error) -> Self {
        Self::Validation(error.errors().to_vec())
    }
}

impl Error {
    /// The problem's name (the end of its `type`) and title.
    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Self::Validation(_) => ("validation", "The request is not valid"),
            Self::BadRequest(_) => ("bad-request", "The request cannot be read"),
            Self::Unauthenticated(_) => ("unauthenticated", "Authentication is required"),
            Self::Forbidden(_) => ("forbidden", "Not allowed"),
            Self::NotFound(_) => ("not-found", "Not found"),
            Self::Conflict(_) => ("conflict", "Conflict"),
            Self::PayloadTooLarge(_) => ("payload-too-large", "The request body is too large"),
            Self::UnsupportedMediaType(_) => {
                ("unsupported-media-type", "The body's media type is not accepted")
            }
            Self::PaymentRequired(_) => ("payment-required", "A spending limit stands in the way"),
            Self::TooManyRequests { .. } => ("too-many-requests", "Too many requests"),
            Self::Unavailable(_) => ("unavailable", "Temporarily unavailable"),
            Self::Internal(_) => ("internal", "Internal error"),
        }
    }

    /// The problem details body.
    #[must_use]
    pub fn problem(&self) -> Problem {
        let (name, title) = self.kind();
        let (detail, errors) = match self {
            Self::Validation(errors) => {
                let detail = match errors.as_slice() {
                    [only] => only.to_string(),
                    all => format!("{} errors; each is listed with its path", all.len()),
                };
                (detail, errors.clone())
            }
            // Internal details stay in the log, not in the answer.
            Self::Internal(_) => (
                "the control plane could not complete the request".to_owned(),
                Vec::new(),
            ),
            other => (other.to_string(), Vec::new()),
        };
        Problem {
            type_uri: format!("{PROBLEM_BASE}{name}"),
            title: title.to_owned(),
            status: self.status_code().as_u16(),
            detail: Some(detail),
            instance: None,
            errors,
        }
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PaymentRequired(_) => StatusCode::PAYMENT_REQUIRED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(detail) = self {
            tracing::error!(%detail, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        match self {
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS));
            }
            Self::TooManyRequests { retry_after, .. } => {
                response.insert_header((header::RETRY_AFTER, *retry_after));
            }
            Self::Unauthenticated(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            _ => {}
        }
        response.json(self.problem())
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody as _;

    use super::*;

    fn answer(error: &Error) -> (u16, String, serde_json::Value) {
        let response = error.error_response();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let status = response.status().as_u16();
        let body = response.into_body().try_into_bytes().unwrap();
        (status, content_type, serde_json::from_slice(&body).unwrap())
    }

    #[test]
    fn every_error_is_problem_json_with_its_status() {
        let cases = [
            (
                Error::Validation(vec![FieldError::new("email", "not an email")]),
                422,
            ),
            (Error::BadRequest("the body is not valid JSON".into()), 400),
            (Error::Unauthenticated("no key".into()), 401),
            (Error::Forbidden("admins only".into()), 403),
            (Error::NotFound("no such agent".into()), 404),
            (Error::Conflict("name taken".into()), 409),
            (Error::PayloadTooLarge("too big".into()), 413),
            (Error::UnsupportedMediaType("text/plain".into()), 415),
            (
                Error::TooManyRequests {
                    detail: "over 50 requests a second".into(),
                    retry_after: 1,
                },
                429,
            ),
            (Error::Unavailable("database down".into()), 503),
            (Error::Internal("disk on fire".into()), 500),
        ];
        for (error, status) in cases {
            let (found, content_type, body) = answer(&error);
            assert_eq!(found, status, "{error:?}");
            assert_eq!(content_type, PROBLEM_JSON);
            assert_eq!(body["status"], status);
            assert!(body["type"].as_str().unwrap().starts_with(PROBLEM_BASE));
            insta::assert_json_snapshot!(format!("problem_{status}"), body);
        }
    }

    #[test]
    fn internal_details_stay_out_of_the_answer() {
        let (_, _, body) = answer(&Error::Internal("password=hunter2 in a stack trace".into()));
        assert!(!body.to_string().contains("hunter2"));
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let response = Error::Unavailable("down".into()).error_response();
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "5");
    }

    #[test]
    fn diesel_errors_map_to_their_meaning() {
        assert!(matches!(Error::from(DieselError::NotFound), Error::NotFound(_)));
        assert!(matches!(
            Error::from(DieselError::RollbackTransaction),
            Error::Internal(_)
        ));
    }
}
