//! One writer per store: `serve`, `watch` and `ingest` hold an exclusive
//! `flock` on `writer.lock` in the data dir for as long as they run. The file
//! says who holds it (pid and command line), so a second writer is told
//! exactly which process to stop. The kernel drops the lock when the process
//! dies, SIGKILL included, so a crash never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{io_err, PipelineError, Result};

pub const LOCK_FILE: &str = "writer.lock";

#[derive(Debug)]
pub struct WriterLock {
    _file: File,
    pub path: PathBuf,
}

impl WriterLock {
    pub fn acquire(data_dir: &Path) -> Result<WriterLock> {
        let path = data_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io_err(&path))?;
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() { "another pith process".to_string() } else { holder.to_string() };
                return Err(PipelineError::Locked { dir: data_dir.to_path_buf(), holder: who });
            }
            return Err(PipelineError::Io { path, source: err });
        }
        let me = format!("pid {} ({})", std::process::id(), command_line());
        file.set_len(0).map_err(io_err(&path))?;
        file.seek(SeekFrom::Start(0)).map_err(io_err(&path))?;
        file.write_all(me.as_bytes()).map_err(io_err(&path))?;
        Ok(WriterLock { _file: file, path })
    }
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().collect();
    let mut s = args.join(" ");
    if s.len() > 200 {
        let mut cut = 200;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_writer_is_refused_with_the_holder_named() {
        let d = tempfile::tempdir().unwrap();
        let first = WriterLock::acquire(d.path()).unwrap();
        let err = WriterLock::acquire(d.path()).unwrap_err().to_string();
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        drop(first);
        WriterLock::acquire(d.path()).unwrap();
    }
}
