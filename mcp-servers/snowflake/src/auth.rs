//! Credentials for the SQL API: a key-pair JWT signed here (RS256), or an OAuth / programmatic
//! access token given as is.
//!
//! Key-pair JWT, as <https://docs.snowflake.com/en/developer-guide/sql-api/authenticating> and
//! <https://docs.snowflake.com/en/user-guide/key-pair-auth> document it:
//! `iss` = `<ACCOUNT>.<USER>.SHA256:<base64 SHA-256 of the DER SubjectPublicKeyInfo>`,
//! `sub` = `<ACCOUNT>.<USER>` (upper case, account without region/cloud suffix), `iat`, `exp`
//! (at most one hour later); sent as `Authorization: Bearer <jwt>` with
//! `X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT`. The token is cached and re-signed five
//! minutes before it expires, or at once after Snowflake rejects it (401, e.g. code 390144
//! "JWT token is invalid").

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// Lifetime of a signed JWT (Snowflake accepts at most one hour).
pub const JWT_LIFETIME: Duration = Duration::from_secs(59 * 60);
/// Re-sign this long before expiry.
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

/// How requests authenticate.
pub enum Credential {
    KeyPair(Box<KeyPairJwt>),
    /// `SNOWFLAKE_TOKEN` with its token type (`OAUTH` or `PROGRAMMATIC_ACCESS_TOKEN`).
    Token {
        token: SecretString,
        token_type: String,
    },
    /// Nothing usable configured: the message says what to set.
    Missing(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::KeyPair(k) => write!(f, "KeyPair({})", k.issuer),
            Credential::Token { token_type, .. } => write!(f, "Token({token_type})"),
            Credential::Missing(m) => write!(f, "Missing({m})"),
        }
    }
}

impl Credential {
    /// `(bearer token, token type)` for the next request.
    pub fn bearer(&self) -> Result<(SecretString, &str), String> {
        match self {
            Credential::KeyPair(k) => Ok((k.token()?, "KEYPAIR_JWT")),
            Credential::Token { token, token_type } => Ok((token.clone(), token_type.as_str())),
            Credential::Missing(m) => Err(m.clone()),
        }
    }

    /// Snowflake rejected the last token: forget it so the next request re-signs. Returns
    /// whether a retry can help (a static token cannot be renewed here).
    pub fn renew(&self) -> bool {
        match self {
            Credential::KeyPair(k) => {
                k.invalidate();
                true
            }
            _ => false,
        }
    }

    /// The variable a user fixes when this credential is rejected.
    pub fn variable(&self) -> &'static str {
        match self {
            Credential::KeyPair(_) => "SNOWFLAKE_PRIVATE_KEY_PATH",
            _ => "SNOWFLAKE_TOKEN",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Credential::KeyPair(k) => format!("key-pair JWT as {}", k.subject),
            Credential::Token { token_type, .. } => format!("SNOWFLAKE_TOKEN ({token_type})"),
            Credential::Missing(m) => format!("missing: {m}"),
        }
    }
}

/// A key-pair JWT signer with a cached token.
pub struct KeyPairJwt {
    key: RsaKeyPair,
    /// `ACCOUNT.USER`
    subject: String,
    /// `ACCOUNT.USER.SHA256:<fingerprint>`
    issuer: String,
    cache: Mutex<Option<(SecretString, SystemTime)>>,
    rng: SystemRandom,
}

