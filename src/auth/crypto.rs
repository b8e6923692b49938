//! Crypto primitives that must match Better Auth byte-for-byte (see
//! `shared/reference/better-auth-contract.md` §2, §5, §6):
//!
//! * ids / session tokens (`generateId(32)`),
//! * password hashes: Better Auth's `"<salt hex>:<scrypt key hex>"` format plus our own Argon2id PHC strings,
//! * signed cookie values (better-call `signCookieValue`) and `encodeURIComponent`,
//! * `symmetricEncrypt` / `symmetricDecrypt` (XChaCha20-Poly1305 keyed by SHA-256 of the secret),
//! * the JWT plugin's Ed25519 JWKs as stored in the `jwks` table.
//!
//! Every verification path returns `false` / `None` on malformed input instead of panicking, because its
//! input comes from cookies, headers or database rows.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;

type HmacSha256 = Hmac<Sha256>;

const ID_ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const ID_LEN: usize = 32;

/// 32 chars from `[A-Za-z0-9]`, crypto-random with rejection sampling (Better Auth's `generateId(32)`).
pub fn generate_id() -> String {
    // Bytes >= 248 (= 4 * 62) are rejected so that `b % 62` is uniform.
    const LIMIT: u8 = 248;
    let mut rng = rand::rng();
    let mut out = String::with_capacity(ID_LEN);
    let mut buf = [0u8; 64];
    while out.len() < ID_LEN {
        rng.fill_bytes(&mut buf);
        for &b in buf.iter().filter(|&&b| b < LIMIT) {
            if out.len() == ID_LEN {
                break;
            }
            out.push(char::from(ID_ALPHABET[usize::from(b % 62)]));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Passwords
// ---------------------------------------------------------------------------------------------------------------

/// Which format [`hash_password`] writes. [`verify_password`] reads both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordScheme {
    /// PHC string `$argon2id$v=19$m=19456,t=2,p=1$...`.
    Argon2id,
    /// Better Auth's `"<32 hex salt>:<128 hex key>"` (scrypt N=16384, r=16, p=1, dkLen=64).
    BetterAuthScrypt,
}

const SCRYPT_LOG_N: u8 = 14;
const SCRYPT_R: u32 = 16;
const SCRYPT_P: u32 = 1;
const SCRYPT_KEY_LEN: usize = 64;
/// Refuse to verify Argon2 hashes asking for more than 1 GiB: allocation failure would abort the process.
const ARGON2_MAX_M_COST_KIB: u32 = 1024 * 1024;

/// Better Auth NFKC-normalizes before scrypt; we do the same for Argon2id so that both schemes accept a password
/// whatever normalization form the client's keyboard produced (e.g. "ﬁ" vs "fi").
fn normalize_password(password: &str) -> String {
    password.nfkc().collect()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    rand::rng().fill_bytes(&mut buf);
    buf
}

fn scrypt_key(normalized_password: &str, salt: &str) -> Option<[u8; SCRYPT_KEY_LEN]> {
    let params = scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P).ok()?;
    let mut key = [0u8; SCRYPT_KEY_LEN];
    // The scrypt salt is the ASCII of the hex string, not the decoded bytes (Better Auth quirk).
    scrypt::scrypt(normalized_password.as_bytes(), salt.as_bytes(), &params, &mut key).ok()?;
    Some(key)
}

/// Hash a new password.
///
/// * `Argon2id` → PHC string (`$argon2id$v=19$...`) with the crate's OWASP-recommended defaults (m=19456 KiB, t=2, p=1).
/// * `BetterAuthScrypt` → `"<32 hex salt>:<128 hex key>"` exactly like Better Auth: salt = hex(16 random bytes), the
///   scrypt salt is the ASCII bytes of that hex string, password NFKC-normalized, N=16384, r=16, p=1, dkLen=64.
pub fn hash_password(password: &str, scheme: PasswordScheme) -> String {
    let normalized = normalize_password(password);
    match scheme {
        PasswordScheme::Argon2id => {
            use argon2::PasswordHasher;
            let salt = random_bytes::<16>();
            argon2::Argon2::default()
                .hash_password_with_salt(normalized.as_bytes(), &salt)
                // Only fails for out-of-range params/salt, and both are fixed and valid here.
                .expect("argon2id with default params and a 16-byte salt cannot fail")
                .to_string()
        }
        PasswordScheme::BetterAuthScrypt => {
            let salt = hex::encode(random_bytes::<16>());
            let key = scrypt_key(&normalized, &salt)
                .expect("scrypt with fixed valid params and a 64-byte output cannot fail");
            format!("{salt}:{}", hex::encode(key))
        }
    }
}

/// Verify `password` against a stored hash of either format: `$argon2…` PHC strings, otherwise Better Auth's
/// `salt:key`. Comparisons are constant-time. A malformed hash gives `false`, never a panic.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let normalized = normalize_password(password);
    if stored.starts_with("$argon2") { verify_argon2(&normalized, stored) } else { verify_scrypt(&normalized, stored) }
}

