-- wrk script: POST /api/v1/auth/login with the bench admin's credentials; counts non-200 answers.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"tenant":"platform","email":"admin@platform.local","password":"' .. os.getenv("BENCH_PASSWORD") .. '"}'

local non_200 = 0
function response(status, headers, body)
  if status ~= 200 then non_200 = non_200 + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("non-200 responses: %d\n", non_200))
end
