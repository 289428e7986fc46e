-- wrk script: rotate the Authorization header round-robin over a file of tokens (one a line)
-- and print the result as one machine-readable line.
-- Usage: wrk ... -s bench/rotate.lua URL -- TOKEN_FILE [START]
-- START (default 0): index where the cycle begins, so that consecutive runs can continue where
-- the last one stopped (the *-miss scenarios must never come back to a recently used token).

local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

local requests = {}
local count = 0
local next_index = 0

function init(args)
  local path = args[1]
  assert(path, "usage: wrk ... -s rotate.lua URL -- TOKEN_FILE")
  local file = assert(io.open(path, "r"))
  for line in file:lines() do
    if #line > 0 then
      count = count + 1
      -- Pre-format every request once: request() then costs one table lookup.
      requests[count] = wrk.format("GET", "/", { ["Authorization"] = "Bearer " .. line })
    end
  end
  file:close()
  assert(count > 0, "no tokens in " .. path)
  local start = tonumber(args[2] or "0") or 0
  -- Threads start at spread-out offsets (golden ratio) of the same cycle over the pool.
  next_index = (start + math.floor((thread_index or 0) * count * 0.618034)) % count
end

function request()
  next_index = next_index % count + 1
  return requests[next_index]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d,' ..
    '"errConnect":%d,"errRead":%d,"errWrite":%d,"errStatus":%d,"errTimeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