fn verify_argon2(normalized_password: &str, stored: &str) -> bool {
    use argon2::{PasswordHash, PasswordVerifier};
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    match argon2::Params::try_from(&hash) {
        Ok(params) if params.m_cost() <= ARGON2_MAX_M_COST_KIB => {}
        _ => return false,
    }
    // The verifier takes algorithm, version and params from the hash itself and compares in constant time.
    argon2::Argon2::default().verify_password(normalized_password.as_bytes(), &hash).is_ok()
}

fn verify_scrypt(normalized_password: &str, stored: &str) -> bool {
    let Some((salt, key_hex)) = stored.split_once(':') else {
        return false;
    };
    if salt.is_empty() {
        return false;
    }
    let mut expected = [0u8; SCRYPT_KEY_LEN];
    if hex::decode_to_slice(key_hex, &mut expected).is_err() {
        return false;
    }
    match scrypt_key(normalized_password, salt) {
        Some(key) => key.ct_eq(&expected).into(),
        None => false,
    }
}

/// Argon2id hash (default params) of a throwaway password that no account uses.
const DUMMY_ARGON2ID_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$6srjNig57iS05DPdqrDTDA$KHl9EFSSA6PGzoz8HY1eXpuaJkwnDwu48ih/McxR+oc";
/// Better Auth scrypt hash of a throwaway password that no account uses.
const DUMMY_SCRYPT_HASH: &str = "3b747238a05f556ed89a99184efbf1fa:1710f6464bbe75998143298633831e6dd81f22530cfacddde3f5c91a3a6225649fc34a211d445276079419920ef531a537d252c91bf6fc88c51d015f6539b927";

/// Spend the same time as verifying a real password, so an unknown email answers as slowly as a wrong password
/// (Better Auth hashes anyway on sign-in for the same reason).
///
/// The caller picks `scheme` to match the format most stored hashes use, since the two schemes cost different
/// amounts of time. Calling it is cheap apart from that one verification: the dummy hashes are constants, so no
/// hash has to be created first. The result is discarded.
pub fn burn_password_check(password: &str, scheme: PasswordScheme) {
    let dummy = match scheme {
        PasswordScheme::Argon2id => DUMMY_ARGON2ID_HASH,
        PasswordScheme::BetterAuthScrypt => DUMMY_SCRYPT_HASH,
    };
    // black_box keeps the optimizer from discarding the unused result and with it the work.
    std::hint::black_box(verify_password(password, dummy));
}

// ---------------------------------------------------------------------------------------------------------------
// Signed cookies
// ---------------------------------------------------------------------------------------------------------------

fn hmac_sha256(secret: &str) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length")
}

/// Signed cookie value as better-call writes it, before percent-encoding:
/// `token + "." + base64std_padded(HMAC-SHA256(key = secret, msg = token))`.
pub fn sign_cookie_value(token: &str, secret: &str) -> String {
    let tag = hmac_sha256(secret).chain_update(token.as_bytes()).finalize().into_bytes();
    format!("{token}.{}", STANDARD.encode(tag))
}

/// Verify an already percent-decoded signed cookie value and return its token.
///
/// Like better-call's `getSignedCookie`: split at the last `.`, the signature must be exactly 44 chars ending in
/// `=`, then the HMAC is checked in constant time.
pub fn verify_signed_value(value: &str, secret: &str) -> Option<String> {
    let (token, signature) = value.rsplit_once('.')?;
    if token.is_empty() || signature.len() != 44 || !signature.ends_with('=') {
        return None;
    }
    let tag = STANDARD.decode(signature).ok()?;
    hmac_sha256(secret).chain_update(token.as_bytes()).verify_slice(&tag).ok()?;
    Some(token.to_owned())
}

