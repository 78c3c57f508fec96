-- A shop's mix: 80 % browse (half product pages in a few query shapes, half product
-- details), 15 % cart (two thirds setting a line, one third viewing the cart), 5 % checkout
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
local address = '{"full_name":"Bench","line1":"1 Loop St","city":"Localhost",' ..
  '"postal_code":"12345","country":"DE"}'

local function signed(extra)
  local headers = extra or {}
  headers["Authorization"] = "Bearer " .. tokens[math.random(#tokens)]
  return headers
end

function request()
  local roll = math.random(100)
  local product = math.random(id_min, id_max)
  if roll <= 40 then
    return wrk.format("GET", pages[math.random(#pages)])
  elseif roll <= 80 then
    return wrk.format("GET", "/api/v1/products/" .. product)
  elseif roll <= 90 then
    return wrk.format("PUT", "/api/v1/cart/items/" .. product,
      signed({["Content-Type"] = "application/json"}), '{"quantity":1}')
  elseif roll <= 95 then
    return wrk.format("GET", "/api/v1/cart", signed())
  end
  return wrk.format("POST", "/api/v1/orders", signed({["Content-Type"] = "application/json"}),
    '{"shipping_address":' .. address .. ',"items":[{"product_id":' .. product ..
    ',"quantity":1}]}')
end
