//! Salted password hashes for Basic authentication: PBKDF2-HMAC-SHA256, written
//! `pbkdf2-sha256$<iterations>$<salt>$<hash>` with the salt and the hash in standard
//! base64 without padding.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, STANDARD_PAD_INDIFFERENT};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::{hmac, pbkdf2};

use super::AuthConfigError;

/// The PBKDF2 iterations [`hash_password`] uses (the OWASP recommendation for
/// PBKDF2-HMAC-SHA256).
pub const DEFAULT_ITERATIONS: u32 = 600_000;

/// The name of the scheme at the start of every hash.
const SCHEME: &str = "pbkdf2-sha256";
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;
/// How many users the login cache remembers at most.
const CACHE_CAPACITY: usize = 4096;

/// Hashes a password for the `passwordHash` of a Basic user, with a random salt and
/// [`DEFAULT_ITERATIONS`].
///
/// Fails only when the system has no random numbers to give.
pub fn hash_password(password: &str) -> Result<String, AuthConfigError> {
    hash_password_with_iterations(password, DEFAULT_ITERATIONS)
}

/// Hashes a password like [`hash_password`], with `iterations` rounds of PBKDF2
/// (at least 1; fewer than the default only make sense in tests).
pub fn hash_password_with_iterations(
    password: &str,
    iterations: u32,
) -> Result<String, AuthConfigError> {
    let iterations = NonZeroU32::new(iterations)
        .ok_or_else(|| AuthConfigError::new("PBKDF2 needs at least one iteration"))?;
    let mut salt = [0u8; SALT_LEN];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| AuthConfigError::new("the system random number generator failed"))?;
    let mut hash = [0u8; HASH_LEN];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        password.as_bytes(),
        &mut hash,
    );
    Ok(format!(
        "{SCHEME}${iterations}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(hash)
    ))
}

/// A parsed password hash.
#[derive(Clone)]
pub(super) struct PasswordHash {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl PasswordHash {
    /// Parses `pbkdf2-sha256$<iterations>$<salt-b64>$<hash-b64>`.
    pub(super) fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.trim().split('$');
        let (Some(scheme), Some(iterations), Some(salt), Some(hash), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(format!(
                "is not of the form {SCHEME}$<iterations>$<salt>$<hash> (make it with hash_password)"
            ));
        };
        if scheme != SCHEME {
            return Err(format!(
                "uses the scheme '{scheme}'; only {SCHEME} is supported"
            ));
        }
        let iterations = iterations
            .parse::<u32>()
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or("has an iteration count that is not a positive number")?;
        let salt = STANDARD_PAD_INDIFFERENT
            .decode(salt)
            .map_err(|_| "has a salt that is not base64")?;
        let hash = STANDARD_PAD_INDIFFERENT
            .decode(hash)
            .map_err(|_| "has a hash that is not base64")?;
        if salt.len() < 8 {
            return Err("has a salt shorter than 8 bytes".to_owned());
        }
        if hash.len() < 16 {
            return Err("has a hash shorter than 16 bytes".to_owned());
        }
        Ok(Self {
            iterations,
            salt,
            hash,
        })
    }

    /// A hash no password matches, costing as much to check as one with `iterations`:
    /// checked for unknown users so that their answer takes as long as a wrong
    /// password's.
    pub(super) fn unmatchable(iterations: NonZeroU32) -> Self {
        Self {
            iterations,
            salt: vec![0; SALT_LEN],
            // Not an output of PBKDF2 in any practical sense: all zeros.
            hash: vec![0; HASH_LEN],
        }
    }

    /// The iteration count.
    pub(super) fn iterations(&self) -> NonZeroU32 {
        self.iterations
    }

    /// Whether `password` matches (in constant time). Slow by design: call it off the
    /// async executor.
    pub(super) fn verify(&self, password: &[u8]) -> bool {
        pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            self.iterations,
            &self.salt,
            password,
            &self.hash,
        )
        .is_ok()
    }
}

/// Remembers recent successful logins for a while, so that a client sending Basic
/// credentials with every request does not pay PBKDF2 every time. It keeps an
/// HMAC of the password under a key random to this process, never the password.
pub(super) struct LoginCache {
    key: hmac::Key,
    ttl: Duration,
    entries: Mutex<HashMap<String, (hmac::Tag, Instant)>>,
}

impl LoginCache {
    /// A cache remembering logins for `ttl`.
    pub(super) fn new(ttl: Duration) -> Result<Self, AuthConfigError> {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .map_err(|_| AuthConfigError::new("the system random number generator failed"))?;
        Ok(Self {
            key,
            ttl,
            entries: Mutex::new(HashMap::new()),
        })
    }

    /// Whether `user` logged in with `password` less than the TTL ago.
    pub(super) fn hit(&self, user: &str, password: &[u8]) -> bool {
        let Ok(entries) = self.entries.lock() else {
            return false;
        };
        entries.get(user).is_some_and(|(tag, at)| {
            at.elapsed() < self.ttl && hmac::verify(&self.key, password, tag.as_ref()).is_ok()
        })
    }

    /// Records a successful login.
    pub(super) fn store(&self, user: &str, password: &[u8]) {
        let tag = hmac::sign(&self.key, password);
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= CACHE_CAPACITY && !entries.contains_key(user) {
            entries.retain(|_, (_, at)| at.elapsed() < self.ttl);
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(user.to_owned(), (tag, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let first = hash_password_with_iterations("s3cret", 1000).expect("hash");
        let second = hash_password_with_iterations("s3cret", 1000).expect("hash");
        assert_ne!(first, second);
        assert!(first.starts_with("pbkdf2-sha256$1000$"));
        let parsed = PasswordHash::parse(&first).expect("parse");
        assert!(parsed.verify(b"s3cret"));
        assert!(!parsed.verify(b"s3cret "));
        assert!(!parsed.verify(b""));
        assert!(!PasswordHash::unmatchable(parsed.iterations()).verify(b""));
    }

    #[test]
    fn refuses_malformed_hashes() {
        for text in [
            "",
            "s3cret",
            "pbkdf2-sha1$1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
            "pbkdf2-sha256$0$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
            "pbkdf2-sha256$x$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
            "pbkdf2-sha256$1000$!!$AAAAAAAAAAAAAAAAAAAAAA",
            "pbkdf2-sha256$1000$AAAA$AAAAAAAAAAAAAAAAAAAAAA",
            "pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA$x",
        ] {
            assert!(PasswordHash::parse(text).is_err(), "{text}");
        }
        assert!(hash_password_with_iterations("x", 0).is_err());
    }

    #[test]
    fn the_cache_remembers_only_the_right_password() {
        let cache = LoginCache::new(Duration::from_secs(60)).expect("cache");
        assert!(!cache.hit("alice", b"pw"));
        cache.store("alice", b"pw");
        assert!(cache.hit("alice", b"pw"));
        assert!(!cache.hit("alice", b"pw2"));
        assert!(!cache.hit("bob", b"pw"));
        let expired = LoginCache::new(Duration::ZERO).expect("cache");
        expired.store("alice", b"pw");
        assert!(!expired.hit("alice", b"pw"));
    }
}