/// `encodeURIComponent`: keeps `A-Z a-z 0-9 - _ . ! ~ * ' ( )`, encodes every other UTF-8 byte as uppercase `%XX`.
pub fn encode_uri_component(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Percent-decode like `decodeURIComponent` (`+` stays `+`). A `%` not followed by two hex digits, or bytes that
/// are not UTF-8, give `None` (where JavaScript would throw).
pub fn decode_uri_component(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hi = char::from(hex[0]).to_digit(16)?;
            let lo = char::from(hex[1]).to_digit(16)?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------------------------------------------
// symmetricEncrypt / symmetricDecrypt
// ---------------------------------------------------------------------------------------------------------------

const XNONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const ENVELOPE_PREFIX: &str = "$ba$";

fn symmetric_cipher(secret: &str) -> XChaCha20Poly1305 {
    let key = Sha256::digest(secret.as_bytes());
    XChaCha20Poly1305::new(&key)
}

/// Better Auth's `symmetricEncrypt`: key = SHA-256(secret), random 24-byte nonce, XChaCha20-Poly1305;
/// returns lowercase `hex(nonce || ciphertext || tag)` (@noble `managedNonce` layout).
pub fn symmetric_encrypt(secret: &str, plaintext: &str) -> String {
    let nonce_bytes = random_bytes::<XNONCE_LEN>();
    let nonce = XNonce::from(nonce_bytes);
    let ciphertext = symmetric_cipher(secret)
        .encrypt(&nonce, plaintext.as_bytes())
        // Only fails for plaintexts beyond ChaCha20's 256 GiB limit.
        .expect("XChaCha20-Poly1305 encryption of an in-memory string cannot fail");
    let mut out = Vec::with_capacity(XNONCE_LEN + ciphertext.len());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&ciphertext);
    hex::encode(out)
}

/// Inverse of [`symmetric_encrypt`]. Also accepts the versioned envelope `$ba$<version>$<hex>` written when Better
/// Auth is configured with rotating `secrets`; the caller must pass the secret of that version. Any error → `None`.
pub fn symmetric_decrypt(secret: &str, hex_data: &str) -> Option<String> {
    let hex_part = match hex_data.strip_prefix(ENVELOPE_PREFIX) {
        Some(rest) => {
            let (version, hex_part) = rest.split_once('$')?;
            if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            hex_part
        }
        None => hex_data,
    };
    let data = hex::decode(hex_part).ok()?;
    if data.len() < XNONCE_LEN + TAG_LEN {
        return None;
    }
    let (nonce, ciphertext) = data.split_at(XNONCE_LEN);
    let nonce = XNonce::try_from(nonce).ok()?;
    let plaintext = symmetric_cipher(secret).decrypt(&nonce, ciphertext).ok()?;
    String::from_utf8(plaintext).ok()
}

// ---------------------------------------------------------------------------------------------------------------
// Ed25519 JWKs (jwt plugin)
// ---------------------------------------------------------------------------------------------------------------

/// An Ed25519 key pair as JWK members (base64url without padding): `d` is the 32-byte seed, `x` the public key.
#[derive(Clone, PartialEq, Eq)]
pub struct Ed25519Jwk {
    pub d: String,
    pub x: String,
}

/// Hand-written so that the private seed never lands in a log.
impl std::fmt::Debug for Ed25519Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ed25519Jwk").field("d", &"<redacted>").field("x", &self.x).finish()
    }
}

/// Private JWK with members in jose's `exportJWK` order, which Better Auth stores verbatim.
#[derive(Serialize)]
struct PrivateJwkOut<'a> {
    crv: &'a str,
    d: &'a str,
    x: &'a str,
    kty: &'a str,
}

#[derive(Serialize)]
struct PublicJwkOut<'a> {
    crv: &'a str,
    x: &'a str,
    kty: &'a str,
}

#[derive(Deserialize)]
struct JwkIn {
    kty: Option<String>,
    crv: Option<String>,
    d: String,
    x: Option<String>,
}

const ED25519_SEED_LEN: usize = 32;
/// PKCS#8 v1 header for an Ed25519 private key (RFC 8410): SEQ { INTEGER 0, SEQ { OID 1.3.101.112 }, OCTET STRING
/// { OCTET STRING (32 bytes) } }.
const ED25519_PKCS8_V1_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

fn decode_seed(d_b64url: &str) -> Option<[u8; ED25519_SEED_LEN]> {
    URL_SAFE_NO_PAD.decode(d_b64url).ok()?.try_into().ok()
}

/// Generate a new Ed25519 key pair (aws-lc's RNG); `d` is the seed.
pub fn generate_ed25519() -> Ed25519Jwk {
    use aws_lc_rs::encoding::AsBigEndian;
    let pair = Ed25519KeyPair::generate().expect("Ed25519 key generation failed (system RNG unavailable)");
    let seed =
        pair.seed().and_then(|seed| seed.as_be_bytes()).expect("a freshly generated Ed25519 key exposes its seed");
    Ed25519Jwk { d: URL_SAFE_NO_PAD.encode(seed.as_ref()), x: URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()) }
}

/// PKCS#8 v1 DER (`302e020100300506032b657004220420 || seed`) for a JWK `d`; `None` unless `d` is 32 bytes.
pub fn ed25519_pkcs8_der_from_d(d_b64url: &str) -> Option<Vec<u8>> {
    let seed = decode_seed(d_b64url)?;
    let mut der = Vec::with_capacity(ED25519_PKCS8_V1_PREFIX.len() + ED25519_SEED_LEN);
    der.extend_from_slice(&ED25519_PKCS8_V1_PREFIX);
    der.extend_from_slice(&seed);
    Some(der)
}

