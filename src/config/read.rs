//! Reading a configuration file (the main file or an include) safely: regular files only, at
//! most [`MAX_FILE_BYTES`], UTF-8. A device (`/dev/zero`), a FIFO or a huge file is an error
//! naming the file, never a hang or an unbounded read; a reload then keeps the old
//! configuration.

use std::io::Read;
use std::path::Path;

use super::error::ConfigError;

/// The largest configuration file read (the shipped tracker catalogue is about 30 KiB).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads `path` as configuration text; errors are reported under `key`.
pub fn config_file(path: &Path, key: &str) -> Result<String, ConfigError> {
    let fail = |reason: String| ConfigError::new(path, key, reason);
    // Checked before opening: opening a FIFO for reading blocks until a writer comes.
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
    if !meta.is_file() {
        return Err(fail("cannot read the file: not a regular file".into()));
    }
    let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
    // Files such as those of /proc report a size of 0: the read itself is bounded too.
    let mut bytes = Vec::with_capacity(meta.len().min(MAX_FILE_BYTES) as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read the file: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(format!(
            "cannot read the file: larger than {} MiB",
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    String::from_utf8(bytes).map_err(|_| fail("cannot read the file: not UTF-8 text".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_huge_files_are_refused() {
        let e = config_file(Path::new("/dev/zero"), "include").unwrap_err();
        assert!(e.reason.contains("not a regular file"), "{e}");
        assert_eq!(e.key, "include");

        let dir = std::env::temp_dir().join(format!("consentry-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo.toml");
        let _ = std::fs::remove_file(&fifo);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let e = config_file(&fifo, "include").unwrap_err();
            assert!(e.reason.contains("not a regular file"), "{e}");
        }
        let big = dir.join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
        let e = config_file(&big, "").unwrap_err();
        assert!(e.reason.contains("larger than 4 MiB"), "{e}");
        let bin = dir.join("bin.toml");
        std::fs::write(&bin, b"\xff\xfe").unwrap();
        assert!(config_file(&bin, "")
            .unwrap_err()
            .reason
            .contains("not UTF-8"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn proc_files_are_read_within_the_bound() {
        // A file of /proc reports size 0 and is read to its end (well under the bound).
        let text = config_file(Path::new("/proc/self/status"), "").unwrap();
        assert!(text.contains("Name:"));
    }
}
