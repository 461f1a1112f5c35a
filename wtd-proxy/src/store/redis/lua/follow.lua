-- Presence::follow. ARGV: name, then the names it follows now. Each followed node's
-- `followers` set names its followers, so its change wakes them.
local name = ARGV[1]
if redis.call('EXISTS', K(name, 'node')) == 0 then return {-1, wakes, touched} end
local key = K(name, 'follows')
local now = {}
for i = 2, #ARGV do now[ARGV[i]] = true end
for _, old in ipairs(redis.call('LRANGE', key, 0, -1)) do
  if not now[old] then redis.call('SREM', K(old, 'followers'), name) end
end
redis.call('DEL', key)
for i = 2, #ARGV do
  redis.call('RPUSH', key, ARGV[i])
  redis.call('SADD', K(ARGV[i], 'followers'), name)
end
return {0, wakes, touched}
