-- Presence::list. ARGV: name, full line, its size, bare line, its size, directory bound,
-- then the accepted keys' first 8 bytes (hex, sorted, distinct). Returns code 1 when the
-- full line did not fit, and the bytes of the other lines as the 4th.
local name = ARGV[1]
local n = K(name, 'node')
if redis.call('EXISTS', n) == 0 then return {-1, wakes, touched} end
-- The key gate (see `KeyGate`): keys accepted now in `gate`, up to 256 earlier ones in
-- `earlier`, oldest first.
local gate, earlier = K(name, 'gate'), K(name, 'earlier')
local now = {}
local count = 0
for i = 7, #ARGV do now[ARGV[i]] = true; count = count + 1 end
local same = redis.call('SCARD', gate) == count
if same then
  for k, _ in pairs(now) do
    if redis.call('SISMEMBER', gate, k) == 0 then same = false; break end
  end
end
if not same then
  for _, k in ipairs(redis.call('SMEMBERS', gate)) do
    if not now[k] then redis.call('RPUSH', earlier, k) end
  end
  for k, _ in pairs(now) do redis.call('LREM', earlier, 0, k) end
  redis.call('LTRIM', earlier, -256, -1)
  redis.call('DEL', gate)
  for i = 7, #ARGV do redis.call('SADD', gate, ARGV[i]) end
end
local f = redis.call('HMGET', n, 'listed', 'line', 'counted')
local listed = f[1] == '1'
local others = dir_bytes() - tonumber(f[3] or 0)
local bound = tonumber(ARGV[6])
local function show(line, size)
  if listed and f[2] == line then return end
  redis.call('HSET', n, 'line', line, 'size', size, 'listed', 1)
  changed(name)
end
if fits(ARGV[5], others, tonumber(ARGV[3]), bound) then
  show(ARGV[2], ARGV[3])
  return {0, wakes, touched, others}
end
if fits(ARGV[5], others, tonumber(ARGV[5]), bound) then show(ARGV[4], ARGV[5]) end
return {1, wakes, touched, others}
