//! Random bytes straight from the operating system's CSPRNG (`getrandom(2)` on
//! Linux), for token values and password salts.

use rand::TryRngCore;
use rand::rngs::OsRng;

/// The operating system could not supply random bytes. Practically never
/// happens after boot; the service answers `INTERNAL` rather than fall back to
/// a weaker source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator is unavailable")]
pub struct RandomnessUnavailable;

/// Fills `buffer` from the OS CSPRNG.
pub(crate) fn fill(buffer: &mut [u8]) -> Result<(), RandomnessUnavailable> {
    OsRng
        .try_fill_bytes(buffer)
        .map_err(|_| RandomnessUnavailable)
}

/// `N` random bytes from the OS CSPRNG.
pub(crate) fn bytes<const N: usize>() -> Result<[u8; N], RandomnessUnavailable> {
    let mut buffer = [0u8; N];
    fill(&mut buffer)?;
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_draws_differ() {
        let first: [u8; 32] = bytes().unwrap();
        let second: [u8; 32] = bytes().unwrap();
        assert_ne!(first, second);
        assert_ne!(first, [0u8; 32]);
    }
}
