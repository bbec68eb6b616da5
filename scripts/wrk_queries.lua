-- wrk script: rotate through the queries in $PITH_QUERIES (one per line).
local queries = {}
local f = io.open(os.getenv("PITH_QUERIES") or "target/msmarco-queries.txt")
for line in f:lines() do
  queries[#queries + 1] = line:gsub("[^%w]", function(c) return string.format("%%%02X", string.byte(c)) end)
end
f:close()
local i = 0
request = function()
  i = i % #queries + 1
  return wrk.format("GET", "/api/search?k=10&q=" .. queries[i])
end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\"requests\":%d,\"errors\":%d,\"rps\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f}\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
