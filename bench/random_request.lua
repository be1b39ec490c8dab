-- wrk script for bench/requests.sh: each request picks a random line of the file $WRK_IDS and puts it
-- in place of {id} in $WRK_PATH and $WRK_BODY (optional), sent with method $WRK_METHOD (GET) and
-- bearer token $WRK_TOKEN. Each wrk thread seeds its own generator.
local ids = {}
for line in io.lines(os.getenv("WRK_IDS")) do
  if #line > 0 then ids[#ids + 1] = line end
end
local method = os.getenv("WRK_METHOD") or "GET"
local path_template = os.getenv("WRK_PATH")
local body_template = os.getenv("WRK_BODY")
local headers = { ["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN"), ["Content-Type"] = "application/json" }
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000003)

request = function()
  local id = ids[math.random(#ids)]
  local path = (path_template:gsub("{id}", id))
  local body = nil
  if body_template then body = (body_template:gsub("{id}", id)) end
  return wrk.format(method, path, headers, body)
end
