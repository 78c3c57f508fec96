-- GET the URL given on the command line (e.g. /api/v1/products?limit=20), unchanged.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")
