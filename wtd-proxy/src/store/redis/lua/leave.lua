-- Presence::leave. ARGV: name.
local name = ARGV[1]
local n = K(name, 'node')
if redis.call('EXISTS', n) == 0 then return {0, wakes, touched} end
redis.call('HSET', n, 'gone', 1)
if redis.call('HGET', n, 'listed') == '1' then
  redis.call('HSET', n, 'listed', 0)
  changed(name)
end
clear_mail(name)
wake(name)
return {0, wakes, touched}
