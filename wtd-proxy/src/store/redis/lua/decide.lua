-- Registrations::decide. ARGV: name, approve (0/1).
local name = ARGV[1]
local n = K(name, 'node')
if redis.call('EXISTS', n) == 0 then return {0, wakes, touched} end
if ARGV[2] == '1' then
  redis.call('HSET', n, 'dec', 0)
  return {1, wakes, touched}
end
redis.call('HSET', n, 'dec', 2)
-- A rejected node makes no more requests: it follows no one, and leaves.
for _, f in ipairs(redis.call('LRANGE', K(name, 'follows'), 0, -1)) do
  redis.call('SREM', K(f, 'followers'), name)
end
redis.call('DEL', K(name, 'follows'))
if redis.call('HGET', n, 'listed') == '1' then
  redis.call('HSET', n, 'listed', 0)
  clear_mail(name)
  wake(name)
  changed(name)
end
return {1, wakes, touched}
