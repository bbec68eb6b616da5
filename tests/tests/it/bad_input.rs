use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use pith_pipeline::ingest::{ingest, NoProgress};
use pith_pipeline::Engine;

use super::common::*;

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

/// A valid PNG header whose IHDR claims `w`×`h` pixels, followed by IEND.
pub fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IEND", &[]);
    out
}

#[test]
fn every_bad_input_is_reported_and_the_rest_stays_searchable() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("in");
    photos(&dir, &["chelsea.png"]);
    std::fs::write(dir.join("notes.txt"), "Remember to renew the passport before the trip to Lisbon.").unwrap();
    let jpeg = std::fs::read(testdata().join("skimage/rocket.jpg")).unwrap();
    std::fs::write(dir.join("truncated.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
    std::fs::write(dir.join("empty.txt"), b"").unwrap();
    std::fs::write(dir.join("huge.png"), png_claiming(100_000, 100_000)).unwrap();
    std::fs::write(dir.join("latin1.txt"), b"Cr\xe8me br\xfbl\xe9e recipe with vanilla").unwrap();
    std::os::unix::fs::symlink(&dir, dir.join("loop")).unwrap();
    std::os::unix::fs::symlink("self.txt", dir.join("self.txt")).unwrap();
    // 500 MB text file: 1 MiB of real text, the rest sparse; only the cap is read.
    {
        let mut f = std::fs::File::create(dir.join("big.txt")).unwrap();
        let line = "a very long log line about the weather in Lisbon and elsewhere\n";
        for _ in 0..(1 << 20) / line.len() {
            f.write_all(line.as_bytes()).unwrap();
        }
        f.set_len(500 << 20).unwrap();
    }
    let mut cfg = config(&d.path().join("store"));
    cfg.max_text_bytes = 64 << 10;
    let e = Engine::open(cfg).unwrap();
    let r = ingest(&e, std::slice::from_ref(&dir), &NoProgress).unwrap();
    let errors = e.status(100).unwrap().errors;
    let reason = |name: &str| -> String {
        errors
            .iter()
            .filter(|er| er.path.ends_with(&format!("/{name}")))
            .map(|er| er.reason.clone())
            .next()
            .unwrap_or_else(|| panic!("no error record for {name}: {errors:#?}"))
    };
    assert!(reason("truncated.jpg").contains("truncated"), "{}", reason("truncated.jpg"));
    assert!(reason("empty.txt").contains("empty"));
    let huge = reason("huge.png");
    assert!(huge.contains("limit") || huge.contains("dimension"), "{huge}");
    assert!(reason("latin1.txt").contains("UTF-8"));
    assert!(reason("loop").contains("loop"), "{}", reason("loop"));
    assert!(reason("self.txt").to_lowercase().contains("symbolic links") || reason("self.txt").contains("loop"), "{}", reason("self.txt"));
    assert!(reason("big.txt").contains("first 65536 bytes"), "{}", reason("big.txt"));
    assert!(r.failed >= 5, "{r:?}");
    // Everything good is searchable, including the truncated-but-readable ones.
    assert_eq!(file_name(&search(&e, "a cat", 1)[0]), "chelsea.png");
    assert_eq!(file_name(&search(&e, "passport renewal", 1)[0]), "notes.txt");
    assert!(search(&e, "creme brulee", 3).iter().any(|h| file_name(h) == "latin1.txt"));
    assert!(e.check().unwrap().is_consistent());
}

#[test]
fn a_file_that_turns_corrupt_is_removed_and_reported() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("in");
    photos(&dir, &["rocket.jpg"]);
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &dir);
    assert_eq!(e.status(0).unwrap().counts.image_items, 1);
    let jpeg = std::fs::read(dir.join("rocket.jpg")).unwrap();
    std::fs::write(dir.join("rocket.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
    let r = ingest_dir(&e, &dir);
    assert_eq!(r.failed, 1, "{r:?}");
    assert_eq!(e.status(0).unwrap().counts.image_items, 0);
    assert!(search(&e, "rocket", 5).is_empty());
}

/// A file the ingesting user may not read is one error record. Root reads
/// anything, so when the tests run as root the ingest runs as `nobody`
/// (a `pith ingest` child process with its uid dropped), against a model
/// cache of hard links that `nobody` can reach.
#[test]
fn an_unreadable_file_is_one_error_record() {
    use std::os::unix::process::CommandExt;
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = d.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ok.txt"), "Renew the passport before the Lisbon trip.").unwrap();
    std::fs::write(dir.join("locked.txt"), "you cannot read me").unwrap();
    std::fs::set_permissions(dir.join("locked.txt"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let store = d.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o777)).unwrap();
    let root = unsafe { libc::geteuid() } == 0;
    let models_dir = if root { linked_models(&d.path().join("models")) } else { models().root };
    // Run as nobody, the binary copied out of the checkout: a checkout under
    // a private folder (mktemp -d is 0700) is not nobody's to enter.
    let bin = if root {
        let b = d.path().join("pith");
        std::fs::copy(pith_bin(), &b).unwrap();
        b
    } else {
        pith_bin()
    };
    let mut cmd = std::process::Command::new(&bin);
    cmd.arg("--data").arg(&store).args(["ingest", "--json"]).arg(&dir).env("PITH_MODELS", &models_dir);
    if root {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["added"].as_u64(), report["failed"].as_u64()), (Some(1), Some(1)), "{report}");
    let e = Engine::open_read_only(config(&store)).unwrap();
    let errors = e.status(10).unwrap().errors;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].path.ends_with("locked.txt") && errors[0].reason.contains("permission denied"), "{errors:?}");
}

/// A copy of the model cache made of hard links (a plain copy across file
/// systems), in folders anyone may enter and write (the ConSE cache).
fn linked_models(to: &std::path::Path) -> std::path::PathBuf {
    fn link_tree(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o777)).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let (src, dst) = (entry.path(), to.join(entry.file_name()));
            if entry.file_type().unwrap().is_dir() {
                link_tree(&src, &dst);
            } else if std::fs::hard_link(&src, &dst).is_err() {
                std::fs::copy(&src, &dst).unwrap();
            }
        }
    }
    link_tree(&models().root, to);
    to.to_path_buf()
}
