-- wrk script for scripts/bench-server.sh: sends each prepared submission once.
-- LIVENESS_REQUESTS names the list written by `loadgen prepare` (token boundary file).
local requests = {}
local next_index = 1
local answered = 0

function init(args)
  for line in io.lines(os.getenv("LIVENESS_REQUESTS")) do
    local token, boundary, file = line:match("^(%S+) (%S+) (%S+)$")
    local f = assert(io.open(file, "rb"))
    local body = f:read("*all")
    f:close()
    requests[#requests + 1] = wrk.format("POST", "/v1/submissions", {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "multipart/form-data; boundary=" .. boundary,
    }, body)
  end
  -- wrk takes one request() before the first it sends, so the first upload was never sent
  -- (39 of 40 stored): it goes first twice, and a resend is answered as the same upload.
  table.insert(requests, 1, requests[1])
end

function request()
  -- Past the end, the last upload again: the server answers it as a duplicate (same job).
  local r = requests[math.min(next_index, #requests)]
  next_index = next_index + 1
  return r
end

function response(status, headers, body)
  if status ~= 202 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
  end
  answered = answered + 1
  if answered >= #requests then
    wrk.thread:stop()
  end
end
