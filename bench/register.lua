-- POST /auth/register with a new user each time (names unique per thread and run).
math.randomseed(os.time())
local counter = 0
local prefix = ""
function setup(thread)
  thread:set("id", tostring(math.random(1, 1e9)))
end
function init(args)
  prefix = "u" .. id .. "x"
end
request = function()
  counter = counter + 1
  local name = prefix .. counter
  local body = '{"username":"' .. name .. '","email":"' .. name .. '@example.com","password":"correct horse"}'
  return wrk.format("POST", "/auth/register", {["Content-Type"] = "application/json"}, body)
end
