//! The request rate limit of clients without credentials, per client address.
//!
//! Every API request that carries no session and no API token counts against
//! a token bucket of its client address (GCRA, from the `governor` crate):
//! `http.public_rate_per_sec` requests a second, with bursts of up to
//! `http.public_burst`. This covers every route open to everyone (health, the
//! OpenAPI document, ledger checkpoints, keys and proofs, login, sign-on,
//! `/metrics`) and the 401 and 404 responses of the other routes. Requests
//! with an invalid, expired or revoked token or session cookie count against
//! the same bucket as requests without credentials, so a flood of guessed
//! tokens is limited too. A request over the limit gets a 429 with
//! `Retry-After` and is counted in
//! `oversight_http_requests_rejected_total{reason="rate_limit"}`.
//!
//! The address is the TCP peer's, as for the login limits, so clients behind
//! one reverse proxy share one bucket. IPv6 clients are keyed by their /64
//! prefix, because one host is commonly assigned a whole /64.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use oversight_auth::{Principal, Role};

use crate::auth::ClientAddress;
use crate::error::{ApiError, ErrorCode};

/// Addresses tracked before the limiter drops those with full buckets. At an
/// estimated 100 bytes each, the map stays under about 10 MiB.
const MAX_TRACKED_ADDRESSES: usize = 100_000;

/// Default of `http.public_rate_per_sec`.
pub const DEFAULT_PUBLIC_RATE_PER_SEC: u32 = 20;

/// Default of `http.public_burst`.
pub const DEFAULT_PUBLIC_BURST: u32 = 100;

/// The rate and burst of requests without credentials from one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicRateLimit {
    /// Requests a second that the bucket refills.
    pub per_second: NonZeroU32,
    /// Requests the bucket contains when full.
    pub burst: NonZeroU32,
}

impl Default for PublicRateLimit {
    fn default() -> Self {
        Self {
            per_second: NonZeroU32::new(DEFAULT_PUBLIC_RATE_PER_SEC).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(DEFAULT_PUBLIC_BURST).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// The token buckets of the client addresses.
#[derive(Debug)]
pub struct PublicLimiter {
    limit: PublicRateLimit,
    max_addresses: usize,
    buckets: Mutex<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

impl PublicLimiter {
    /// Creates a limiter with empty state for `limit`.
    pub fn new(limit: PublicRateLimit) -> Self {
        Self::with_max_addresses(limit, MAX_TRACKED_ADDRESSES)
    }

    fn with_max_addresses(limit: PublicRateLimit, max_addresses: usize) -> Self {
        Self {
            limit,
            max_addresses: max_addresses.max(2),
            buckets: Mutex::new(Arc::new(Self::fresh_buckets(limit))),
        }
    }

    fn fresh_buckets(limit: PublicRateLimit) -> DefaultKeyedRateLimiter<IpAddr> {
        RateLimiter::keyed(Quota::per_second(limit.per_second).allow_burst(limit.burst))
    }

    /// Takes one request from the bucket of `address`, or returns how long
    /// the client must wait for the next one.
    pub fn check(&self, address: IpAddr) -> Result<(), Duration> {
        let buckets = self.current_buckets();
        buckets
            .check_key(&bucket_key(address))
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Returns the buckets, first dropping the full ones when more than
    /// `max_addresses` are tracked. When that frees less than half of the
    /// map, all buckets restart full.
    fn current_buckets(&self) -> Arc<DefaultKeyedRateLimiter<IpAddr>> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= self.max_addresses {
            buckets.retain_recent();
            buckets.shrink_to_fit();
            // NOTE: a client with more than half of `max_addresses` addresses
            // (or IPv6 /64 prefixes) can trigger this reset and refill its own
            // buckets. The cap keeps memory bounded under such a flood.
            if buckets.len() >= self.max_addresses / 2 {
                tracing::warn!(
                    addresses = buckets.len(),
                    max_addresses = self.max_addresses,
                    "rate limit buckets of recent clients exceed half the maximum; all buckets restart full"
                );
                *buckets = Arc::new(Self::fresh_buckets(self.limit));
            }
        }
        Arc::clone(&buckets)
    }

    #[cfg(test)]
    fn tracked_addresses(&self) -> usize {
        self.current_buckets().len()
    }
}

/// Returns the key of an address: the address itself for IPv4, the /64
/// prefix for IPv6. IPv4-mapped IPv6 addresses count as IPv4.
fn bucket_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(
                u128::from(v6) & 0xffff_ffff_ffff_ffff_0000_0000_0000_0000,
            )),
        },
    }
}

