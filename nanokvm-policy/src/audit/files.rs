//! The log's files on disk: created readable by their owner only, synced with their
//! directory, read back from the end, and named when rotated (`<name>.<first seq, 12
//! digits>`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Creates a new file readable and writable by its owner only.
pub(super) fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Opens the log for appending (and reading back its tail), creating it readable by
/// its owner only.
pub(super) fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Makes a file's creation or renaming durable, by syncing its directory (Unix only;
/// elsewhere the file system does not offer it).
pub(super) fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The offset just after the last `\n` strictly before `end`, or 0.
pub(super) fn line_start_before(file: &mut File, end: u64) -> io::Result<u64> {
    const CHUNK: u64 = 8192;
    let mut pos = end;
    let mut buf = vec![0; CHUNK as usize];
    while pos > 0 {
        let from = pos.saturating_sub(CHUNK);
        let n = usize::try_from(pos - from).unwrap_or(0);
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(from + i as u64 + 1);
        }
        pos = from;
    }
    Ok(0)
}

/// The offset of the first `\n` before `end` (there is one: the file ends with it).
pub(super) fn first_newline(file: &mut File, end: u64) -> io::Result<u64> {
    const CHUNK: u64 = 8192;
    let mut buf = vec![0; CHUNK as usize];
    let mut from = 0;
    while from < end {
        let n = usize::try_from(CHUNK.min(end - from)).unwrap_or(0);
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().position(|&b| b == b'\n') {
            return Ok(from + i as u64);
        }
        from += n as u64;
    }
    Ok(end.saturating_sub(1))
}

pub(super) fn read_range(file: &mut File, from: u64, to: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; usize::try_from(to.saturating_sub(from)).unwrap_or(0)];
    file.seek(SeekFrom::Start(from))?;
    file.read_exact(&mut buf)?;
    Ok(buf)
}

/// `seq` of a record line, which must be a JSON object with `seq` and `prev`.
pub(super) fn record_seq(line: &[u8]) -> Result<u64, String> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| format!("the record is not JSON: {e}"))?;
    let seq = value
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or("the record has no numeric `seq`")?;
    if value.get("prev").and_then(Value::as_str).is_none() {
        return Err("the record has no `prev`".into());
    }
    Ok(seq)
}

/// The rotated siblings of `path` (`<name>.<digits>`), ordered by their first seq.
pub(super) fn rotated_files(path: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let prefix = format!("{name}.");
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(digits) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix.as_str()))
        else {
            continue;
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(first) = digits.parse::<u64>() {
            found.push((first, dir.join(&file_name)));
        }
    }
    found.sort();
    Ok(found)
}

/// The path a file starting at `first_seq` is rotated to.
pub(super) fn rotated_path(path: &Path, first_seq: u64) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{first_seq:012}"));
    PathBuf::from(name)
}

/// The files of the chain whose current file is `path`, oldest first: its rotated
/// siblings, then the current file when it exists.
pub(super) fn chain_files(path: &Path) -> io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = rotated_files(path)?.into_iter().map(|(_, p)| p).collect();
    if path.exists() {
        paths.push(path.to_owned());
    }
    Ok(paths)
}

/// The first seq a rotated file's name carries (`audit.jsonl.000000000042` is 42).
pub(super) fn rotated_first_seq(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let (_, digits) = name.rsplit_once('.')?;
    if digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names_carry_twelve_digits() {
        let p = rotated_path(Path::new("/x/audit.jsonl"), 42);
        assert_eq!(p, Path::new("/x/audit.jsonl.000000000042"));
        assert_eq!(rotated_first_seq(&p), Some(42));
        assert_eq!(rotated_first_seq(Path::new("/x/audit.jsonl")), None);
    }
}
