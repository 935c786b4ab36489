-- GET a page of 50 from $CHAT, before a random seq in 51..$LAST.
local chat = os.getenv("CHAT")
local last = tonumber(os.getenv("LAST"))
math.randomseed(os.time())
request = function()
  local before = math.random(51, last)
  return wrk.format("GET", "/chats/" .. chat .. "/messages?limit=50&before=" .. before,
    {["Authorization"] = "Bearer " .. os.getenv("TOKEN")})
end
