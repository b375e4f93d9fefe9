//! Salted password hashes for Basic authentication, checked by the RustCrypto `pbkdf2`
//! and `argon2` crates.
//!
//! A hash is a PHC string (`$pbkdf2-sha256$i=600000,l=32$<salt>$<hash>`,
//! `$pbkdf2-sha512$…`, `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, `$argon2i$…`),
//! or the older form of this server, `pbkdf2-sha256$<iterations>$<salt>$<hash>` with the
//! salt and the hash in standard base64, which is read as the PHC hash it stands for.
//!
//! The cost a hash asks for is bounded (see [`MAX_ITERATIONS`] and the Argon2 bounds), so
//! that a configuration cannot turn every wrong password into minutes of work or
//! gigabytes of memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;
use password_hash::phc::{Ident, Output, ParamsString, PasswordHash as Phc, Salt};
use password_hash::{CustomizedPasswordHasher as _, PasswordVerifier as _};
use pbkdf2::Pbkdf2;
use ring::hmac;
use ring::rand::{SecureRandom as _, SystemRandom};

use super::AuthConfigError;

/// The PBKDF2 iterations [`hash_password`] uses (the OWASP recommendation for
/// PBKDF2-HMAC-SHA256).
pub const DEFAULT_ITERATIONS: u32 = 600_000;

/// The fewest PBKDF2 iterations a hash may have.
pub const MIN_ITERATIONS: u32 = pbkdf2::Params::MIN_ROUNDS;

/// The most PBKDF2 iterations a hash may have (about 17 times the default).
pub const MAX_ITERATIONS: u32 = 10_000_000;

/// The most memory an Argon2 hash may ask for, in KiB (256 MiB).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;

/// The most passes an Argon2 hash may ask for.
pub const MAX_ARGON2_PASSES: u32 = 16;

/// The most lanes an Argon2 hash may ask for.
pub const MAX_ARGON2_LANES: u32 = 16;

/// The scheme of the older form.
const LEGACY_SCHEME: &str = "pbkdf2-sha256";
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;
/// How many users the login cache remembers at most.
const CACHE_CAPACITY: usize = 4096;

/// Hashes a password for the `passwordHash` of a Basic user: a PHC string of
/// PBKDF2-HMAC-SHA256 with a random salt and [`DEFAULT_ITERATIONS`].
///
/// Fails only when the system has no random numbers to give.
pub fn hash_password(password: &str) -> Result<String, AuthConfigError> {
    hash_password_with_iterations(password, DEFAULT_ITERATIONS)
}

/// Hashes a password like [`hash_password`], with `iterations` rounds of PBKDF2,
/// between [`MIN_ITERATIONS`] and [`MAX_ITERATIONS`] (fewer than the default only make
/// sense in tests).
pub fn hash_password_with_iterations(
    password: &str,
    iterations: u32,
) -> Result<String, AuthConfigError> {
    check_iterations(iterations)
        .map_err(|detail| AuthConfigError::new(format!("a password hash cannot have {detail}")))?;
    let params = pbkdf2::Params::new_with_output_len(iterations, HASH_LEN)
        .map_err(|e| AuthConfigError::new(format!("PBKDF2 parameters: {e}")))?;
    let mut salt = [0u8; SALT_LEN];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| AuthConfigError::new("the system random number generator failed"))?;
    let hash = Pbkdf2::SHA256
        .hash_password_customized(password.as_bytes(), &salt, None, None, params)
        .map_err(|e| AuthConfigError::new(format!("hashing the password: {e}")))?;
    Ok(hash.to_string())
}

/// Refuses an iteration count outside [`MIN_ITERATIONS`]..=[`MAX_ITERATIONS`], saying
/// what is wrong ("{iterations} iterations; …").
fn check_iterations(iterations: u32) -> Result<(), String> {
    if iterations < MIN_ITERATIONS {
        return Err(format!(
            "{iterations} iterations; at least {MIN_ITERATIONS} are needed"
        ));
    }
    if iterations > MAX_ITERATIONS {
        return Err(format!(
            "{iterations} iterations; at most {MAX_ITERATIONS} are accepted"
        ));
    }
    Ok(())
}

/// Which crate checks a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Pbkdf2,
    Argon2,
}

/// A parsed password hash, ready to be checked.
#[derive(Clone)]
pub(super) struct PasswordHash {
    function: Function,
    phc: Phc,
    /// A rough measure of what one check costs, to compare hashes by.
    cost: u64,
}

