-- POST /auth/login for the user "bench".
wrk.method = "POST"
wrk.path = "/auth/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"bench","password":"correct horse"}'
