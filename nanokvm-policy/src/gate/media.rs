//! The operator's limits on where images come from: the hosts a device may download
//! from, and the one local directory uploads are read from.
//!
//! Both are refusals of the gate's configuration, checked before the policy decides,
//! so a refused call costs no quota. A download host matches exactly, or `*.example.org`
//! matches `example.org` and every name below it. An upload path is read inside the
//! upload directory after every symbolic link is resolved: a link that leads out of it
//! is refused like a `..`.

use std::path::{Path, PathBuf};

use crate::catalogue::values::{ImageUrl, UploadPath};

/// The rule a refused download names.
pub(crate) const RULE_DOWNLOAD_HOSTS: &str = "(download_hosts)";
/// The rule a refused upload names.
pub(crate) const RULE_UPLOAD_DIR: &str = "(upload_dir)";

/// Whether `url`'s host is one of `hosts`; the refusal says why not.
pub(crate) fn check_download(hosts: &[String], url: &ImageUrl) -> Result<(), String> {
    let host = url.host();
    if hosts.is_empty() {
        return Err(
            "downloads are off: the operator allows no download hosts (download_hosts in the \
             device configuration, or --download-host)"
                .to_owned(),
        );
    }
    if hosts.iter().any(|pattern| host_matches(pattern, &host)) {
        Ok(())
    } else {
        Err(format!(
            "the host `{host}` is not one the operator allows downloads from ({})",
            hosts.join(", ")
        ))
    }
}

fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim().trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(domain) => {
            host == domain
                || host
                    .strip_suffix(domain)
                    .is_some_and(|rest| rest.ends_with('.'))
        }
        None => host == pattern,
    }
}

/// The file `path` names inside `dir`, with every link resolved; the refusal says why
/// it cannot be uploaded.
pub(crate) fn resolve_upload(dir: Option<&Path>, path: &UploadPath) -> Result<PathBuf, String> {
    let Some(dir) = dir else {
        return Err(
            "uploads are off: the operator set no upload directory (upload_dir in the device \
             configuration, or --upload-dir)"
                .to_owned(),
        );
    };
    let root = dir
        .canonicalize()
        .map_err(|e| format!("the upload directory {} cannot be read: {e}", dir.display()))?;
    let asked = Path::new(path.as_str());
    let joined = if asked.is_absolute() {
        asked.to_owned()
    } else {
        root.join(asked)
    };
    let real = joined.canonicalize().map_err(|e| {
        format!(
            "`{}` cannot be read in the upload directory: {e}",
            path.as_str()
        )
    })?;
    if !real.starts_with(&root) {
        return Err(format!(
            "`{}` is outside the upload directory {}",
            path.as_str(),
            root.display()
        ));
    }
    if !real.is_file() {
        return Err(format!("`{}` is not a file", path.as_str()));
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> ImageUrl {
        ImageUrl::try_from(s.to_owned()).unwrap()
    }

    #[test]
    fn hosts_match_exactly_or_by_domain() {
        let hosts = vec!["releases.ubuntu.com".to_owned(), "*.debian.org".to_owned()];
        for ok in [
            "https://releases.ubuntu.com/24.04/u.iso",
            "http://RELEASES.ubuntu.com./u.iso",
            "https://debian.org/d.iso",
            "https://cdimage.debian.org/d.iso",
        ] {
            assert_eq!(check_download(&hosts, &url(ok)), Ok(()), "{ok}");
        }
        for refused in [
            "https://ubuntu.com/u.iso",
            "https://evildebian.org/d.iso",
            "https://debian.org.evil.net/d.iso",
            "http://169.254.169.254/latest.iso",
        ] {
            assert!(check_download(&hosts, &url(refused)).is_err(), "{refused}");
        }
        let off = check_download(&[], &url("https://releases.ubuntu.com/u.iso")).unwrap_err();
        assert!(off.contains("downloads are off"), "{off}");
    }

    #[test]
    fn uploads_stay_in_their_directory() {
        let base = std::env::temp_dir().join(format!("nanokvm-upload-{}", std::process::id()));
        let dir = base.join("images");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/a.iso"), b"x").unwrap();
        std::fs::write(base.join("secret.iso"), b"x").unwrap();
        let path = |s: &str| UploadPath::try_from(s.to_owned()).unwrap();
        let real = resolve_upload(Some(&dir), &path("sub/a.iso")).unwrap();
        assert!(real.ends_with("images/sub/a.iso"));
        assert!(UploadPath::try_from("../secret.iso".to_owned()).is_err());
        let outside = base.join("secret.iso");
        let e = resolve_upload(Some(&dir), &path(outside.to_str().unwrap())).unwrap_err();
        assert!(e.contains("outside the upload directory"), "{e}");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&outside, dir.join("link.iso")).unwrap();
            let e = resolve_upload(Some(&dir), &path("link.iso")).unwrap_err();
            assert!(e.contains("outside the upload directory"), "{e}");
        }
        assert!(
            resolve_upload(Some(&dir), &path("sub"))
                .unwrap_err()
                .contains("not a file")
        );
        assert!(
            resolve_upload(None, &path("a.iso"))
                .unwrap_err()
                .contains("uploads are off")
        );
        std::fs::remove_dir_all(&base).unwrap();
    }
}
