//! The web UI's password obfuscation, as the firmware expects it on every password field.
//!
//! The browser runs CryptoJS's passphrase mode: a random 8-byte salt, key and IV from
//! OpenSSL's `EVP_BytesToKey` with MD5 and one iteration, AES-256-CBC with PKCS#7 padding,
//! Base64 of `"Salted__" || salt || ciphertext`, and then `encodeURIComponent`. The
//! passphrase is a constant shipped in the firmware, so this hides the password from a
//! casual look at the traffic and nothing more; use HTTPS for real confidentiality.
//!
//! The URL-encoding step is not optional: the server URL-decodes first, which would turn
//! every `+` of raw Base64 into a space.

use aes::Aes256;
use base64::Engine as _;
use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use md5::{Digest, Md5};
use secrecy::{ExposeSecret, SecretString};

/// The passphrase the firmware's web UI and server share.
pub(crate) const PASSPHRASE: &[u8] = b"nanokvm-sipeed-2024";

/// Obfuscates `password` with a fresh random salt.
pub(crate) fn obfuscate(password: &SecretString) -> SecretString {
    obfuscate_with_salt(password, rand::random())
}

/// Obfuscates `password` with the given salt (deterministic, for tests).
pub(crate) fn obfuscate_with_salt(password: &SecretString, salt: [u8; 8]) -> SecretString {
    let (key, iv) = evp_bytes_to_key(PASSPHRASE, &salt);
    let ciphertext = cbc::Encryptor::<Aes256>::new(&key.into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(password.expose_secret().as_bytes());
    let mut blob = Vec::with_capacity(16 + ciphertext.len());
    blob.extend_from_slice(b"Salted__");
    blob.extend_from_slice(&salt);
    blob.extend_from_slice(&ciphertext);
    let encoded = base64::engine::general_purpose::STANDARD.encode(blob);
    SecretString::from(encode_uri_component(&encoded))
}

/// OpenSSL's `EVP_BytesToKey` with MD5 and one iteration, for a 32-byte key and a
/// 16-byte IV.
pub(crate) fn evp_bytes_to_key(passphrase: &[u8], salt: &[u8; 8]) -> ([u8; 32], [u8; 16]) {
    let mut out = [0u8; 48];
    let mut previous: Option<[u8; 16]> = None;
    for chunk in out.chunks_mut(16) {
        let mut md5 = Md5::new();
        if let Some(previous) = previous {
            md5.update(previous);
        }
        md5.update(passphrase);
        md5.update(salt);
        let digest: [u8; 16] = md5.finalize().into();
        chunk.copy_from_slice(&digest);
        previous = Some(digest);
    }
    let mut key = [0u8; 32];
    let mut iv = [0u8; 16];
    key.copy_from_slice(&out[..32]);
    iv.copy_from_slice(&out[32..]);
    (key, iv)
}

/// JavaScript's `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` is
/// percent-encoded as UTF-8.
pub(crate) fn encode_uri_component(input: &str) -> String {
    let mut out = String::with_capacity(input.len() * 3 / 2);
    for byte in input.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_derivation_matches_openssl() {
        // `openssl enc -aes-256-cbc -md md5 -S 0102030405060708 -k nanokvm-sipeed-2024 -P`
        // prints the same key and IV; the first block is MD5(pass || salt).
        let salt = [1, 2, 3, 4, 5, 6, 7, 8];
        let (key, iv) = evp_bytes_to_key(PASSPHRASE, &salt);
        let mut md5 = Md5::new();
        md5.update(PASSPHRASE);
        md5.update(salt);
        let first: [u8; 16] = md5.finalize().into();
        assert_eq!(key[..16], first);
        let mut md5 = Md5::new();
        md5.update(first);
        md5.update(PASSPHRASE);
        md5.update(salt);
        let second: [u8; 16] = md5.finalize().into();
        assert_eq!(key[16..], second);
        assert_ne!(iv, [0; 16]);
    }

    #[test]
    fn output_is_url_encoded_salted_base64() {
        let secret = SecretString::from("admin");
        let out = obfuscate_with_salt(&secret, [9; 8]);
        let text = out.expose_secret();
        assert!(!text.contains('+') && !text.contains('/') && !text.contains('='));
        // "Salted__" is "U2FsdGVkX1" in Base64.
        assert!(text.starts_with("U2FsdGVkX1"), "{text}");
        assert_ne!(
            obfuscate(&secret).expose_secret(),
            obfuscate(&secret).expose_secret()
        );
    }

    #[test]
    fn uri_component_encoding() {
        assert_eq!(encode_uri_component("a+b/c=d"), "a%2Bb%2Fc%3Dd");
        assert_eq!(encode_uri_component("-_.!~*'()"), "-_.!~*'()");
        assert_eq!(encode_uri_component("é "), "%C3%A9%20");
    }
}
