//! Running a decoding helper program (Tesseract, pdftotext) as a child
//! process with a time limit: it is killed when the limit passes, so one
//! file that makes it spin costs that file only.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a finished child printed.
pub struct Output {
    pub success: bool,
    /// At most `stdout_cap` bytes (the rest is read and dropped).
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Run `cmd` with stdin closed, reading its output while it runs; an error
/// names `what` when it cannot start or outlives `limit`.
pub fn run(mut cmd: Command, what: &str, limit: Duration, stdout_cap: u64) -> Result<Output, String> {
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| format!("cannot start {what}: {e}"))?;
    let (mut so, mut se) =
        (child.stdout.take().ok_or(format!("{what}: no stdout"))?, child.stderr.take().ok_or(format!("{what}: no stderr"))?);
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = (&mut so).take(stdout_cap).read_to_end(&mut v);
        let _ = std::io::copy(&mut so, &mut std::io::sink());
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} timed out after {:.0} s", limit.as_secs_f64()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("{what}: {e}")),
        }
    };
    Ok(Output { success: status.success(), stdout: reader.join().unwrap_or_default(), stderr: err_reader.join().unwrap_or_default() })
}
