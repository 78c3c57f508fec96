-- POST /api/v1/orders with one line: a random customer token (BENCH_TOKENS, a file with one
-- token per line) and a random product in [BENCH_ID_MIN, BENCH_ID_MAX] (set both to one id
-- for the hot-product scenario).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local id_min = tonumber(os.getenv("BENCH_ID_MIN") or "1")
local id_max = tonumber(os.getenv("BENCH_ID_MAX") or "10000")
local tokens = read_tokens()
local body_prefix = '{"shipping_address":{"full_name":"Bench","line1":"1 Loop St",' ..
  '"city":"Localhost","postal_code":"12345","country":"DE"},"items":[{"product_id":'

function request()
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)],
  }
  local body = body_prefix .. math.random(id_min, id_max) .. ',"quantity":1}]}'
  return wrk.format("POST", "/api/v1/orders", headers, body)
end
