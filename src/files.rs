//! Opening files a user named (a recording to replay, an audit log to follow) without being
//! caught by what is not a regular file: opening a FIFO for reading blocks until a writer
//! comes, and a device such as `/dev/zero` never ends.

use std::fs::{File, FileType, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Opens `path` for reading and checks, on the open file, that it is a regular file; anything
/// else is an [`io::ErrorKind::InvalidInput`] error that says what it is ("it is a FIFO (named
/// pipe), not a regular file").
///
/// The open is non-blocking (`O_NONBLOCK`, which regular files ignore), so a FIFO swapped in
/// after any earlier check still cannot block; symbolic links are followed (a link to a
/// regular file is fine).
pub fn open_regular(path: &Path) -> io::Result<(File, Metadata)> {
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {}, not a regular file", kind(meta.file_type())),
        ));
    }
    Ok((file, meta))
}

/// Reads a whole user-named text file (a config file, a fleet file) through [`open_regular`]:
/// a FIFO or a device is refused at once instead of blocking or never ending.
pub fn read_regular_to_string(path: &Path) -> io::Result<String> {
    let (mut file, meta) = open_regular(path)?;
    let mut text = String::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    io::Read::read_to_string(&mut file, &mut text)?;
    Ok(text)
}

/// What a file type is, in words: `a directory`, `a FIFO (named pipe)`, `a character device`, ….
pub fn kind(t: FileType) -> &'static str {
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn regular_files_open_and_the_rest_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let (_, meta) = open_regular(&file).unwrap();
        assert_eq!(meta.len(), 1);
        let e = open_regular(dir.path()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("a directory, not a regular file"), "{e}");
        let e = open_regular(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("a character device"), "{e}");
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("p");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
        assert!(status.success());
        // Without a writer, a blocking open would never return: the test would hang.
        let e = open_regular(&fifo).unwrap_err();
        assert!(e.to_string().contains("a FIFO (named pipe), not a regular file"), "{e}");
        let e = read_regular_to_string(&fifo).unwrap_err();
        assert!(e.to_string().contains("a FIFO (named pipe), not a regular file"), "{e}");
        let e = read_regular_to_string(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("a character device"), "{e}");
    }
}
