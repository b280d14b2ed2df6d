-- wrk script for bench/serve.sh: POSTs one JSON transaction per request.
-- WRK_BODY: file with the request body; WRK_KEY: the x-api-key header (empty: none);
-- WRK_DELAY_MS: pause before each request on a connection (0: as fast as responses come).
local file = assert(io.open(os.getenv("WRK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("WRK_KEY") or ""
if key ~= "" then wrk.headers["x-api-key"] = key end
-- WRK_TARGET_MODEL: the x-fraudops-target-model header (multi-model endpoints; others ignore it).
local target = os.getenv("WRK_TARGET_MODEL") or ""
if target ~= "" then wrk.headers["x-fraudops-target-model"] = target end
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")
if delay_ms > 0 then
  function delay() return delay_ms end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local failed = summary.errors.connect + summary.errors.read + summary.errors.write +
                 summary.errors.status + summary.errors.timeout
  io.write(string.format("requests=%d rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f failed=%d\n",
    summary.requests, summary.requests / seconds, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000, failed))
end
