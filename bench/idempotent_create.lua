-- wrk script: POST /api/v1/clients as a case manager (TOKEN), with a fresh Idempotency-Key on each
-- request when KEYED=1; tallies answers that are not 201 (read from every thread's Lua state in done()).
local keyed = os.getenv("KEYED") == "1"
local token = os.getenv("TOKEN")
local counter = 0
local thread_id = tostring(math.random(1, 1e9))
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non_201 = 0 end

function request()
  counter = counter + 1
  local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
  if keyed then headers["Idempotency-Key"] = "bench-" .. thread_id .. "-" .. counter end
  local body = '{"given_name":"Bench","family_name":"Person' .. counter .. '","phone":"416-555-0100"}'
  return wrk.format("POST", "/api/v1/clients", headers, body)
end

function response(status, headers, body)
  if status ~= 201 then non_201 = non_201 + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("non_201") end
  io.write(string.format("non-201 responses: %d\n", total))
end