/// Public key `x` (base64url) derived from `d`, to check that a stored key is consistent.
pub fn ed25519_public_from_d(d_b64url: &str) -> Option<String> {
    let seed = decode_seed(d_b64url)?;
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).ok()?;
    Some(URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()))
}

/// The `jwks.privateKey` column as Better Auth writes it: a JSON string literal (quotes included) holding
/// `symmetric_encrypt(secret, {"crv":"Ed25519","d":…,"x":…,"kty":"OKP"})`.
pub fn encrypt_private_jwk(secret: &str, jwk: &Ed25519Jwk) -> String {
    let plain = serde_json::to_string(&PrivateJwkOut { crv: "Ed25519", d: &jwk.d, x: &jwk.x, kty: "OKP" })
        .expect("serializing string fields cannot fail");
    serde_json::Value::String(symmetric_encrypt(secret, &plain)).to_string()
}

/// Inverse of [`encrypt_private_jwk`]. Also accepts a plain JSON JWK object (Better Auth's
/// `jwks.disablePrivateKeyEncryption`). A missing `x` is derived from `d`; a stored `x` is returned as is, so
/// callers should compare it with [`ed25519_public_from_d`].
pub fn decrypt_private_jwk(secret: &str, column: &str) -> Option<Ed25519Jwk> {
    let jwk: JwkIn = match serde_json::from_str::<serde_json::Value>(column).ok()? {
        serde_json::Value::String(ciphertext) => serde_json::from_str(&symmetric_decrypt(secret, &ciphertext)?).ok()?,
        object @ serde_json::Value::Object(_) => serde_json::from_value(object).ok()?,
        _ => return None,
    };
    if jwk.kty.as_deref().is_some_and(|kty| kty != "OKP") || jwk.crv.as_deref().is_some_and(|crv| crv != "Ed25519") {
        return None;
    }
    decode_seed(&jwk.d)?;
    let x = match jwk.x {
        Some(x) => x,
        None => ed25519_public_from_d(&jwk.d)?,
    };
    Some(Ed25519Jwk { d: jwk.d, x })
}