impl PasswordHash {
    /// Parses a PHC string or the older `pbkdf2-sha256$<iterations>$<salt>$<hash>`.
    /// The error completes a sentence starting "the passwordHash …".
    pub(super) fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let phc = if text.starts_with('$') {
            Phc::new(text).map_err(|e| format!("is not a valid PHC string: {e}"))?
        } else {
            legacy(text)?
        };
        Self::from_phc(phc)
    }

    /// Checks that the crates can verify against `phc` within the cost bounds.
    fn from_phc(phc: Phc) -> Result<Self, String> {
        let algorithm = phc.algorithm.as_str().to_owned();
        if phc.salt.is_none() || phc.hash.is_none() {
            return Err(format!(
                "($pbkdf2-…/$argon2…) needs both a salt and a hash ('{algorithm}')"
            ));
        }
        let (function, cost) = match algorithm.as_str() {
            "pbkdf2-sha256" | "pbkdf2-sha512" => {
                let params = pbkdf2::Params::try_from(&phc)
                    .map_err(|e| format!("has unusable {algorithm} parameters: {e}"))?;
                let iterations = params.rounds();
                check_iterations(iterations).map_err(|detail| format!("has {detail}"))?;
                // An iteration of HMAC-SHA-512 costs about one and a half of SHA-256.
                let weight = if algorithm == "pbkdf2-sha512" { 3 } else { 2 };
                (Function::Pbkdf2, u64::from(iterations) * weight)
            }
            "argon2id" | "argon2i" => {
                if let Some(version) = phc.version {
                    argon2::Version::try_from(version)
                        .map_err(|e| format!("has an unusable {algorithm} version: {e}"))?;
                }
                let params = argon2::Params::try_from(&phc)
                    .map_err(|e| format!("has unusable {algorithm} parameters: {e}"))?;
                let (memory, passes, lanes) = (params.m_cost(), params.t_cost(), params.p_cost());
                if memory > MAX_ARGON2_MEMORY_KIB {
                    return Err(format!(
                        "asks for {memory} KiB of memory; at most {MAX_ARGON2_MEMORY_KIB} are accepted"
                    ));
                }
                if passes > MAX_ARGON2_PASSES {
                    return Err(format!(
                        "asks for {passes} passes; at most {MAX_ARGON2_PASSES} are accepted"
                    ));
                }
                if lanes > MAX_ARGON2_LANES {
                    return Err(format!(
                        "asks for {lanes} lanes; at most {MAX_ARGON2_LANES} are accepted"
                    ));
                }
                // One pass over a 1 KiB block costs about what 5 SHA-256 iterations of
                // PBKDF2 do.
                (Function::Argon2, u64::from(memory) * u64::from(passes) * 5)
            }
            "argon2d" => {
                return Err(
                    "uses argon2d, which is not meant for passwords; use argon2id".to_owned(),
                );
            }
            other => {
                return Err(format!(
                    "uses the algorithm '{other}'; pbkdf2-sha256, pbkdf2-sha512, argon2id and argon2i are supported"
                ));
            }
        };
        Ok(Self {
            function,
            phc,
            cost,
        })
    }

    /// A hash no password matches, costing as much to check as this one: checked for
    /// unknown users so that their answer takes as long as a wrong password's.
    pub(super) fn unmatchable(&self) -> Self {
        let mut phc = self.phc.clone();
        // Fixed salt and an all-zero output: not an output of the function in any
        // practical sense.
        phc.salt = Salt::new(&[0; SALT_LEN]).ok();
        let length = self.phc.hash.as_ref().map_or(HASH_LEN, Output::len);
        let zeros = [0u8; Output::MAX_LENGTH];
        phc.hash = zeros
            .get(..length)
            .and_then(|zeros| Output::new(zeros).ok());
        Self {
            function: self.function,
            phc,
            cost: self.cost,
        }
    }

    /// A rough measure of what one check costs.
    pub(super) fn cost(&self) -> u64 {
        self.cost
    }

    /// Whether `password` matches (the crates compare in constant time). Slow by
    /// design: call it off the async executor.
    pub(super) fn verify(&self, password: &[u8]) -> bool {
        match self.function {
            Function::Pbkdf2 => Pbkdf2::default().verify_password(password, &self.phc),
            Function::Argon2 => Argon2::default().verify_password(password, &self.phc),
        }
        .is_ok()
    }
}

