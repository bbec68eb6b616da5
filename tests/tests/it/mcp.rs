//! `pith mcp`: a scripted client exchange over stdio, as an MCP host would
//! run it (initialize, list tools, call each one, errors).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use super::common::{models, pith_bin};

struct Client {
    stdin: std::process::ChildStdin,
    out: BufReader<std::process::ChildStdout>,
    next: i64,
}

impl Client {
    fn send(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let msg = json!({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params});
        writeln!(self.stdin, "{msg}").unwrap();
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert_eq!(v["id"], self.next, "{v}");
        v
    }

    fn tool(&mut self, name: &str, args: Value) -> (bool, Value) {
        let r = self.send("tools/call", json!({"name": name, "arguments": args}));
        let res = &r["result"];
        let text = res["content"][0]["text"].as_str().unwrap().to_string();
        (res["isError"] == true, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

#[test]
fn an_mcp_client_searches_reads_gets_context_and_ingests_only_under_roots() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("notes");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("trip.txt"), "The flight to Lisbon leaves on Tuesday at 9.40 from gate B12.").unwrap();
    let outside = d.path().join("secret");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keys.txt"), "the vault code").unwrap();
    let store = d.path().join("store");
    let mut child = Command::new(pith_bin())
        .args(["--data", store.to_str().unwrap(), "mcp", "--root", root.to_str().unwrap()])
        .env("PITH_MODELS", models().root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut c = Client { stdin: child.stdin.take().unwrap(), out: BufReader::new(child.stdout.take().unwrap()), next: 0 };
    let init =
        c.send("initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}));
    assert_eq!(init["result"]["serverInfo"]["name"], "pith");
    assert!(init["result"]["capabilities"]["tools"].is_object());
    // A notification gets no reply: the next reply answers the next request.
    writeln!(c.stdin, "{}", json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).unwrap();
    let names: Vec<String> = c.send("tools/list", json!({}))["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["search", "get_item", "rag_context", "ingest_path"]);

    let (err, v) = c.tool("ingest_path", json!({"path": outside.to_str().unwrap()}));
    assert!(err && v.as_str().unwrap().contains("outside the configured roots"), "{v}");
    let (err, v) = c.tool("ingest_path", json!({"path": root.join("../secret/keys.txt").to_str().unwrap()}));
    assert!(err, "a path that climbs out of a root is refused: {v}");
    let (err, v) = c.tool("ingest_path", json!({"path": root.to_str().unwrap()}));
    assert!(!err && v["added"] == 1, "{v}");

    let (err, v) = c.tool("search", json!({"query": "Lisbon flight", "k": 3}));
    assert!(!err, "{v}");
    let hit = &v["hits"][0];
    assert!(hit["path"].as_str().unwrap().ends_with("trip.txt"), "{v}");
    let (err, item) = c.tool("get_item", json!({"id": hit["id"]}));
    assert!(!err && item["text"].as_str().unwrap().contains("gate B12"), "{item}");
    let (err, ctx) = c.tool("rag_context", json!({"query": "when does the flight leave", "token_budget": 80}));
    assert!(!err && ctx["prompt"].as_str().unwrap().starts_with("[1] ") && ctx["sources"][0]["citation"] == 1, "{ctx}");
    let (err, _) = c.tool("search", json!({}));
    assert!(err, "a missing argument is a tool error");
    let (err, _) = c.tool("get_item", json!({"id": 999999}));
    assert!(err);
    let unknown = c.send("resources/list", json!({}));
    assert_eq!(unknown["error"]["code"], -32601);
    drop(c);
    assert!(child.wait().unwrap().success(), "the server exits cleanly when stdin closes");
}
