#!/usr/bin/env python3
"""What pith's RAG chat proxy adds before the first upstream token.

Starts a scripted OpenAI-compatible upstream (answers at once with one SSE
chunk) and `pith serve --llm-upstream` on a store, sends each query as a
streaming /v1/chat/completions request, and reports per request:
- added: from the client sending to the upstream receiving the forwarded
  request (retrieval, compression, prompt building, forwarding);
- first token: from sending to the client reading the upstream's first chunk.
Usage: proxy_latency.py PITH_BINARY STORE_DIR QUERIES.txt [N]
"""
import http.server
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

pith, store, queries = sys.argv[1], sys.argv[2], sys.argv[3]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 100
qs = [l.strip() for l in open(queries) if l.strip()][:n]
arrivals = []


class Upstream(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        arrivals.append(time.monotonic())
        self.rfile.read(int(self.headers["content-length"]))
        body = 'data: {"id":"u","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"ok"}}]}\n\ndata: [DONE]\n\n'
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *a):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
threading.Thread(target=up.serve_forever, daemon=True).start()
port = free_port()
proc = subprocess.Popen([pith, "--data", store, "serve", "--addr", f"127.0.0.1:{port}",
                         "--llm-upstream", f"http://127.0.0.1:{up.server_address[1]}/v1"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except Exception:
            time.sleep(0.1)

    def ask(q):
        body = json.dumps({"model": "x", "stream": True, "messages": [{"role": "user", "content": q}]}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body, headers={"content-type": "application/json"})
        t0 = time.monotonic()
        with urllib.request.urlopen(req, timeout=60) as r:
            r.read(1)
            first = time.monotonic() - t0
            r.read()
        return t0, first

    ask(qs[0])  # warm: models load on first use
    added, first = [], []
    for q in qs:
        before = len(arrivals)
        t0, f = ask(q)
        added.append((arrivals[before] - t0) * 1e3)
        first.append(f * 1e3)
    pct = lambda v, p: sorted(v)[min(len(v) - 1, int(p / 100 * len(v)))]
    print(json.dumps({"requests": len(qs), "added_p50_ms": round(statistics.median(added), 1), "added_p95_ms": round(pct(added, 95), 1),
                      "first_token_p50_ms": round(statistics.median(first), 1), "first_token_p95_ms": round(pct(first, 95), 1)}))
finally:
    proc.terminate()
    proc.wait()
