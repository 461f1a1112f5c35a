-- Registrations::register. ARGV: name, key, email, registered_at, line, bare size,
-- approve (0/1), max_nodes, expiry ms, presence timeout ms, new names per minute.
local name = ARGV[1]
local n = K(name, 'node')
local now = now_ms()
local expiry, timeout = tonumber(ARGV[9]), tonumber(ARGV[10])
local function expires_in(who)
  if online(who, now, timeout) then return nil end
  local seen = tonumber(redis.call('HGET', K(who, 'node'), 'seen') or 0)
  return math.max(0, seen + expiry - now)
end
local existing = redis.call('HGET', n, 'key')
local instead = nil
if existing == ARGV[2] then
  local decision = 0
  if ARGV[7] == '1' then decision = tonumber(redis.call('HGET', n, 'dec') or 0) end
  return {1, wakes, touched, decision}
elseif existing then
  if expires_in(name) ~= 0 then return {-1, wakes, touched} end
  instead = name
elseif redis.call('SCARD', C .. 'names') >= tonumber(ARGV[8]) then
  -- At the bound: the expired registration not seen for the longest makes room.
  local best, best_seen, next_in = nil, nil, -1
  for _, who in ipairs(redis.call('SMEMBERS', C .. 'names')) do
    local left = expires_in(who)
    if left == 0 then
      local seen = tonumber(redis.call('HGET', K(who, 'node'), 'seen') or 0)
      if best == nil or seen < best_seen then best, best_seen = who, seen end
    elseif left and (next_in < 0 or left < next_in) then
      next_in = left
    end
  end
  if best == nil then return {-2, wakes, touched, next_in} end
  instead = best
end
-- New names per minute, all proxies together: a token bucket, bursts of a minute's worth.
local rate = tonumber(ARGV[11])
local b = C .. 'new_names'
local f = redis.call('HMGET', b, 'tokens', 'at')
local tokens = math.min(rate, tonumber(f[1] or rate) + (now - tonumber(f[2] or now)) * rate / 60000)
if tokens < 1 then return {-3, wakes, touched, math.ceil((1 - tokens) * 60000 / rate)} end
redis.call('HSET', b, 'tokens', tokens - 1, 'at', now)
redis.call('PEXPIRE', b, 120000)
if instead then forget(instead) end
local pending = 0
if ARGV[7] == '1' then pending = 1 end
redis.call('HSET', n, 'key', ARGV[2], 'email', ARGV[3], 'reg', ARGV[4], 'seen', now,
  'dec', pending, 'line', ARGV[5], 'size', ARGV[6], 'bare', ARGV[6], 'listed', 0)
redis.call('SADD', C .. 'names', name)
return {0, wakes, touched, pending, instead or ''}
