-- GET /api/v1/products/{id} with an id drawn at random, per request, from
-- [BENCH_ID_MIN, BENCH_ID_MAX] (the seeded ids are contiguous).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local id_min = tonumber(os.getenv("BENCH_ID_MIN") or "1")
local id_max = tonumber(os.getenv("BENCH_ID_MAX") or "10000")
local prefix = os.getenv("BENCH_DETAIL_PREFIX") or "/api/v1/products/"

function request()
  return wrk.format("GET", prefix .. math.random(id_min, id_max))
end
