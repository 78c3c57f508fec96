-- POST /api/v1/auth/login with the seeded customer's credentials (BENCH_EMAIL,
-- BENCH_PASSWORD); the URL on the command line must be the login route.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"email":"%s","password":"%s"}',
  os.getenv("BENCH_EMAIL") or "bench@example.com", os.getenv("BENCH_PASSWORD") or "")