/// The PHC hash that `pbkdf2-sha256$<iterations>$<salt-b64>$<hash-b64>` stands for.
fn legacy(text: &str) -> Result<Phc, String> {
    let mut parts = text.split('$');
    let (Some(scheme), Some(iterations), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(format!(
            "is neither a PHC string ($<algorithm>$…) nor of the form {LEGACY_SCHEME}$<iterations>$<salt>$<hash> (make it with hash_password)"
        ));
    };
    if scheme != LEGACY_SCHEME {
        return Err(format!(
            "uses the scheme '{scheme}'; only {LEGACY_SCHEME} (or a PHC string) is supported"
        ));
    }
    let iterations = iterations
        .parse::<u32>()
        .map_err(|_| "has an iteration count that is not a positive number".to_owned())?;
    check_iterations(iterations).map_err(|detail| format!("has {detail}"))?;
    let salt = STANDARD_PAD_INDIFFERENT
        .decode(salt)
        .map_err(|_| "has a salt that is not base64")?;
    let hash = STANDARD_PAD_INDIFFERENT
        .decode(hash)
        .map_err(|_| "has a hash that is not base64")?;
    if salt.len() < Salt::MIN_LENGTH {
        return Err(format!(
            "has a salt shorter than {} bytes",
            Salt::MIN_LENGTH
        ));
    }
    if salt.len() > Salt::MAX_LENGTH {
        return Err(format!("has a salt longer than {} bytes", Salt::MAX_LENGTH));
    }
    if hash.len() < 16 {
        return Err("has a hash shorter than 16 bytes".to_owned());
    }
    if hash.len() > Output::MAX_LENGTH {
        return Err(format!(
            "has a hash longer than {} bytes",
            Output::MAX_LENGTH
        ));
    }
    let mut params = ParamsString::new();
    params
        .add_decimal("i", iterations)
        .and_then(|()| params.add_decimal("l", u32::try_from(hash.len()).unwrap_or(u32::MAX)))
        .map_err(|e| format!("cannot be read as PBKDF2 parameters: {e}"))?;
    Ok(Phc {
        algorithm: Ident::new(LEGACY_SCHEME).map_err(|e| e.to_string())?,
        version: None,
        params,
        salt: Some(Salt::new(&salt).map_err(|e| format!("has an unusable salt: {e}"))?),
        hash: Some(Output::new(&hash).map_err(|e| format!("has an unusable hash: {e}"))?),
    })
}

