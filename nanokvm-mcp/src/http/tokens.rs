//! Who may call over HTTP, and as which principal: named bearer tokens.
//!
//! A token's name is the principal its calls run as (the policy's `grant` scope), so
//! limits with `scope: grant` count per token. Tokens come from a TOML file of
//! `name = "token"` lines (`--tokens`), from [`ENV`] (one token, named
//! [`DEFAULT_NAME`]), or are generated for one run.
//!
//! Only SHA-256 digests of the tokens are kept, and a presented token is compared with
//! every one of them in constant time, so neither the time an answer takes nor the
//! process's memory gives a token away. No message here ever contains a token: a file
//! that does not parse is reported by line number, a bad token by its name.

use std::fmt;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The environment variable that holds one token.
pub const ENV: &str = "NANOKVM_MCP_TOKEN";

/// The name of the token from [`ENV`], and of a generated one.
pub const DEFAULT_NAME: &str = "default";

/// The fewest characters a token may have: shorter ones can be guessed.
pub const MIN_LEN: usize = 16;

/// The tokens the server accepts, each with its name. `Debug` shows the names only.
#[derive(Clone)]
pub struct Tokens {
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    name: String,
    digest: [u8; 32],
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("names", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

/// Where the tokens came from; a generated token is handed back once, to be shown to
/// the operator.
#[derive(Debug)]
#[non_exhaustive]
pub enum Source {
    /// The `--tokens` file.
    File,
    /// The environment variable [`ENV`].
    Env,
    /// Generated for this run.
    Generated(SecretString),
}

impl Tokens {
    /// Parses a tokens file: `name = "token"` lines, TOML.
    ///
    /// # Errors
    ///
    /// Text that is not TOML (reported by line, without the line's text), a value that
    /// is not a string, an empty name, a token shorter than [`MIN_LEN`] or with
    /// characters an HTTP header cannot carry, one token under two names, or no token
    /// at all.
    pub fn from_toml(text: &str) -> Result<Self> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            // The parser's own message may quote the text around the error, which
            // can be a token: say where, not what.
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            match line {
                Some(line) => anyhow::anyhow!(
                    "line {line} is not a `name = \"token\"` line (TOML, the token in quotes)"
                ),
                None => anyhow::anyhow!("not `name = \"token\"` lines (TOML)"),
            }
        })?;
        let mut entries = Vec::with_capacity(table.len());
        for (name, value) in &table {
            let Some(token) = value.as_str() else {
                bail!("the token of `{name}` must be a string in quotes, as in {name} = \"...\"");
            };
            entries.push(entry(name, token)?);
        }
        Self::from_entries(entries)
    }

    /// Reads and parses a tokens file (see [`Tokens::from_toml`]). On Unix, a file that
    /// others than its owner may read is logged as a warning.
    ///
    /// # Errors
    ///
    /// A file that cannot be read, or as [`Tokens::from_toml`].
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the tokens file {}", path.display()))?;
        warn_if_shared(path);
        Self::from_toml(&text).with_context(|| format!("the tokens file {}", path.display()))
    }

    /// One token under `name`.
    ///
    /// # Errors
    ///
    /// As for a line of a tokens file.
    pub fn single(name: &str, token: &SecretString) -> Result<Self> {
        Self::from_entries(vec![entry(name, token.expose_secret())?])
    }

    /// A new random token (32 bytes from the operating system, base64url) named
    /// [`DEFAULT_NAME`], and the token itself, to show the operator once.
    ///
    /// # Errors
    ///
    /// When the system has no randomness to give.
    pub fn generate() -> Result<(Self, SecretString)> {
        use rand::TryRngCore as _;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .context("cannot generate a token: the system gave no randomness")?;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let tokens = Self::from_entries(vec![entry(DEFAULT_NAME, &token)?])?;
        Ok((tokens, SecretString::from(token)))
    }

    /// The tokens for a run: the file when one is given, else the token in the
    /// environment (`env`, the value of [`ENV`]), else a generated one.
    ///
    /// # Errors
    ///
    /// As [`Tokens::load`], [`Tokens::single`] or [`Tokens::generate`].
    pub fn resolve(file: Option<&Path>, env: Option<SecretString>) -> Result<(Self, Source)> {
        let env = env.filter(|t| !t.expose_secret().is_empty());
        if let Some(path) = file {
            if env.is_some() {
                tracing::warn!("{ENV} is set but --tokens is given: the file's tokens apply");
            }
            return Ok((Self::load(path)?, Source::File));
        }
        if let Some(token) = env {
            let tokens = Self::single(DEFAULT_NAME, &token).context(ENV)?;
            return Ok((tokens, Source::Env));
        }
        let (tokens, token) = Self::generate()?;
        Ok((tokens, Source::Generated(token)))
    }

    fn from_entries(entries: Vec<Entry>) -> Result<Self> {
        if entries.is_empty() {
            bail!("no token: add `name = \"token\"` lines");
        }
        for (i, a) in entries.iter().enumerate() {
            if let Some(b) = entries[..i].iter().find(|b| b.digest == a.digest) {
                bail!(
                    "`{}` and `{}` have the same token: give each client its own",
                    b.name,
                    a.name
                );
            }
        }
        Ok(Self { entries })
    }

    /// The names of the tokens, in the order they were given.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.name.as_str())
    }

    /// The name of the token `presented`, if it is one of these. Every token is
    /// compared, each in constant time, whatever matches.
    #[must_use]
    pub fn name_of(&self, presented: &str) -> Option<&str> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for e in &self.entries {
            if bool::from(e.digest.ct_eq(&digest)) {
                found = Some(e.name.as_str());
            }
        }
        found
    }
}

