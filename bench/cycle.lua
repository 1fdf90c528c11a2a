-- wrk script: sends each pre-generated request of a file once, checking every answer.
--
--   wrk -t T -c C -d D -s bench/cycle.lua URL -- FILE EXPECTED_STATUS T [reuse|once]
--
-- FILE holds one SOAP 1.1 envelope per line (bench/gen-requests). Thread i of T takes the
-- lines i, i+T, i+2T, ..., so no two threads send the same request. Lines are read as they
-- are sent, so a thread starts at once whatever the file's size (wrk starts each thread
-- right after its init, before the next thread's init: a slow init would give the first
-- threads a head start outside the measured time). A thread that runs out starts its
-- share again and counts it in `wrapped` (a replayed nonce is then refused, which shows as
-- a wrong status), unless the 4th argument is "reuse" (requests whose nonce the target
-- never stores: the bare upstream, nginx, the refused-header fault path). With "once" each
-- request is sent exactly once: a thread that runs out sends GET /wrk-filler (answered
-- 404, counted apart as `fillers`) until the duration ends; `answered` counts the answers to
-- the file's requests (bench/scale fills the replay cache this way). wrk itself takes the
-- first request of thread 0 once, unsent, to probe whether the script can pipeline.
-- Every response whose status differs from EXPECTED_STATUS counts in `bad`. done() prints
-- one line starting with "RESULT" for bench/run and bench/scale to read.

local threads = {}
local next_id = 0

function setup(thread)
	thread:set("tid", next_id)
	next_id = next_id + 1
	table.insert(threads, thread)
end

local function skip(n)
	for _ = 1, n do
		if fh:read("*l") == nil then
			return
		end
	end
end

-- This thread's next line, or nil at the end of the file.
local function next_line()
	local line = fh:read("*l")
	if line ~= nil then
		skip(nthreads - 1)
	end
	return line
end

function init(args)
	nthreads = tonumber(args[3])
	expected = tonumber(args[2])
	reuse = args[4] == "reuse"
	once = args[4] == "once"
	fh = assert(io.open(args[1], "r"))
	skip(tid)
	-- The request head without Content-Length (wrk.format ends it with an empty line).
	local head = wrk.format("POST", nil, {
		["Content-Type"] = "text/xml; charset=utf-8",
		["SOAPAction"] = '"urn:example:echo/Echo"',
	}, nil)
	prefix = string.sub(head, 1, -3) .. "Content-Length: "
	filler = wrk.format("GET", "/wrk-filler")
	answered = 0
	fillers = 0
	bad = 0
	wrapped = 0
	first_bad = ""
end

function request()
	local line = next_line()
	if line == nil then
		if once then
			return filler
		end
		if not reuse then
			wrapped = wrapped + 1
		end
		fh:seek("set")
		skip(tid)
		line = next_line()
	end
	return prefix .. #line .. "\r\n\r\n" .. line
end

function response(status, headers, body)
	if once and status == 404 then
		fillers = fillers + 1
		return
	end
	answered = answered + 1
	if status ~= expected then
		bad = bad + 1
		if first_bad == "" then
			first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 300)
		end
	end
end

function done(summary, latency, requests)
	local bad_total, wrapped_total, filler_total, answered_total, first = 0, 0, 0, 0, ""
	for _, t in ipairs(threads) do
		bad_total = bad_total + t:get("bad")
		wrapped_total = wrapped_total + t:get("wrapped")
		filler_total = filler_total + t:get("fillers")
		answered_total = answered_total + t:get("answered")
		if first == "" then
			first = t:get("first_bad")
		end
	end
	local e = summary.errors
	io.write(string.format(
		"RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d p999_us=%d "
			.. "bad=%d wrapped=%d fillers=%d answered=%d connect=%d read=%d write=%d timeout=%d\n",
		summary.requests, summary.duration, latency:percentile(50),
		latency:percentile(99), latency:percentile(99.9), bad_total, wrapped_total, filler_total,
		answered_total, e.connect, e.read, e.write, e.timeout))
	if first ~= "" then
		io.write("FIRSTBAD " .. (string.gsub(first, "\n", " ")) .. "\n")
	end
end
