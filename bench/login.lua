-- wrk script: POST /api/v1/auth/login with the bench admin's credentials; tallies the answers that are not 200.
-- (Each wrk thread has its own Lua state: the tally is read from every thread in done().)
-- The bootstrap password was never changed, so each answer is the setup token of a first sign-in
-- (`password_change_required`): the same argon2 check and session row as a full sign-in, without
-- the refresh token.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"tenant":"platform","email":"admin@platform.local","password":"' .. os.getenv("BENCH_PASSWORD") .. '"}'

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non_200 = 0 end
function response(status, headers, body)
  if status ~= 200 then non_200 = non_200 + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("non_200") end
  io.write(string.format("non-200 responses: %d\n", total))
end
