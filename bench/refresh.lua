-- wrk script for POST /oauth/tokens: sends the JSON bodies listed in the file named by
-- BENCH_INPUT_FILE (one per line), counts the non-2xx responses and prints one BENCH_RESULT line
-- (and the first failure, if any) in done(). BENCH_CONTENT_TYPE (default application/json) and
-- BENCH_AUTHORIZATION (an Authorization header, default none) serve targets that take forms.
--
-- By default each thread cycles through the bodies from its own offset. With BENCH_INPUT_SLICES=N
-- (N = wrk's thread count) every body is sent at most once: the list is cut into N disjoint
-- slices, thread i walks slice i and never comes back; a thread that reaches the end of its slice
-- stops and is counted in `exhausted` (the run's figures are then not valid).

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local bodies = {}
local cursor = 1
local single_use = false
local exhausted_request = nil

function init(args)
  local path = os.getenv("BENCH_INPUT_FILE")
  if path == nil or path == "" then
    error("BENCH_INPUT_FILE is not set")
  end
  local index = thread_index or 0
  local slices = tonumber(os.getenv("BENCH_INPUT_SLICES") or "")
  local lines = {}
  local file = assert(io.open(path, "r"))
  for line in file:lines() do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  file:close()
  local first, last = 1, #lines
  if slices ~= nil and slices >= 1 then
    single_use = true
    first = math.floor(index * #lines / slices) + 1
    last = math.floor((index + 1) * #lines / slices)
  end
  local headers = { ["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json" }
  local authorization = os.getenv("BENCH_AUTHORIZATION")
  if authorization ~= nil and authorization ~= "" then
    headers["Authorization"] = authorization
  end
  for position = first, last do
    bodies[#bodies + 1] = wrk.format("POST", nil, headers, lines[position])
  end
  if #bodies == 0 then
    error("no request bodies for thread " .. index .. " in " .. path)
  end
  if single_use then
    cursor = 1
    -- Answered 404 without touching the database; only sent when a slice ran out.
    exhausted_request = wrk.format("GET", "/__bench_input_exhausted__")
  else
    cursor = index % #bodies + 1
  end
  slice_size = single_use and #bodies or 0
  used = 0
  exhausted = 0
  non2xx = 0
  first_error = ""
end

function request()
  if single_use then
    if cursor > #bodies then
      if exhausted == 0 then
        exhausted = 1
        wrk.thread:stop()
      end
      return exhausted_request
    end
    local body = bodies[cursor]
    cursor = cursor + 1
    used = cursor - 1
    return body
  end
  local body = bodies[cursor]
  cursor = cursor % #bodies + 1
  return body
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
  local used_total, slice_total, exhausted_total = 0, 0, 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("non2xx") or 0)
    used_total = used_total + (thread:get("used") or 0)
    slice_total = slice_total + (thread:get("slice_size") or 0)
    exhausted_total = exhausted_total + (thread:get("exhausted") or 0)
    local failure = thread:get("first_error")
    if first == "" and failure ~= nil and failure ~= "" then
      first = failure
    end
  end
  local errors = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d"
      .. " status=%d timeout=%d p50_us=%.1f p99_us=%.1f mean_us=%.1f max_us=%.1f"
      .. " inputs_used=%d inputs=%d exhausted=%d\n",
    summary.requests, summary.duration, total, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency:percentile(50), latency:percentile(99),
    latency.mean, latency.max, used_total, slice_total, exhausted_total
  ))
  if first ~= "" then
    io.write("BENCH_FIRST_ERROR " .. (string.gsub(first, "[\r\n]", " ")) .. "\n")
  end
end
