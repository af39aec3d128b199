-- wrk script for proxy/benches/load.sh: ten requests in turn, one of them
-- an authorize request the upstream rejects with invalid_scope (10 %).
local requests = {}
local form = "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA"
  .. "&redirect_uri=https%3A%2F%2Fclient.example%2Fcb&client_id=wizard"
local authorize = "/authorize?response_type=code&client_id=wizard"
  .. "&redirect_uri=https%3A%2F%2Fclient.example%2Fcb&state=af0ifjsldkj&scope="

function init(args)
  local form_headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  for i = 1, 4 do
    requests[#requests + 1] = wrk.format("GET", "/login?step=" .. i)
  end
  for i = 1, 3 do
    requests[#requests + 1] = wrk.format("GET", authorize .. "read")
  end
  requests[#requests + 1] = wrk.format("GET", authorize .. "read+admin")
  for i = 1, 2 do
    requests[#requests + 1] = wrk.format("POST", "/token", form_headers, form)
  end
end

local n = 0
function request()
  n = n + 1
  return requests[(n % #requests) + 1]
end
