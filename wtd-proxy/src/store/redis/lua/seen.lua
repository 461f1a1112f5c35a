-- Presence::seen. ARGV: name, brings back (ping or send: 0/1), goodbye (0/1), counter.
local n = K(ARGV[1], 'node')
if redis.call('EXISTS', n) == 0 then return {-1, wakes, touched} end
local now = now_ms()
local f = redis.call('HMGET', n, 'seen', 'bye')
redis.call('HSET', n, 'seen', math.max(tonumber(f[1] or 0), now), 'active', now)
local c, bye = tonumber(ARGV[4]), tonumber(f[2] or 0)
if ARGV[2] == '1' and c > bye then redis.call('HSET', n, 'gone', 0) end
if ARGV[3] == '1' and c > bye then redis.call('HSET', n, 'bye', ARGV[4]) end
return {0, wakes, touched}