/// Remembers recent successful logins for a while, so that a client sending Basic
/// credentials with every request does not pay for the password hash every time. It
/// keeps an HMAC of the password under a key random to this process, never the
/// password.
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
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    use password_hash::PasswordHasher as _;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let first = hash_password_with_iterations("s3cret", 1000).expect("hash");
        let second = hash_password_with_iterations("s3cret", 1000).expect("hash");
        assert_ne!(first, second);
        assert!(first.starts_with("$pbkdf2-sha256$i=1000,l=32$"), "{first}");
        let parsed = PasswordHash::parse(&first).expect("parse");
        assert!(parsed.verify(b"s3cret"));
        assert!(!parsed.verify(b"s3cret "));
        assert!(!parsed.verify(b""));
        let unmatchable = parsed.unmatchable();
        assert_eq!(unmatchable.cost(), parsed.cost());
        assert!(!unmatchable.verify(b"s3cret"));
        assert!(!unmatchable.verify(b""));
    }

    /// The older form, as the earlier `hash_password` wrote it (PBKDF2-HMAC-SHA256 of
    /// "s3cret" with the salt "saltsaltsaltsalt", 1000 iterations, 32 bytes).
    #[test]
    fn the_older_form_still_verifies() {
        let salt = b"saltsaltsaltsalt";
        let mut expected = [0u8; HASH_LEN];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            std::num::NonZeroU32::new(1000).expect("non-zero"),
            salt,
            b"s3cret",
            &mut expected,
        );
        let legacy = format!(
            "pbkdf2-sha256$1000${}${}",
            STANDARD_NO_PAD.encode(salt),
            STANDARD_NO_PAD.encode(expected)
        );
        let parsed = PasswordHash::parse(&legacy).expect("the older form");
        assert!(parsed.verify(b"s3cret"));
        assert!(!parsed.verify(b"s3cret!"));
        assert!(!parsed.unmatchable().verify(b"s3cret"));
        // Padding and surrounding blanks are tolerated, as before.
        let padded = format!(
            " pbkdf2-sha256$1000${}${} ",
            base64::engine::general_purpose::STANDARD.encode(salt),
            base64::engine::general_purpose::STANDARD.encode(expected)
        );
        assert!(
            PasswordHash::parse(&padded)
                .expect("padded")
                .verify(b"s3cret")
        );
        // The same hash as a PHC string.
        let phc = format!(
            "$pbkdf2-sha256$i=1000,l=32${}${}",
            STANDARD_NO_PAD.encode(salt),
            STANDARD_NO_PAD.encode(expected)
        );
        assert!(PasswordHash::parse(&phc).expect("PHC").verify(b"s3cret"));
    }

    #[test]
    fn phc_strings_of_argon2_and_pbkdf2_sha512_verify() {
        let salt = b"a-salt-of-16-byt";
        for algorithm in [argon2::Algorithm::Argon2id, argon2::Algorithm::Argon2i] {
            let params = argon2::Params::new(64, 1, 1, Some(32)).expect("params");
            let hash: Phc = Argon2::new(algorithm, argon2::Version::V0x13, params)
                .hash_password_with_salt(b"pw", salt)
                .expect("argon2");
            let text = hash.to_string();
            let parsed = PasswordHash::parse(&text).expect("argon2 PHC");
            assert!(parsed.verify(b"pw"), "{text}");
            assert!(!parsed.verify(b"pw2"), "{text}");
            assert!(!parsed.unmatchable().verify(b"pw"), "{text}");
        }
        let argon2id = Argon2::default()
            .hash_password_customized(
                b"pw",
                salt,
                None,
                None,
                argon2::Params::new(64, 2, 1, None).expect("params"),
            )
            .expect("argon2id")
            .to_string();
        assert!(
            argon2id.starts_with("$argon2id$v=19$m=64,t=2,p=1$"),
            "{argon2id}"
        );
        assert!(PasswordHash::parse(&argon2id).expect("parse").verify(b"pw"));
        let sha512 = Pbkdf2::SHA512
            .hash_password_customized(
                b"pw",
                salt,
                None,
                None,
                pbkdf2::Params::new_with_output_len(1000, 64).expect("params"),
            )
            .expect("pbkdf2-sha512")
            .to_string();
        assert!(sha512.starts_with("$pbkdf2-sha512$"), "{sha512}");
        let parsed = PasswordHash::parse(&sha512).expect("parse");
        assert!(parsed.verify(b"pw"));
        assert!(!parsed.verify(b"p"));
    }

    #[test]
    fn refuses_malformed_hashes() {
        for (text, needle) in [
            ("", "neither a PHC string"),
            ("s3cret", "neither a PHC string"),
            (
                "pbkdf2-sha1$1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
                "scheme 'pbkdf2-sha1'",
            ),
            (
                "pbkdf2-sha256$0$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
                "at least 1000",
            ),
            (
                "pbkdf2-sha256$999$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
                "at least 1000",
            ),
            (
                "pbkdf2-sha256$4000000000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
                "at most 10000000",
            ),
            (
                "pbkdf2-sha256$x$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
                "not a positive number",
            ),
            (
                "pbkdf2-sha256$1000$!!$AAAAAAAAAAAAAAAAAAAAAA",
                "salt that is not base64",
            ),
            (
                "pbkdf2-sha256$1000$AAAA$AAAAAAAAAAAAAAAAAAAAAA",
                "salt shorter",
            ),
            (
                "pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA$AAAA",
                "hash shorter",
            ),
            (
                "pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA$x",
                "neither a PHC string",
            ),
            ("$pbkdf2-sha256$i=1000", "needs both a salt and a hash"),
            (
                "$pbkdf2-sha256$i=999$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "unusable pbkdf2-sha256 parameters",
            ),
            (
                "$pbkdf2-sha256$i=20000000,l=32$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "at most 10000000",
            ),
            (
                "$argon2id$v=19$m=1048576,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "KiB of memory",
            ),
            (
                "$argon2id$v=19$m=65536,t=100,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "passes",
            ),
            (
                "$argon2id$v=19$m=65536,t=2,p=64$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "lanes",
            ),
            (
                "$argon2id$v=7$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "version",
            ),
            (
                "$argon2d$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "argon2d",
            ),
            (
                "$scrypt$ln=16,r=8,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "'scrypt'",
            ),
            ("$", "not a valid PHC string"),
        ] {
            match PasswordHash::parse(text) {
                Ok(_) => panic!("{text:?} must be refused"),
                Err(detail) => assert!(detail.contains(needle), "{text:?}: {detail}"),
            }
        }
        assert!(hash_password_with_iterations("x", 0).is_err());
        assert!(hash_password_with_iterations("x", 999).is_err());
        assert!(hash_password_with_iterations("x", MAX_ITERATIONS + 1).is_err());
    }

    #[test]
    fn costs_compare_hashes() {
        let cheap = PasswordHash::parse(&hash_password_with_iterations("x", 1000).expect("hash"))
            .expect("parse");
        let dear = PasswordHash::parse(&hash_password_with_iterations("x", 2000).expect("hash"))
            .expect("parse");
        assert!(dear.cost() > cheap.cost());
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
