//! End to end: a real `pith serve --watch DIR` process, files added, deleted
//! and renamed under it, and a real headless Chromium rendering the page.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::common::*;

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(store: &Path, watch: &Path) -> Server {
    let mut child = Command::new(pith_bin())
        .args(["--data", store.to_str().unwrap(), "serve", "--addr", "127.0.0.1:0", "--watch", watch.to_str().unwrap()])
        .env("PITH_MODELS", models().root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("pith is serving http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .trim_end_matches('/')
        .to_string();
    Server { child, addr }
}

/// Minimal HTTP/1.1 GET; returns (status, body).
fn http_get(addr: &str, path: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else { return out };
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

fn image_paths(addr: &str, q: &str) -> Vec<String> {
    let (status, body) = http_get(addr, &format!("/api/search?q={}&kind=image&k=20", q.replace(' ', "+")));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["results"].as_array().unwrap().iter().map(|h| h["path"].as_str().unwrap().to_string()).collect()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) -> f64 {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if f() {
            return t.elapsed().as_secs_f64();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after 20 s waiting for: {what}");
}

#[test]
fn serve_watches_a_folder_and_the_page_renders_in_chromium() {
    let d = tempfile::tempdir().unwrap();
    let watch = d.path().join("media");
    photos(&watch, &["coffee.png"]);
    let watch = watch.canonicalize().unwrap();
    let srv = start(&d.path().join("store"), &watch);
    let a = srv.addr.clone();
    wait_until("the startup scan to index coffee.png", || image_paths(&a, "a cup of coffee").iter().any(|p| p.ends_with("coffee.png")));

    // New file appears.
    std::fs::copy(testdata().join("skimage/chelsea.png"), watch.join("chelsea.png")).unwrap();
    let cat = watch.join("chelsea.png").to_string_lossy().into_owned();
    let secs = wait_until("chelsea.png to become searchable", || image_paths(&a, "a cat").contains(&cat));
    eprintln!("new file searchable after {secs:.2}s");
    // Deleted file disappears.
    std::fs::remove_file(watch.join("chelsea.png")).unwrap();
    wait_until("chelsea.png to disappear", || !image_paths(&a, "a cat").contains(&cat));
    // Renamed file shows under its new path only.
    std::fs::rename(watch.join("coffee.png"), watch.join("cup.png")).unwrap();
    let new = watch.join("cup.png").to_string_lossy().into_owned();
    wait_until("the rename to show", || {
        let p = image_paths(&a, "a cup of coffee");
        p.contains(&new) && !p.iter().any(|x| x.ends_with("/coffee.png"))
    });

    // A real browser renders the search page; thumbnails are in the DOM and load.
    std::fs::copy(testdata().join("skimage/chelsea.png"), watch.join("chelsea.png")).unwrap();
    wait_until("chelsea.png again", || image_paths(&a, "a cat").contains(&cat));
    // With the relevance cut-off off, so that both photos show.
    let url = format!("http://{a}/?q=a+cat&min_relevance=0");
    let chrome = |url: &str, extra: &[&str]| {
        let profile = tempfile::tempdir().unwrap();
        let out = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(url)
            .output()
            .expect("chromium not installed: run `make deps`");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dom = chrome(&url, &["--dump-dom", "--virtual-time-budget=5000"]);
    let thumbs: Vec<&str> = dom.split("src=\"").skip(1).filter_map(|s| s.split('"').next()).filter(|s| s.contains("/thumbnail")).collect();
    assert!(thumbs.len() >= 2, "no thumbnails in the rendered DOM:\n{dom}");
    assert!(dom.contains("alt=\"chelsea.png\""));
    for t in &thumbs {
        let (status, body) = http_get(&a, t);
        assert_eq!(status, 200, "{t}");
        assert!(image::load_from_memory(&body).is_ok(), "{t} is not an image");
    }
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("search-a-cat.png");
    chrome(&url, &["--window-size=1200,900", &format!("--screenshot={}", png.display())]);
    assert!(std::fs::metadata(&png).map(|m| m.len() > 10_000).unwrap_or(false), "no screenshot at {}", png.display());
    // By default the coffee cup is hidden behind "Show 1 weaker match".
    let plain = format!("http://{a}/?q=a+cat");
    let dom = chrome(&plain, &["--dump-dom", "--virtual-time-budget=5000"]);
    assert!(dom.contains("alt=\"chelsea.png\"") && !dom.contains("alt=\"cup.png\""), "{dom}");
    assert!(dom.contains("weaker match"), "no 'show weaker matches' link:\n{dom}");
    chrome(&plain, &["--window-size=1200,900", &format!("--screenshot={}", shots.join("search-a-cat-cut-off.png").display())]);

    // SIGTERM: graceful stop.
    let mut srv = srv;
    unsafe { libc::kill(srv.child.id() as i32, libc::SIGTERM) };
    let t = Instant::now();
    loop {
        if let Some(st) = srv.child.try_wait().unwrap() {
            assert!(st.success(), "exit status {st:?}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn text_paths(addr: &str, q: &str) -> Vec<String> {
    let (status, body) = http_get(addr, &format!("/api/search?q={}&kind=text&k=50", q.replace(' ', "+")));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["results"].as_array().unwrap().iter().map(|h| h["path"].as_str().unwrap().to_string()).collect()
}

/// The bug: events for `.env` and `.git/COMMIT_EDITMSG` created after start
/// were indexed, and a store inside the watched folder indexed its own files.
#[test]
fn watch_never_indexes_hidden_files_or_its_own_store() {
    let d = tempfile::tempdir().unwrap();
    let watch = d.path().join("home");
    std::fs::create_dir_all(&watch).unwrap();
    let watch = watch.canonicalize().unwrap();
    let store = watch.join("pith-data");
    let srv = start(&store, &watch);
    let a = srv.addr.clone();
    std::fs::write(watch.join(".env"), "SECRET_TOKEN=hunter2 secret").unwrap();
    std::fs::create_dir_all(watch.join(".git")).unwrap();
    std::fs::write(watch.join(".git/COMMIT_EDITMSG"), "secret commit").unwrap();
    std::fs::write(watch.join("visible.txt"), "Not a secret: the bakery opens at seven.").unwrap();
    wait_until("visible.txt to become searchable", || text_paths(&a, "secret bakery").iter().any(|p| p.ends_with("visible.txt")));
    // Give the hidden files' events time to have been processed, too.
    std::thread::sleep(Duration::from_millis(1500));
    let paths = text_paths(&a, "secret");
    assert!(paths.iter().all(|p| p.ends_with("visible.txt")), "{paths:?}");
    let (_, body) = http_get(&a, "/api/status");
    let st: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(st["counts"]["files"], 1, "{st}");
    let errors = st["errors"].as_array().unwrap();
    assert!(errors.iter().all(|e| !e["path"].as_str().unwrap().contains("pith-data")), "{errors:?}");
    drop(srv);
}