/// One checked entry. Errors name the entry, never show its token.
fn entry(name: &str, token: &str) -> Result<Entry> {
    if name.trim().is_empty() {
        bail!("a token has an empty name: the name is the policy's grant, so it must say who");
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        bail!(
            "the token of `{name}` has characters an HTTP header cannot carry (spaces, \
             non-ASCII): use letters, digits and -._~+/ only"
        );
    }
    let len = token.chars().count();
    if len < MIN_LEN {
        bail!(
            "the token of `{name}` is too short ({len} characters; at least {MIN_LEN}): use a \
             random one, e.g. from `openssl rand -hex 32`"
        );
    }
    Ok(Entry {
        name: name.to_owned(),
        digest: Sha256::digest(token.as_bytes()).into(),
    })
}

/// Warns when others than the owner may read the tokens file.
#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            file = %path.display(),
            "the tokens file may be read by others than its owner: `chmod 600` it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn a_file_names_its_tokens() {
        let tokens =
            Tokens::from_toml(&format!("alice = \"{A}\"\n\"ci bot\" = \"{B}\"\n")).expect("parses");
        assert_eq!(tokens.names().collect::<Vec<_>>(), ["alice", "ci bot"]);
        assert_eq!(tokens.name_of(A), Some("alice"));
        assert_eq!(tokens.name_of(B), Some("ci bot"));
        assert_eq!(tokens.name_of(&A[1..]), None);
        assert_eq!(tokens.name_of(""), None);
        assert_eq!(tokens.name_of(&format!("{A}a")), None);
    }

    #[test]
    fn bad_files_are_refused_without_showing_a_token() {
        let secret = "s3cr3t-s3cr3t-s3cr3t";
        for (text, says) in [
            (format!("a = \"{secret}"), "line 1"),
            (format!("ok = \"{A}\"\nb = {secret}\n"), "line 2"),
            ("a = 1234567890123456789".to_owned(), "must be a string"),
            (format!("[a]\nb = \"{secret}\""), "must be a string"),
            ("a = \"short\"".to_owned(), "too short"),
            (format!("a = \"{secret} x\""), "cannot carry"),
            (format!("\"\" = \"{secret}\""), "empty name"),
            (format!("a = \"{secret}\"\nb = \"{secret}\""), "same token"),
            (String::new(), "no token"),
        ] {
            let err = format!("{:#}", Tokens::from_toml(&text).expect_err(&text));
            assert!(err.contains(says), "{text:?}: {err}");
            assert!(!err.contains("s3cr3t"), "{text:?}: {err}");
            assert!(!err.contains("1234567890"), "{text:?}: {err}");
        }
    }

    #[test]
    fn debug_shows_names_only() {
        let tokens = Tokens::single("alice", &SecretString::from(A.to_owned())).expect("ok");
        let shown = format!("{tokens:?}");
        assert!(shown.contains("alice") && !shown.contains(A), "{shown}");
    }

    #[test]
    fn the_file_wins_then_the_environment_then_a_new_token() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("tokens.toml");
        std::fs::write(&file, format!("alice = \"{A}\"")).expect("write");
        let env = || Some(SecretString::from(B.to_owned()));

        let (tokens, source) = Tokens::resolve(Some(&file), env()).expect("file");
        assert!(matches!(source, Source::File));
        assert_eq!(tokens.name_of(A), Some("alice"));
        assert_eq!(tokens.name_of(B), None);

        let (tokens, source) = Tokens::resolve(None, env()).expect("env");
        assert!(matches!(source, Source::Env));
        assert_eq!(tokens.name_of(B), Some(DEFAULT_NAME));

        let empty = Some(SecretString::from(String::new()));
        let (tokens, source) = Tokens::resolve(None, empty).expect("generated");
        let Source::Generated(token) = source else {
            panic!("a generated token");
        };
        assert_eq!(token.expose_secret().len(), 43, "32 bytes in base64url");
        assert_eq!(tokens.name_of(token.expose_secret()), Some(DEFAULT_NAME));
        let (_, again) = Tokens::generate().expect("generated");
        assert_ne!(again.expose_secret(), token.expose_secret());
    }
}
