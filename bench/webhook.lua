-- wrk script for bench/http_bench.py: POSTs pre-signed LINE webhook bodies, each once.
-- BENCH_BODIES names a file of "signature<TAB>body" lines; thread k of BENCH_THREADS sends
-- lines k, k+n, k+2n ... and stops when its share is used up (a body sent twice would be a
-- redelivery, answered with nothing, and would spoil the reply count).
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS"))
  reqs = {}
  local i = 0
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    if i % nthreads == id - 1 then
      local tab = line:find("\t", 1, true)
      local headers = {}
      headers["Content-Type"] = "application/json; charset=utf-8"
      headers["X-Line-Signature"] = line:sub(1, tab - 1)
      reqs[#reqs + 1] = wrk.format("POST", "/line/webhook", headers, line:sub(tab + 1))
    end
    i = i + 1
  end
  nreqs = #reqs
  sent = 0
  answered = 0
  bad = 0
end

function request()
  sent = sent + 1
  if sent > #reqs then
    -- Only a few connections can get here before the thread stops: repeat the last body.
    return reqs[#reqs]
  end
  return reqs[sent]
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 then bad = bad + 1 end
  if answered >= #reqs then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local total_bad = 0
  local distinct = 0
  for _, t in ipairs(threads) do
    total_bad = total_bad + t:get("bad")
    distinct = distinct + math.min(t:get("answered"), t:get("nreqs"))
  end
  io.write(string.format(
    'BENCH {"requests":%d,"distinct":%d,"duration_us":%d,"p50":%d,"p95":%d,"p99":%d,"non200":%d,' ..
    '"errors":%d,"timeouts":%d}\n',
    summary.requests, distinct, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), total_bad,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.timeout))
end
