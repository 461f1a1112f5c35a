-- HopWindows::accept_counter: wtd_wire::CounterWindow over all proxies. ARGV: name,
-- counter (decimal), counter % 1024. The window's newest counter is kept as given, its
-- 1024 bits in a string (SETBIT), so a node costs 128 bytes. Counters are compared as
-- Lua numbers (exact below 2^53; nodes count microseconds, about 2^51 today).
local name = ARGV[1]
local n = K(name, 'node')
if redis.call('EXISTS', n) == 0 then return -1 end
local bits = K(name, 'window')
local f = redis.call('HMGET', n, 'wtop', 'widx')
local top, ti = tonumber(f[1] or 0), tonumber(f[2] or 0)
local c, ci = tonumber(ARGV[2]), tonumber(ARGV[3])
if c > top then
  local shift = c - top
  if shift >= 1024 then
    redis.call('DEL', bits)
  else
    for k = 1, shift do redis.call('SETBIT', bits, (ti + k) % 1024, 0) end
  end
  redis.call('HSET', n, 'wtop', ARGV[2], 'widx', ci)
  redis.call('SETBIT', bits, ci, 1)
  return 1
end
if top - c >= 1024 or redis.call('GETBIT', bits, ci) == 1 then return 0 end
redis.call('SETBIT', bits, ci, 1)
return 1
