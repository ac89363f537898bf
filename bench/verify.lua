-- wrk script for GET /admin/tokens/{value}/verify: each line of the file named by
-- BENCH_INPUT_FILE is "<path> <admin key>" (each thread cycling through them from its own
-- offset); counts the non-2xx responses and prints one BENCH_RESULT line (and the first failure,
-- if any) in done(), like refresh.lua.

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local requests = {}
local cursor = 1

function init(args)
  local path = os.getenv("BENCH_INPUT_FILE")
  if path == nil or path == "" then
    error("BENCH_INPUT_FILE is not set")
  end
  local file = assert(io.open(path, "r"))
  for line in file:lines() do
    local target, key = line:match("^(%S+)%s+(%S+)$")
    if target ~= nil then
      requests[#requests + 1] = wrk.format("GET", target, { ["Authorization"] = "Bearer " .. key })
    end
  end
  file:close()
  if #requests == 0 then
    error("no requests in " .. path)
  end
  cursor = (thread_index or 0) % #requests + 1
  non2xx = 0
  first_error = ""
end

function request()
  local next_request = requests[cursor]
  cursor = cursor % #requests + 1
  return next_request
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_error == "" then
      first_error = status .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local total = 0
  local first = ""
  for _, thread in ipairs(threads) do
    total = total + (thread:get("non2xx") or 0)
    local failure = thread:get("first_error")
    if first == "" and failure ~= nil and failure ~= "" then
      first = failure
    end
  end
  local errors = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d"
      .. " status=%d timeout=%d p50_us=%.1f p99_us=%.1f mean_us=%.1f max_us=%.1f\n",
    summary.requests, summary.duration, total, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency:percentile(50), latency:percentile(99),
    latency.mean, latency.max
  ))
  if first ~= "" then
    io.write("BENCH_FIRST_ERROR " .. (string.gsub(first, "[\r\n]", " ")) .. "\n")
  end
end
