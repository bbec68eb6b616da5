#!/usr/bin/env python3
"""Time to the first answer token from a real llama.cpp server, asked
directly and through pith's RAG chat proxy.

Starts the llama.cpp server that `scripts/llama_server.sh` builds (SmolLM2
GGUF) and `pith serve --llm-upstream` on STORE, then asks each question
twice, streaming, at temperature 0 with 8 new tokens: straight to llama.cpp
(the bare question), and to pith (which retrieves, compresses, puts the
cited context in the system message and forwards). pith forwards through a
pass-through relay here that notes when each request arrives, which splits
pith's time to first token into pith's own work (client send → relay) and
llama.cpp reading the longer prompt (relay → first token). Reports p50/p95
of each, and the prompt tokens llama.cpp read (from a non-streamed request
per question).

Usage: proxy_llama.py PITH_BINARY STORE_DIR QUERIES.txt [N] [--llama DIR]
"""
import http.server
import json
import os
import threading
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

args = [a for a in sys.argv[1:] if not a.startswith("--llama")]
pith, store, queries = args[0], args[1], args[2]
n = int(args[3]) if len(args) > 3 else 20
llama = os.path.expanduser("~/.cache/pith/llama-cpp")
if "--llama" in sys.argv:
    llama = sys.argv[sys.argv.index("--llama") + 1]
qs = [l.strip() for l in open(queries) if l.strip()][:n]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait(url):
    for _ in range(900):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} never answered")


def post(url, body):
    return urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})


def first_token(url, q):
    body = {"model": "smollm2", "stream": True, "max_tokens": 8, "temperature": 0, "messages": [{"role": "user", "content": q}]}
    global sent
    t0 = sent = time.monotonic()
    with urllib.request.urlopen(post(url, body), timeout=120) as r:
        for line in r:
            line = line.decode().strip()
            if line.startswith("data: ") and line != "data: [DONE]":
                delta = json.loads(line[6:])["choices"][0].get("delta", {})
                if delta.get("content"):
                    first = time.monotonic() - t0
                    r.read()
                    return first * 1e3
    return float("nan")


def prompt_tokens(url, q):
    body = {"model": "smollm2", "stream": False, "max_tokens": 1, "temperature": 0, "messages": [{"role": "user", "content": q}]}
    with urllib.request.urlopen(post(url, body), timeout=120) as r:
        return json.loads(r.read())["usage"]["prompt_tokens"]


arrivals = []
lport, pport = free_port(), free_port()


class Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        arrivals.append(time.monotonic())
        body = self.rfile.read(int(self.headers["content-length"]))
        req = urllib.request.Request(f"http://127.0.0.1:{lport}{self.path}", data=body, headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            self.send_response(r.status)
            self.send_header("content-type", r.headers.get("content-type", "application/json"))
            self.send_header("connection", "close")
            self.end_headers()
            while True:
                line = r.readline()
                if not line:
                    break
                self.wfile.write(line)
                self.wfile.flush()
        self.close_connection = True

    def log_message(self, *a):
        pass


relay = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Relay)
threading.Thread(target=relay.serve_forever, daemon=True).start()
gguf = os.path.join(llama, "smollm2-135m-instruct-q4_1.gguf")
server = subprocess.Popen([os.path.join(llama, "bin/python"), "-m", "llama_cpp.server", "--host", "127.0.0.1", "--port", str(lport),
                           "--n_ctx", "4096", "--n_threads", "2", "--model", gguf, "--model_alias", "smollm2"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
proc = subprocess.Popen([pith, "--data", store, "serve", "--addr", f"127.0.0.1:{pport}", "--llm-upstream", f"http://127.0.0.1:{relay.server_address[1]}/v1"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    wait(f"http://127.0.0.1:{lport}/v1/models")
    wait(f"http://127.0.0.1:{pport}/healthz")
    direct_url = f"http://127.0.0.1:{lport}/v1/chat/completions"
    pith_url = f"http://127.0.0.1:{pport}/v1/chat/completions"
    first_token(direct_url, qs[0])
    first_token(pith_url, qs[0])  # warm: models load on first use
    d, p, dt, pt, own, fill = [], [], [], [], [], []
    for q in qs:
        d.append(first_token(direct_url, q))
        before = len(arrivals)
        p.append(first_token(pith_url, q))
        own.append((arrivals[before] - sent) * 1e3)
        fill.append(p[-1] - own[-1])
        dt.append(prompt_tokens(direct_url, q))
        pt.append(prompt_tokens(pith_url, q))
    pct = lambda v, k: sorted(v)[min(len(v) - 1, int(k / 100 * len(v)))]
    print(json.dumps({
        "requests": len(qs),
        "direct_first_token_p50_ms": round(statistics.median(d), 1), "direct_first_token_p95_ms": round(pct(d, 95), 1),
        "pith_first_token_p50_ms": round(statistics.median(p), 1), "pith_first_token_p95_ms": round(pct(p, 95), 1),
        "pith_own_p50_ms": round(statistics.median(own), 1), "pith_own_p95_ms": round(pct(own, 95), 1),
        "llama_after_pith_p50_ms": round(statistics.median(fill), 1),
        "direct_prompt_tokens_mean": round(statistics.mean(dt), 1), "pith_prompt_tokens_mean": round(statistics.mean(pt), 1),
    }))
finally:
    proc.terminate()
    server.terminate()
    proc.wait()
    server.wait()