impl KeyPairJwt {
    /// From the PEM text of an unencrypted PKCS#8 private key.
    pub fn new(account: &str, user: &str, pem: &str) -> Result<Self, String> {
        let key = load_private_key(pem)?;
        let subject = format!(
            "{}.{}",
            account_for_jwt(account),
            user.trim().to_uppercase()
        );
        let issuer = format!("{subject}.{}", public_key_fingerprint(&key));
        Ok(Self {
            key,
            subject,
            issuer,
            cache: Mutex::new(None),
            rng: SystemRandom::new(),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The cached token, or a freshly signed one when it is missing or near expiry.
    pub fn token(&self) -> Result<SecretString, String> {
        let now = SystemTime::now();
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| "the token cache lock is poisoned".to_string())?;
        if let Some((token, expires)) = cache.as_ref()
            && now + RENEW_BEFORE < *expires
        {
            return Ok(token.clone());
        }
        let token = self.sign(now)?;
        *cache = Some((token.clone(), now + JWT_LIFETIME));
        Ok(token)
    }

    /// Forget the cached token.
    pub fn invalidate(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            *cache = None;
        }
    }

    /// Sign a JWT issued at `now`.
    pub fn sign(&self, now: SystemTime) -> Result<SecretString, String> {
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| "the system clock is before 1970".to_string())?
            .as_secs();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        let claims = serde_json::json!({
            "iss": self.issuer,
            "sub": self.subject,
            "iat": iat,
            "exp": iat + JWT_LIFETIME.as_secs(),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "signing the JWT failed".to_string())?;
        Ok(SecretString::from(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

/// The account part of `iss`/`sub`: upper case, without a region or cloud suffix
/// (`xy12345.us-east-2.aws` → `XY12345`).
pub fn account_for_jwt(account: &str) -> String {
    account
        .trim()
        .split('.')
        .next()
        .unwrap_or_default()
        .to_uppercase()
}

/// Parse an unencrypted PKCS#8 PEM (`BEGIN PRIVATE KEY`). Encrypted keys and PKCS#1
/// (`BEGIN RSA PRIVATE KEY`) get a message that says how to convert them.
pub fn load_private_key(pem: &str) -> Result<RsaKeyPair, String> {
    if pem.contains("BEGIN ENCRYPTED PRIVATE KEY") {
        return Err("the private key is encrypted; encrypted keys are not supported yet: write an unencrypted copy with `openssl pkcs8 -in rsa_key.p8 -out rsa_key_plain.p8 -nocrypt` (keep it readable only by this server's user) and point SNOWFLAKE_PRIVATE_KEY_PATH at it".into());
    }
    if pem.contains("BEGIN RSA PRIVATE KEY") {
        return Err("the private key is PKCS#1 (BEGIN RSA PRIVATE KEY); convert it to PKCS#8 with `openssl pkcs8 -topk8 -inform PEM -in key.pem -out rsa_key.p8 -nocrypt`".into());
    }
    let begin = "-----BEGIN PRIVATE KEY-----";
    let end = "-----END PRIVATE KEY-----";
    let start = pem
        .find(begin)
        .ok_or("the file is not a PEM private key (no BEGIN PRIVATE KEY line)")?
        + begin.len();
    let stop = pem[start..]
        .find(end)
        .ok_or("the PEM private key has no END PRIVATE KEY line")?
        + start;
    let b64: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = STANDARD
        .decode(b64)
        .map_err(|_| "the PEM private key is not valid base64".to_string())?;
    RsaKeyPair::from_pkcs8(&der)
        .map_err(|e| format!("the private key is not a usable RSA PKCS#8 key ({e}); Snowflake needs RSA 2048-bit or larger"))
}

/// DER length octets.
fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
}

/// Wrap a PKCS#1 `RSAPublicKey` (what ring's `public_key()` gives) into the DER
/// `SubjectPublicKeyInfo` that `openssl rsa -pubout -outform DER` prints:
/// `SEQUENCE { SEQUENCE { OID rsaEncryption, NULL }, BIT STRING { 0x00, RSAPublicKey } }`.
pub fn spki_der(pkcs1: &[u8]) -> Vec<u8> {
    const ALGORITHM: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bit_string = vec![0x03];
    der_len(pkcs1.len() + 1, &mut bit_string);
    bit_string.push(0x00);
    bit_string.extend_from_slice(pkcs1);
    let mut out = vec![0x30];
    der_len(ALGORITHM.len() + bit_string.len(), &mut out);
    out.extend_from_slice(&ALGORITHM);
    out.extend(bit_string);
    out
}

/// `SHA256:<base64 of SHA-256 of the SPKI DER>`, as `DESCRIBE USER` shows in RSA_PUBLIC_KEY_FP.
pub fn public_key_fingerprint(key: &RsaKeyPair) -> String {
    let spki = spki_der(key.public_key().as_ref());
    format!("SHA256:{}", STANDARD.encode(Sha256::digest(&spki)))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn fingerprint_matches_openssl() {
        // tests/fixtures/test_only_rsa_key.fingerprint was made with
        // `openssl rsa -pubout -outform DER | openssl dgst -sha256 -binary | base64`.
        let key = load_private_key(&fixture("test_only_rsa_key.p8")).unwrap();
        let expected = fixture("test_only_rsa_key.fingerprint");
        assert_eq!(
            public_key_fingerprint(&key),
            format!("SHA256:{}", expected.trim())
        );
        // And the SPKI is byte for byte the PEM public key openssl wrote.
        let pub_pem = fixture("test_only_rsa_key.pub");
        let b64: String = pub_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert_eq!(
            spki_der(key.public_key().as_ref()),
            STANDARD.decode(b64).unwrap()
        );
    }

    #[test]
    fn claims_are_upper_case_without_region_and_short_lived() {
        let jwt = KeyPairJwt::new(
            "xy12345.us-east-2.aws",
            "sophia_bot",
            &fixture("test_only_rsa_key.p8"),
        )
        .unwrap();
        assert!(jwt.issuer().starts_with("XY12345.SOPHIA_BOT.SHA256:"));
        let token = jwt.token().unwrap();
        let parts: Vec<&str> = token.expose_secret().split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["sub"], "XY12345.SOPHIA_BOT");
        let life = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
        assert!(life <= 3600 && life > 3000, "{life}");
        // Cached until invalidated.
        assert_eq!(jwt.token().unwrap().expose_secret(), token.expose_secret());
        let later = jwt
            .sign(SystemTime::now() + Duration::from_secs(2))
            .unwrap();
        assert_ne!(later.expose_secret(), token.expose_secret());
    }

    #[test]
    fn token_near_expiry_or_invalidated_is_re_signed() {
        let jwt = KeyPairJwt::new("ACME-PROD", "bot", &fixture("test_only_rsa_key.p8")).unwrap();
        let plant = |expires: SystemTime| {
            *jwt.cache.lock().unwrap() = Some((SecretString::from("old"), expires));
        };
        plant(SystemTime::now() + Duration::from_secs(30 * 60));
        assert_eq!(jwt.token().unwrap().expose_secret(), "old", "fresh: cached");
        plant(SystemTime::now() + Duration::from_secs(60));
        assert_ne!(
            jwt.token().unwrap().expose_secret(),
            "old",
            "one minute left: re-signed"
        );
        plant(SystemTime::now() + Duration::from_secs(30 * 60));
        jwt.invalidate();
        assert_ne!(
            jwt.token().unwrap().expose_secret(),
            "old",
            "rejected: re-signed"
        );
        assert!(jwt.issuer().starts_with("ACME-PROD.BOT.SHA256:"));
    }

    #[test]
    fn encrypted_and_pkcs1_keys_say_what_to_do() {
        let e = load_private_key(&fixture("test_only_encrypted_key.p8"))
            .err()
            .unwrap();
        assert!(e.contains("encrypted keys are not supported yet"), "{e}");
        let e = load_private_key(
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
        )
        .err()
        .unwrap();
        assert!(e.contains("PKCS#8"), "{e}");
        assert!(load_private_key("hello").is_err());
    }
}
