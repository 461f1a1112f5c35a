-- Presence::sweep. ARGV: presence timeout ms. Returns the names taken off as the 4th.
--
-- Only the listed nodes that may have gone offline are looked at: `due` holds, for each
-- listed node, when its presence was last known to run out (0 when just listed). A node
-- found online is given its new time: its last request plus the timeout, or its latest
-- receive request's lease, whichever is later. So each node is looked at about once per
-- presence period, by whichever proxy sweeps first, not by every proxy every 500 ms.
local now, timeout = now_ms(), tonumber(ARGV[1])
local offline = {}
for _, name in ipairs(redis.call('ZRANGEBYSCORE', C .. 'due', '-inf', now)) do
  if online(name, now, timeout) then
    local until_ms = tonumber(redis.call('HGET', K(name, 'node'), 'active') or 0) + timeout
    local lease = redis.call('ZRANGE', K(name, 'polls'), -1, -1, 'WITHSCORES')
    if lease[2] then until_ms = math.max(until_ms, tonumber(lease[2])) end
    redis.call('ZADD', C .. 'due', math.max(until_ms, now + 1), name)
  else
    redis.call('HSET', K(name, 'node'), 'listed', 0)
    changed(name)
    table.insert(offline, name)
  end
end
return {0, wakes, touched, offline}
