-- Shared by every bench script: a random seed of its own per wrk thread, the customers'
-- tokens (BENCH_TOKENS, one per line) for the scripts that sign in, and at the end of a
-- run one machine-readable line (latencies in microseconds) that the bench parses. wrk's
-- own text report, with the --latency distribution, is printed as usual above it.
local threads = 0
local all_threads = {}

function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
  all_threads[threads] = thread
end

-- Scripts that tally answers by status (a table "statuses" in each thread) get them
-- summed in the report line, as "statuses": {"503": 2, ...}.
local function statuses_json()
  local sums = {}
  for _, thread in ipairs(all_threads) do
    local counted = thread:get("statuses")
    if type(counted) == "table" then
      for status, n in pairs(counted) do
        sums[status] = (sums[status] or 0) + n
      end
    end
  end
  local parts = {}
  for status, n in pairs(sums) do
    parts[#parts + 1] = string.format('"%s":%d', tostring(status), n)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function init(args)
  math.randomseed(os.time() * 97 + (thread_no or 0))
end

function read_tokens()
  local tokens = {}
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    tokens[#tokens + 1] = line
  end
  return tokens
end

function done(summary, latency, requests)
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"latency_us":{"mean":%.1f,"stdev":%.1f,"min":%d,"max":%d,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99_9":%d},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"statuses":%s}\n',
    summary.requests, summary.duration, summary.bytes,
    latency.mean, latency.stdev, latency.min, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9),
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, statuses_json()))
end
