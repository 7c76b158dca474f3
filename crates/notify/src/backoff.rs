//! Retry delays: exponential back-off with jitter.

use std::time::Duration;

use rand::Rng;

/// Returns the delay before retry number `attempt` (1 for the first
/// retry): `initial · 2^(attempt-1)`, capped at `max`, of which a random
/// half is taken off ("equal jitter"), so receivers that failed together
/// are not hit again together.
pub fn retry_delay(attempt: u32, initial: Duration, max: Duration, rng: &mut impl Rng) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let base = initial.saturating_mul(1 << exponent).min(max);
    let half = base / 2;
    let jitter_nanos = rng.random_range(0..=u64::try_from(half.as_nanos()).unwrap_or(u64::MAX));
    half + Duration::from_nanos(jitter_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_within_jitter() {
        let mut rng = rand::rng();
        let initial = Duration::from_secs(1);
        let max = Duration::from_secs(600);
        for attempt in 1..=6 {
            let base = Duration::from_secs(1 << (attempt - 1));
            for _ in 0..100 {
                let delay = retry_delay(attempt, initial, max, &mut rng);
                assert!(delay >= base / 2, "attempt {attempt}: {delay:?}");
                assert!(delay <= base, "attempt {attempt}: {delay:?}");
            }
        }
    }

    #[test]
    fn delay_is_capped() {
        let mut rng = rand::rng();
        let delay = retry_delay(
            40,
            Duration::from_secs(1),
            Duration::from_secs(600),
            &mut rng,
        );
        assert!(delay <= Duration::from_secs(600));
        assert!(delay >= Duration::from_secs(300));
    }
}
