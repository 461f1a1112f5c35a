-- RequestRates::spend_request: one token bucket per node over all proxies, refilled at
-- the rate, bursts of as many. ARGV: name, rate per second.
local n = K(ARGV[1], 'node')
if redis.call('EXISTS', n) == 0 then return -1 end
local b = K(ARGV[1], 'rate')
local now, rate = now_ms(), tonumber(ARGV[2])
local f = redis.call('HMGET', b, 'tokens', 'at')
local tokens = math.min(rate, tonumber(f[1] or rate) + (now - tonumber(f[2] or now)) * rate / 1000)
if tokens < 1 then return 0 end
redis.call('HSET', b, 'tokens', tokens - 1, 'at', now)
-- A bucket left alone refills within a second: then it need not be kept.
redis.call('PEXPIRE', b, 2000)
return 1