/// The `jwks.publicKey` column: `{"crv":"Ed25519","x":…,"kty":"OKP"}` in that member order.
pub fn public_jwk_json(x: &str) -> String {
    serde_json::to_string(&PublicJwkOut { crv: "Ed25519", x, kty: "OKP" })
        .expect("serializing string fields cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};

    // Values copied from shared/fixtures/better-auth/fixtures.json (written by a real Better Auth 1.7.25 server), so
    // this module carries its own test data wherever it lives.
    const SECRET: &str = "research-secret-0123456789abcdef0123456789abcdef";
    const HASHES: [(&str, &str); 3] = [
        (
            "newpassword123",
            "51b5fd0a5f9ff668a252fd65596c51c0:b2f206b76c9ec14bb471f62814cec5c3ff2e5052e7473c87ef84f55d46a544a67181a217821199d9b1a137b8bf64e8984e2f8afb37507099838bfea51defe784",
        ),
        (
            "\u{fb01}anc\u{e9}-P\u{e4}ssw\u{f6}rd-\u{2713}",
            "ffbb1b3562edaa4f54799f9b8f0a930f:6ec339eeffca6ef2c9b850237bcf0157a7d106868674710a3932f041ef9a8b47ba0b6b5e529689ee9ef49524b6555436b596422b1bd1cf3604fceceed90cff6b",
        ),
        (
            "password123",
            "997dea7801a883214fb989f75e894d08:996a51a06a8e1cae1a0001c9b50f333036d0929c865b1c050318cb3a6ef2a0e6717c688766550cf78739e796eb01995debf9f4220ef1708d12075e37f4bb7f7c",
        ),
    ];
    const COOKIE_TOKEN: &str = "UqCNeS8uaaPqfMM3KgFgtXAJBOXyhUzJ";
    const COOKIE_DECODED: &str = "UqCNeS8uaaPqfMM3KgFgtXAJBOXyhUzJ.sY2OqHa9drU9PUakZpkmbKmAN9z0nDSYZMASe8L5FHk=";
    const COOKIE_URLENCODED: &str = "UqCNeS8uaaPqfMM3KgFgtXAJBOXyhUzJ.sY2OqHa9drU9PUakZpkmbKmAN9z0nDSYZMASe8L5FHk%3D";
    const PRIVATE_KEY_COLUMN: &str = "\"45bdee28c1fe8431dc96fe91272859242f9f679b267b0f43d1dca4fd519298116576e2d1099f14df986d297697b4f3a08c3f66212c87ef2c8db7ca84527f820b92bd24530fd92084f29769bc8374725a33520b3bc665937f60058d66090a68d7fc17dfa0a0a241cc240cc544b3b922e1499d9166f9d187a9d165ff3801269fa573c92366ee3d4dc4ef41a018884b1d8e46e52c0d6a46f46b8d44b43ada5a7598c7f9eee41a1d78408b\"";
    const PRIVATE_D: &str = "BLJzkTmAy9AkgF5yiUdxkiPCrIqxMoiibPtJPPG1Fu4";
    const PUBLIC_X: &str = "ncevnnNnBSSoC4U8or2frOoRERUnbZAv-9LUqLKpql8";
    const PUBLIC_KEY_COLUMN: &str =
        r#"{"crv":"Ed25519","x":"ncevnnNnBSSoC4U8or2frOoRERUnbZAv-9LUqLKpql8","kty":"OKP"}"#;
    const JWT: &str = concat!(
        "eyJhbGciOiJFZERTQSIsImtpZCI6IjhhQ1lqbHdKUDFmUFBZVlRXZVlUbWttRk5KQlltUUdqIn0.",
        "eyJpYXQiOjE3OTUzMjI0MDUsIm5hbWUiOiJBbGljZSIsImVtYWlsIjoiYWxpY2VAZXhhbXBsZS5jb20iLCJlbWFpbFZlcmlmaWVkIjpmYWxzZSwi",
        "aW1hZ2UiOm51bGwsImNyZWF0ZWRBdCI6IjIwMjYtMTEtMjJUMDQ6MzY6MjMuMTY0WiIsInVwZGF0ZWRBdCI6IjIwMjYtMTEtMjJUMDQ6Mzc6MTku",
        "ODI3WiIsImlkIjoiUXpQdEtzeGVLdVpUSmZzeVlQbWgzcVkxdG5KdVZLdnIiLCJzdWIiOiJRelB0S3N4ZUt1WlRKZnN5WVBtaDNxWTF0bkp1Vkt2",
        "ciIsImV4cCI6MTc5NTMyMzMwNSwiaXNzIjoiaHR0cDovLzEyNy4wLjAuMTozMDA1IiwiYXVkIjoiaHR0cDovLzEyNy4wLjAuMTozMDA1In0.",
        "oz9saWGjb79dTrUDTY6pvHCUU2QGEDdFyesJVbLCmk1ZGxtlziKf6navbipkGhE9pdy8dty7lTAW_qH7DKh3CA",
    );

    fn is_lower_hex(s: &str, len: usize) -> bool {
        s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    #[test]
    fn generate_id_is_32_alphanumerics_and_random() {
        let a = generate_id();
        let b = generate_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        // All 62 symbols should show up over many ids; a modulo/alphabet bug would leave some out.
        let seen: std::collections::HashSet<char> =
            (0..200).flat_map(|_| generate_id().chars().collect::<Vec<_>>()).collect();
        assert_eq!(seen.len(), 62);
    }

    #[test]
    fn fixture_hashes_verify_and_reject_wrong_passwords() {
        for (password, hash) in HASHES {
            assert!(verify_password(password, hash), "fixture hash #{hash:.8} must verify");
            assert!(!verify_password(&format!("{password}x"), hash));
            assert!(!verify_password("", hash));
        }
    }

    #[test]
    fn unicode_password_verifies_in_ligature_and_plain_form() {
        let (ligature, hash) = HASHES[1];
        let plain = "fianc\u{e9}-P\u{e4}ssw\u{f6}rd-\u{2713}";
        assert_ne!(ligature, plain);
        assert!(verify_password(ligature, hash));
        assert!(verify_password(plain, hash));
        // Decomposed accents (NFD input) normalize to the same NFKC string.
        assert!(verify_password("fiance\u{301}-Pa\u{308}sswo\u{308}rd-\u{2713}", hash));
    }

    #[test]
    fn new_scrypt_hash_has_better_auth_format_and_verifies() {
        let hash = hash_password("correct horse", PasswordScheme::BetterAuthScrypt);
        let (salt, key) = hash.split_once(':').expect("salt:key");
        assert!(is_lower_hex(salt, 32), "salt must be 32 lowercase hex");
        assert!(is_lower_hex(key, 128), "key must be 128 lowercase hex");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horse!", &hash));
        assert_ne!(hash, hash_password("correct horse", PasswordScheme::BetterAuthScrypt));
        // Same recipe as Better Auth: the scrypt salt is the hex text itself.
        let expected = scrypt_key("correct horse", salt).expect("scrypt");
        assert_eq!(key, hex::encode(expected));
    }

    #[test]
    fn argon2id_round_trip() {
        let hash = hash_password("s3cret-\u{fb01}", PasswordScheme::Argon2id);
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("s3cret-\u{fb01}", &hash));
        assert!(verify_password("s3cret-fi", &hash));
        assert!(!verify_password("s3cret-fl", &hash));
        assert_ne!(hash, hash_password("s3cret-\u{fb01}", PasswordScheme::Argon2id));
    }

    #[test]
    fn malformed_hashes_are_rejected_without_panic() {
        let key128 = "0".repeat(128);
        let malformed = [
            String::new(),
            ":".to_owned(),
            "no-colon".to_owned(),
            format!(":{key128}"),
            "51b5fd0a5f9ff668a252fd65596c51c0:".to_owned(),
            "51b5fd0a5f9ff668a252fd65596c51c0:zz".to_owned(),
            format!("51b5fd0a5f9ff668a252fd65596c51c0:{}", "0".repeat(126)),
            format!("51b5fd0a5f9ff668a252fd65596c51c0:{key128}:extra"),
            "51b5fd0a5f9ff668a252fd65596c51c0:\u{e9}\u{e9}".to_owned(),
            "$argon2".to_owned(),
            "$argon2id$".to_owned(),
            "$argon2id$v=19$m=19456,t=2,p=1$".to_owned(),
            "$argon2id$v=19$m=19456,t=2,p=1$not*base64$AAAA".to_owned(),
            "$argon2id$v=99$m=19456,t=2,p=1$6srjNig57iS05DPdqrDTDA$KHl9EFSSA6PGzoz8HY1eXpuaJkwnDwu48ih/McxR+oc"
                .to_owned(),
            "$argon2id$v=19$m=4294967295,t=2,p=1$6srjNig57iS05DPdqrDTDA$KHl9EFSSA6PGzoz8HY1eXpuaJkwnDwu48ih/McxR+oc"
                .to_owned(),
            "$argon2id$v=19$m=1,t=0,p=0$6srjNig57iS05DPdqrDTDA$KHl9EFSSA6PGzoz8HY1eXpuaJkwnDwu48ih/McxR+oc".to_owned(),
            "$argon2xx$v=19$m=19456,t=2,p=1$6srjNig57iS05DPdqrDTDA$KHl9EFSSA6PGzoz8HY1eXpuaJkwnDwu48ih/McxR+oc"
                .to_owned(),
        ];
        for stored in &malformed {
            assert!(!verify_password("password123", stored), "accepted malformed hash {stored:?}");
        }
    }

    #[test]
    fn burn_targets_are_well_formed_so_they_cost_a_full_verification() {
        // A malformed dummy would return early and defeat the timing equalization.
        let parsed = argon2::PasswordHash::new(DUMMY_ARGON2ID_HASH).expect("dummy argon2 hash parses");
        let params = argon2::Params::try_from(&parsed).expect("dummy argon2 params");
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (argon2::Params::DEFAULT_M_COST, argon2::Params::DEFAULT_T_COST, argon2::Params::DEFAULT_P_COST)
        );
        let (salt, key) = DUMMY_SCRYPT_HASH.split_once(':').expect("salt:key");
        assert!(is_lower_hex(salt, 32) && is_lower_hex(key, 128));
        assert!(!verify_password("password123", DUMMY_ARGON2ID_HASH));
        assert!(!verify_password("password123", DUMMY_SCRYPT_HASH));
        burn_password_check("password123", PasswordScheme::Argon2id);
        burn_password_check("password123", PasswordScheme::BetterAuthScrypt);
    }

    #[test]
    fn fixture_session_cookie_signs_and_encodes_exactly() {
        let signed = sign_cookie_value(COOKIE_TOKEN, SECRET);
        assert_eq!(signed, COOKIE_DECODED);
        assert_eq!(encode_uri_component(&signed), COOKIE_URLENCODED);
        assert_eq!(decode_uri_component(COOKIE_URLENCODED).as_deref(), Some(COOKIE_DECODED));
        assert_eq!(verify_signed_value(COOKIE_DECODED, SECRET).as_deref(), Some(COOKIE_TOKEN));
    }

    #[test]
    fn verify_signed_value_rejects_tampering() {
        let (token, sig) = COOKIE_DECODED.rsplit_once('.').expect("fixture has a signature");
        let flip = |s: &str, i: usize| -> String {
            let mut b = s.as_bytes().to_vec();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            String::from_utf8(b).expect("ascii")
        };
        // Flipped char in the signature, and in the token.
        assert_eq!(verify_signed_value(&format!("{token}.{}", flip(sig, 5)), SECRET), None);
        assert_eq!(verify_signed_value(&format!("{}.{sig}", flip(token, 0)), SECRET), None);
        // Missing or empty signature, unsigned token.
        assert_eq!(verify_signed_value(token, SECRET), None);
        assert_eq!(verify_signed_value(&format!("{token}."), SECRET), None);
        // Short signature, and a 44-char one not ending in '='.
        assert_eq!(verify_signed_value(&format!("{token}.{}", &sig[..43]), SECRET), None);
        assert_eq!(verify_signed_value(&format!("{token}.{}A", &sig[..43]), SECRET), None);
        // Not base64, empty token, wrong secret, still-encoded value.
        assert_eq!(verify_signed_value(&format!("{token}.{}=", "*".repeat(43)), SECRET), None);
        assert_eq!(verify_signed_value(&format!(".{sig}"), SECRET), None);
        assert_eq!(verify_signed_value(COOKIE_DECODED, "another-secret"), None);
        assert_eq!(verify_signed_value(COOKIE_URLENCODED, SECRET), None);
    }

    #[test]
    fn signature_is_taken_after_the_last_dot() {
        let signed = sign_cookie_value("a.b", SECRET);
        assert_eq!(verify_signed_value(&signed, SECRET).as_deref(), Some("a.b"));
    }

    #[test]
    fn uri_component_matches_javascript() {
        // Expected output from node: encodeURIComponent("a b&c=d/é✓-_.!~*'()+%")
        let s = "a b&c=d/\u{e9}\u{2713}-_.!~*'()+%";
        let encoded = encode_uri_component(s);
        assert_eq!(encoded, "a%20b%26c%3Dd%2F%C3%A9%E2%9C%93-_.!~*'()%2B%25");
        assert_eq!(decode_uri_component(&encoded).as_deref(), Some(s));
        assert_eq!(decode_uri_component("a+b%2b%2B").as_deref(), Some("a+b++"));
        for bad in ["%", "%4", "%zz", "%C3", "%FF", "abc%e2%9c"] {
            assert_eq!(decode_uri_component(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fixture_private_key_decrypts_to_the_stored_jwk() {
        let hex_data: String = serde_json::from_str(PRIVATE_KEY_COLUMN).expect("column is a JSON string");
        let plaintext = symmetric_decrypt(SECRET, &hex_data).expect("decrypts with the fixture secret");
        // Byte-exact: also pins the member order encrypt_private_jwk must write.
        let expected = format!(r#"{{"crv":"Ed25519","d":"{PRIVATE_D}","x":"{PUBLIC_X}","kty":"OKP"}}"#);
        assert_eq!(plaintext, expected);

        let jwk = decrypt_private_jwk(SECRET, PRIVATE_KEY_COLUMN).expect("column decrypts");
        assert_eq!(jwk, Ed25519Jwk { d: PRIVATE_D.to_owned(), x: PUBLIC_X.to_owned() });
        assert_eq!(ed25519_public_from_d(&jwk.d).as_deref(), Some(PUBLIC_X));
        assert_eq!(public_jwk_json(&jwk.x), PUBLIC_KEY_COLUMN);
        assert_eq!(decrypt_private_jwk("wrong-secret", PRIVATE_KEY_COLUMN), None);
    }

    #[test]
    fn symmetric_decrypt_handles_envelope_and_rejects_garbage() {
        let hex_data: String = serde_json::from_str(PRIVATE_KEY_COLUMN).expect("column is a JSON string");
        let plain = symmetric_decrypt(SECRET, &hex_data).expect("fixture decrypts");
        assert_eq!(symmetric_decrypt(SECRET, &format!("$ba$1${hex_data}")).as_deref(), Some(plain.as_str()));
        assert_eq!(symmetric_decrypt(SECRET, &hex_data.to_uppercase()).as_deref(), Some(plain.as_str()));
        assert_eq!(symmetric_decrypt(SECRET, &format!("$ba$x${hex_data}")), None);
        assert_eq!(symmetric_decrypt(SECRET, &format!("$ba${hex_data}")), None);
        // Flip one ciphertext bit: the Poly1305 tag must catch it.
        let mut bytes = hex::decode(&hex_data).expect("hex");
        bytes[30] ^= 1;
        assert_eq!(symmetric_decrypt(SECRET, &hex::encode(&bytes)), None);
        assert_eq!(symmetric_decrypt(SECRET, &hex_data[..78]), None);
        assert_eq!(symmetric_decrypt(SECRET, "not hex"), None);
        assert_eq!(symmetric_decrypt(SECRET, ""), None);
    }

    #[test]
    fn symmetric_round_trip_uses_fresh_nonces() {
        let a = symmetric_encrypt(SECRET, "hello \u{2713}");
        let b = symmetric_encrypt(SECRET, "hello \u{2713}");
        assert_ne!(a, b);
        // nonce (24) + plaintext (9 UTF-8 bytes) + tag (16), hex-encoded.
        assert!(is_lower_hex(&a, 2 * (24 + 9 + 16)));
        assert_eq!(symmetric_decrypt(SECRET, &a).as_deref(), Some("hello \u{2713}"));
        assert_eq!(symmetric_decrypt(SECRET, &b).as_deref(), Some("hello \u{2713}"));
        assert_eq!(symmetric_decrypt("other", &a), None);
    }

    #[test]
    fn private_jwk_round_trip_and_plain_column() {
        let jwk = generate_ed25519();
        let column = encrypt_private_jwk(SECRET, &jwk);
        let inner: String = serde_json::from_str(&column).expect("column is a JSON string literal");
        assert!(is_lower_hex(&inner, inner.len()));
        assert_eq!(decrypt_private_jwk(SECRET, &column).as_ref(), Some(&jwk));

        // disablePrivateKeyEncryption stores the JWK object itself; x may be derived when absent.
        let plain = format!(r#"{{"crv":"Ed25519","d":"{PRIVATE_D}","x":"{PUBLIC_X}","kty":"OKP"}}"#);
        assert_eq!(decrypt_private_jwk(SECRET, &plain).map(|j| j.x).as_deref(), Some(PUBLIC_X));
        let no_x = format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{PRIVATE_D}"}}"#);
        assert_eq!(decrypt_private_jwk(SECRET, &no_x).map(|j| j.x).as_deref(), Some(PUBLIC_X));

        for bad in [
            String::new(),
            "42".to_owned(),
            "\"zz\"".to_owned(),
            format!(r#"{{"kty":"EC","crv":"P-256","d":"{PRIVATE_D}"}}"#),
            r#"{"kty":"OKP","crv":"Ed25519","d":"c2hvcnQ"}"#.to_owned(),
            r#"{"kty":"OKP","crv":"Ed25519"}"#.to_owned(),
        ] {
            assert_eq!(decrypt_private_jwk(SECRET, &bad), None, "{bad:?}");
        }
    }

    #[test]
    fn generated_key_is_consistent() {
        let jwk = generate_ed25519();
        assert_eq!(URL_SAFE_NO_PAD.decode(&jwk.d).expect("b64url").len(), 32);
        assert_eq!(ed25519_public_from_d(&jwk.d).as_deref(), Some(jwk.x.as_str()));
        let der = ed25519_pkcs8_der_from_d(&jwk.d).expect("32-byte d");
        let pair = Ed25519KeyPair::from_pkcs8(&der).expect("aws-lc parses our PKCS#8 v1");
        assert_eq!(URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()), jwk.x);
        assert_ne!(generate_ed25519().d, jwk.d);
        assert!(!format!("{jwk:?}").contains(&jwk.d), "Debug must not leak d");
    }

    #[test]
    fn pkcs8_der_layout_and_bad_d() {
        let der = ed25519_pkcs8_der_from_d(PRIVATE_D).expect("fixture d");
        assert_eq!(hex::encode(&der[..16]), "302e020100300506032b657004220420");
        assert_eq!(der[16..], URL_SAFE_NO_PAD.decode(PRIVATE_D).expect("b64url")[..]);
        let short = URL_SAFE_NO_PAD.encode([7u8; 31]);
        assert_eq!(ed25519_pkcs8_der_from_d(&short), None);
        assert_eq!(ed25519_pkcs8_der_from_d("***"), None);
        assert_eq!(ed25519_public_from_d(&short), None);
        assert_eq!(ed25519_public_from_d(""), None);
    }

    #[test]
    fn resigning_fixture_jwt_reproduces_its_signature() {
        let (signing_input, signature_b64) = JWT.rsplit_once('.').expect("JWT has a signature");
        let signature = URL_SAFE_NO_PAD.decode(signature_b64).expect("b64url signature");

        let jwk = decrypt_private_jwk(SECRET, PRIVATE_KEY_COLUMN).expect("fixture key");
        let der = ed25519_pkcs8_der_from_d(&jwk.d).expect("32-byte d");
        let from_pkcs8 = Ed25519KeyPair::from_pkcs8(&der).expect("PKCS#8 v1 accepted");
        assert_eq!(from_pkcs8.sign(signing_input.as_bytes()).as_ref(), &signature[..]);

        let seed = URL_SAFE_NO_PAD.decode(&jwk.d).expect("b64url d");
        let public = URL_SAFE_NO_PAD.decode(&jwk.x).expect("b64url x");
        let from_seed = Ed25519KeyPair::from_seed_and_public_key(&seed, &public).expect("d and x match");
        assert_eq!(from_seed.sign(signing_input.as_bytes()).as_ref(), &signature[..]);

        // And the published public key verifies it, as a separate backend would via /jwks.
        let verifier = UnparsedPublicKey::new(&ED25519, &public);
        assert!(verifier.verify(signing_input.as_bytes(), &signature).is_ok());
        assert!(verifier.verify(b"tampered", &signature).is_err());
    }
}