/// Rejects a request without credentials with 429 once its address is over
/// the limit. Requests with a session or token, and requests without a
/// client address (as in router tests without connection information),
/// pass. A request whose principal was not resolved, as on `/metrics`,
/// counts as one without credentials.
pub(crate) async fn limit_public(
    State(limiter): State<Arc<PublicLimiter>>,
    ClientAddress(address): ClientAddress,
    request: Request,
    next: Next,
) -> Response {
    let anonymous = request
        .extensions()
        .get::<Principal>()
        .is_none_or(|principal| principal.role == Role::Public);
    let Some(address) = address.filter(|_| anonymous) else {
        return next.run(request).await;
    };
    match over_limit(&limiter, address, request.uri().path()) {
        None => next.run(request).await,
        Some(response) => response,
    }
}

/// Takes one request of `address` from its bucket, or returns the 429
/// response when the bucket is empty. Authentication calls this for
/// requests whose credentials it rejects.
pub(crate) fn over_limit(limiter: &PublicLimiter, address: IpAddr, path: &str) -> Option<Response> {
    let wait = limiter.check(address).err()?;
    metrics::counter!("oversight_http_requests_rejected_total", "reason" => "rate_limit")
        .increment(1);
    tracing::debug!(%address, path, "request over the public rate limit");
    Some(rejection(limiter.limit, address, wait))
}

fn rejection(limit: PublicRateLimit, address: IpAddr, wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let error = ApiError {
        code: ErrorCode::TooManyRequests,
        message: format!(
            "too many requests without credentials from {address}: the limit is {} a second \
             with bursts of {} (http.public_rate_per_sec, http.public_burst); retry after \
             {seconds} s, as the Retry-After header says, or log in",
            limit.per_second, limit.burst
        ),
    };
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_second: u32, burst: u32) -> PublicRateLimit {
        PublicRateLimit {
            per_second: NonZeroU32::new(per_second).expect("test rate is positive"),
            burst: NonZeroU32::new(burst).expect("test burst is positive"),
        }
    }

    #[test]
    fn burst_then_rejection() {
        let limiter = PublicLimiter::new(limit(1, 3));
        let address = IpAddr::from([192, 0, 2, 1]);
        for request in 0..3 {
            assert!(limiter.check(address).is_ok(), "request {request}");
        }
        let wait = limiter.check(address).expect_err("fourth request passed");
        assert!(wait <= Duration::from_secs(1), "wait {wait:?}");
    }

    #[test]
    fn addresses_have_own_buckets() {
        let limiter = PublicLimiter::new(limit(1, 1));
        assert!(limiter.check(IpAddr::from([192, 0, 2, 1])).is_ok());
        assert!(limiter.check(IpAddr::from([192, 0, 2, 1])).is_err());
        assert!(limiter.check(IpAddr::from([192, 0, 2, 2])).is_ok());
    }

    #[test]
    fn ipv6_keyed_by_prefix() {
        let limiter = PublicLimiter::new(limit(1, 1));
        let first: IpAddr = "2001:db8:1:2::1".parse().expect("literal address");
        let same_prefix: IpAddr = "2001:db8:1:2::ffff".parse().expect("literal address");
        let other_prefix: IpAddr = "2001:db8:1:3::1".parse().expect("literal address");
        assert!(limiter.check(first).is_ok());
        assert!(limiter.check(same_prefix).is_err());
        assert!(limiter.check(other_prefix).is_ok());
    }

    #[test]
    fn mapped_ipv4_shares_bucket() {
        let limiter = PublicLimiter::new(limit(1, 1));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("literal address");
        assert!(limiter.check(IpAddr::from([192, 0, 2, 1])).is_ok());
        assert!(limiter.check(mapped).is_err());
    }

    #[test]
    fn tracked_addresses_stay_bounded() {
        let limiter = PublicLimiter::with_max_addresses(limit(1, 5), 100);
        for index in 0..1000u32 {
            let address = IpAddr::from((0x0a00_0000 + index).to_be_bytes());
            limiter
                .check(address)
                .expect("a new address has a full bucket");
            let tracked = limiter.tracked_addresses();
            assert!(tracked <= 100, "{tracked} addresses after {index}");
        }
    }

    #[test]
    fn rejection_names_limit() {
        let address = IpAddr::from([192, 0, 2, 1]);
        let response = rejection(limit(20, 100), address, Duration::from_millis(1500));
        assert_eq!(response.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        let retry_after = response.headers().get(header::RETRY_AFTER);
        assert_eq!(retry_after, Some(&HeaderValue::from(2u64)));
    }
}
