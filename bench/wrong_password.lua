-- wrk script: wrong passwords for one account (TENANT, EMAIL); tallies the answers by status.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"tenant":"' .. os.getenv("TENANT") .. '","email":"' .. os.getenv("EMAIL") .. '","password":"not the password at all"}'

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {} end
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for _, status in ipairs({200, 401, 429, 503}) do
      total[status] = (total[status] or 0) + (t:get("counts")[status] or 0)
    end
  end
  io.write(string.format("answers: 401=%d 429=%d 503=%d 200=%d\n", total[401], total[429], total[503], total[200]))
end
