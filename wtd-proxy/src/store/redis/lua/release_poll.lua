-- Presence::release_poll. ARGV: name, poll id. The node was present until now.
local n = K(ARGV[1], 'node')
redis.call('ZREM', K(ARGV[1], 'polls'), ARGV[2])
if redis.call('EXISTS', n) == 1 then
  local seen = tonumber(redis.call('HGET', n, 'seen') or 0)
  local now = now_ms()
  redis.call('HSET', n, 'seen', math.max(seen, now), 'active', now)
end
return {0, wakes, touched}
