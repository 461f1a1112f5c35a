-- Presence::sweep. ARGV: presence timeout ms. Returns the names taken off as the 4th.
local now, timeout = now_ms(), tonumber(ARGV[1])
local offline = {}
for _, name in ipairs(redis.call('ZRANGE', C .. 'listed', 0, -1)) do
  if not online(name, now, timeout) then
    redis.call('HSET', K(name, 'node'), 'listed', 0)
    changed(name)
    table.insert(offline, name)
  end
end
return {0, wakes, touched, offline}
