-- Presence::release_poll. ARGV: name, poll id. The node was present until now.
local n = K(ARGV[1], 'node')
redis.call('ZREM', K(ARGV[1], 'polls'), ARGV[2])
if redis.call('EXISTS', n) == 1 then
  local seen = tonumber(redis.call('HGET', n, 'seen') or 0)
  local now = now_ms()
  redis.call('HSET', n, 'seen', math.max(seen, now), 'active', now)
  -- Its presence may now end sooner than the sweep was told: looked at next sweep.
  redis.call('ZADD', C .. 'due', 'XX', 'LT', now, ARGV[1])
end
return {0, wakes, touched}
