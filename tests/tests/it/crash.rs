use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::common::*;

/// SIGKILL in the middle of an ingest must leave a store that reopens
/// consistent, whose results all point at real files, and that a second
/// ingest completes.
#[test]
fn sigkill_mid_ingest_leaves_a_store_that_reopens_consistent() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("corpus");
    std::fs::create_dir_all(&dir).unwrap();
    let topics = ["sailing", "astronomy", "baking", "chess", "gardening", "jazz", "volcanoes", "railways"];
    for i in 0..300 {
        let t = topics[i % topics.len()];
        let body = format!("Note {i} about {t}. ").repeat(60);
        std::fs::write(dir.join(format!("note{i:03}.txt")), body).unwrap();
    }
    photos(&dir, &["chelsea.png", "coffee.png", "rocket.jpg"]);
    let store = d.path().join("store");
    let mut child = Command::new(pith_bin())
        .args(["--data", store.to_str().unwrap(), "ingest", dir.to_str().unwrap()])
        .env("PITH_MODELS", models().root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once the store has committed some files, but before the ingest ends.
    let t0 = Instant::now();
    let committed = || -> i64 {
        let Ok(c) = rusqlite::Connection::open_with_flags(store.join("pith.sqlite"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else {
            return 0;
        };
        c.query_row("SELECT count(*) FROM files", [], |r| r.get(0)).unwrap_or(0)
    };
    while committed() == 0 && t0.elapsed() < Duration::from_secs(120) {
        assert!(child.try_wait().unwrap().is_none(), "ingest finished before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let e = engine(&store);
    let c = e.check().unwrap();
    assert!(c.is_consistent(), "{c:?}");
    let files = e.status(0).unwrap().counts.files;
    assert!(files > 0 && files < 303, "killed too early or too late: {files} files");
    for h in search(&e, "sailing astronomy", 50) {
        assert!(std::path::Path::new(&h.path).exists(), "{}", h.path);
    }
    let r = ingest_dir(&e, &dir);
    assert_eq!(r.added + r.unchanged, 303, "{r:?}");
    assert_eq!(e.status(0).unwrap().counts.files, 303);
    assert!(e.check().unwrap().is_consistent());
}

#[test]
fn a_corrupt_vector_dump_is_rebuilt_from_the_store() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("p");
    photos(&dir, &["chelsea.png", "coffee.png"]);
    let store = d.path().join("store");
    let visual = {
        let e = engine(&store);
        ingest_dir(&e, &dir);
        e.space("visual").unwrap().0
    };
    // pith's own graph (the default index): `graph-<generation>.bin`.
    let folder = store.join(format!("vectors/{visual}-coded-f32"));
    let graph = std::fs::read_dir(&folder)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("graph-")))
        .unwrap_or_else(|| panic!("no graph file in {}", folder.display()));
    std::fs::write(&graph, b"garbage").unwrap();
    let e = engine(&store);
    assert!(e.check().unwrap().is_consistent());
    let id = search(&e, "a cat", 1)[0].id;
    assert_eq!(e.similar(id, 1).unwrap()[0].id, id);
}
