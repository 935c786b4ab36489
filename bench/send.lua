-- POST a message to $CHAT as $TOKEN; every connection is one sender.
wrk.method = "POST"
wrk.path = "/chats/" .. os.getenv("CHAT") .. "/messages"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = '{"content": "a benchmark message of an ordinary length, with **some** markdown"}'
