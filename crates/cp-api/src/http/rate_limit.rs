//! Per-credential request rates: each API key or access token (or, without one, each client address) gets
//! a steady rate and a burst (GCRA, by the `governor` crate); past it the answer is 429 with `Retry-After`.
//!
//! The limit is per replica: N replicas behind a load balancer admit up to N times the rate. That bounds
//! what one runaway script can take from one replica, which is the point; a global quota would need shared
//! state on every request.

use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};

use actix_web::ResponseError as _;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::Error;
use crate::http::AppState;

/// How many requests a credential may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second, sustained.
    pub per_second: u32,
    /// Requests that may arrive at once before the steady rate applies.
    pub burst: u32,
}

/// Forget credentials idle long enough to be back at a full burst after this many checks, so the table
/// holds only recent callers.
const PRUNE_EVERY: u32 = 4096;

/// The rate limiter every worker of a replica shares.
pub struct Limiter {
    limit: RateLimit,
    governor: DefaultKeyedRateLimiter<u64>,
    /// Credentials are kept as keyed hashes: the table never holds a secret, and the random key stops anyone
    /// from choosing a credential that collides with someone else's.
    hasher: RandomState,
    checks: AtomicU32,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("limit", &self.limit)
            .field("callers", &self.governor.len())
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// A limiter for `limit`, or none when its rate is 0 (limits off).
    #[must_use]
    pub fn new(limit: RateLimit) -> Option<Self> {
        let per_second = NonZeroU32::new(limit.per_second)?;
        let burst = NonZeroU32::new(limit.burst.max(1)).unwrap_or(per_second);
        Some(Self {
            limit,
            governor: DefaultKeyedRateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            hasher: RandomState::new(),
            checks: AtomicU32::new(0),
        })
    }

    /// Admits one request from `caller`.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyRequests`] with the seconds until the next request would be admitted.
    pub fn check(&self, caller: &[u8]) -> Result<(), Error> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.governor.retain_recent();
        }
        self.governor
            .check_key(&self.hasher.hash_one(caller))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Error::TooManyRequests {
                    detail: format!(
                        "this credential is over its rate of {} requests a second (bursts of {})",
                        self.limit.per_second, self.limit.burst
                    ),
                    retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                }
            })
    }
}

/// Who a request counts against: its credential if it presents one, its client address otherwise.
fn caller_of(request: &ServiceRequest) -> Vec<u8> {
    let headers = request.headers();
    if let Some(credential) = headers
        .get(header::AUTHORIZATION)
        .or_else(|| headers.get("x-api-key"))
    {
        return credential.as_bytes().to_vec();
    }
    request
        .peer_addr()
        .map(|addr| addr.ip().to_string().into_bytes())
        .unwrap_or_default()
}

/// Middleware: answers 429 to a request over its caller's rate before any handler or database work.
///
/// # Errors
///
/// Whatever the wrapped service fails with.
pub async fn limit(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limiter = request
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.limiter.clone());
    if let Some(Err(refused)) = limiter.map(|limiter| limiter.check(&caller_of(&request))) {
        return Ok(request
            .into_response(refused.error_response())
            .map_into_right_body());
    }
    next.call(request).await.map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_admitted_then_refused_with_a_retry_time() {
        let limiter = Limiter::new(RateLimit {
            per_second: 1,
            burst: 3,
        })
        .unwrap();
        for _ in 0..3 {
            limiter.check(b"key-a").unwrap();
        }
        match limiter.check(b"key-a") {
            Err(Error::TooManyRequests { retry_after, .. }) => assert_eq!(retry_after, 1),
            other => panic!("expected 429, got {other:?}"),
        }
        limiter.check(b"key-b").unwrap();
    }

    #[test]
    fn a_zero_rate_turns_limits_off() {
        assert!(
            Limiter::new(RateLimit {
                per_second: 0,
                burst: 10
            })
            .is_none()
        );
    }
}
