-- A shop's mix: 80 % browse (half product pages in a few query shapes, half product
-- details), 15 % cart (two thirds setting a line among ten products of the customer's,
-- one third viewing the cart), 5 % checkout
-- (an order of one line). Customers' tokens from BENCH_TOKENS (one per line), products in
-- [BENCH_ID_MIN, BENCH_ID_MAX]. Every answer must be a 2xx: wrk counts the rest as errors.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local id_min = tonumber(os.getenv("BENCH_ID_MIN") or "1")
local id_max = tonumber(os.getenv("BENCH_ID_MAX") or "10000")
local tokens = read_tokens()
local pages = {
  "/api/v1/products?limit=20",
  "/api/v1/products?limit=20&sort=price_asc",
  "/api/v1/products?limit=20&sort=price_desc",
  "/api/v1/products?limit=20&sort=name",
  "/api/v1/products?limit=20&in_stock=true",
  "/api/v1/products?limit=20&min_price=10&max_price=50",
  "/api/v1/products?limit=20&q=bench",
}
statuses = {}  -- answers that were not a 2xx, by status (summed by report.lua)

function response(status, headers, body)
  if status >= 300 then
    statuses[status] = (statuses[status] or 0) + 1
  end
end

local address = '{"full_name":"Bench","line1":"1 Loop St","city":"Localhost",' ..
  '"postal_code":"12345","country":"DE"}'

local function signed(customer, extra)
  local headers = extra or {}
  headers["Authorization"] = "Bearer " .. tokens[customer]
  return headers
end

function request()
  local roll = math.random(100)
  local product = math.random(id_min, id_max)
  local customer = math.random(#tokens)
  -- A customer's cart holds a few products (ten at most here), as a shopper's does; a
  -- cart grown without end would measure something no shop sees (and stops at 100).
  local wanted = id_min + (customer * 37 + math.random(10)) % (id_max - id_min + 1)
  if roll <= 40 then
    return wrk.format("GET", pages[math.random(#pages)])
  elseif roll <= 80 then
    return wrk.format("GET", "/api/v1/products/" .. product)
  elseif roll <= 90 then
    return wrk.format("PUT", "/api/v1/cart/items/" .. wanted,
      signed(customer, {["Content-Type"] = "application/json"}), '{"quantity":1}')
  elseif roll <= 95 then
    return wrk.format("GET", "/api/v1/cart", signed(customer))
  end
  return wrk.format("POST", "/api/v1/orders",
    signed(customer, {["Content-Type"] = "application/json"}),
    '{"shipping_address":' .. address .. ',"items":[{"product_id":' .. product ..
    ',"quantity":1}]}')
end

-- Paced (BENCH_PACE_RPS set): each thread sends at most its share of that rate, on a
-- schedule (a slot every 1/rate s; a connection waits for its slot), so latencies are those
-- of a shop at that load rather than of a saturated one. Without it, wrk sends as fast as
-- answers come back.
local pace = tonumber(os.getenv("BENCH_PACE_RPS") or "0")
if pace > 0 then
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clock, bench_timespec *ts);
  ]]
  local ts = ffi.new("bench_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
  end
  local interval = 1000 * tonumber(os.getenv("BENCH_THREADS") or "2") / pace
  local slot = nil

  function delay()
    local now = now_ms()
    -- A schedule that fell behind (the server could not keep up) is not caught up in a
    -- burst: the achieved rate, lower than asked, then shows it.
    slot = math.max((slot or now) + interval, now - interval)
    return math.max(0, slot - now)
  end
end
