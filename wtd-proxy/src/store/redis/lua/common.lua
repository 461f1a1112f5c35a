-- Shared by every script of the Redis store: the layout's key names, Redis's clock,
-- presence, and the one directory change every script that changes a line makes.
-- Every script returns {code, wakes, version, ...}: the nodes whose receive requests must
-- look again, and the directory version its change took (0: none), so the proxy that ran
-- it updates its own watch channels before the method returns; the others hear the same
-- over pub/sub.

local C = 'wtd:{cluster}:'
local function K(name, part) return 'wtd:{' .. name .. '}:' .. part end
local wakes = {}
local touched = 0

-- One clock for every proxy: Redis's own.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function wake(name)
  redis.call('PUBLISH', 'wtd:wake', name)
  table.insert(wakes, name)
end

-- Online: no goodbye since, and a receive request held (its lease not run out) or a
-- request within the presence timeout (`active`: its last request, or the end of its
-- last receive request; `seen`, the last time it was online, also counts registering).
local function online(name, now, timeout)
  local f = redis.call('HMGET', K(name, 'node'), 'gone', 'active')
  if f[1] == '1' then return false end
  if redis.call('ZCOUNT', K(name, 'polls'), '(' .. now, '+inf') > 0 then return true end
  return f[2] ~= false and now - tonumber(f[2]) < timeout
end

-- The directory version, started at the clock (ms) the first time, like the embedded
-- store's: a node holding a version of another directory never mistakes this one for it.
local function dir_version()
  local v = redis.call('HGET', C .. 'dir', 'version')
  if v then return tonumber(v) end
  local now = now_ms()
  redis.call('HSET', C .. 'dir', 'version', now, 'complete_after', now)
  return now
end

local function dir_bytes()
  return tonumber(redis.call('HGET', C .. 'dir', 'bytes') or 0)
end

-- See `directory::fits`: full lines fill three quarters of the bound at most.
local function fits(bare, others, size, bound)
  local room = bound
  if size > tonumber(bare) then room = bound - math.floor(bound / 4) end
  return others + size <= room
end

-- The node's line (its hash's `listed`, `line`, `size`) becomes the directory's, as the
-- next version; its followers are woken.
local function changed(name)
  dir_version()
  local v = redis.call('HINCRBY', C .. 'dir', 'version', 1)
  local n = K(name, 'node')
  local f = redis.call('HMGET', n, 'listed', 'line', 'size', 'counted')
  local bytes = dir_bytes() - tonumber(f[4] or 0)
  if f[1] == '1' then
    redis.call('HSET', C .. 'lines', name, f[2])
    redis.call('ZADD', C .. 'listed', 0, name)
    -- Looked at by the next sweep, which then notes when to look again (sweep.lua).
    redis.call('ZADD', C .. 'due', 'NX', 0, name)
    bytes = bytes + tonumber(f[3])
    redis.call('HSET', n, 'counted', f[3])
  else
    redis.call('HDEL', C .. 'lines', name)
    redis.call('ZREM', C .. 'listed', name)
    redis.call('ZREM', C .. 'due', name)
    redis.call('HSET', n, 'counted', 0)
  end
  redis.call('HSET', C .. 'dir', 'bytes', bytes)
  redis.call('ZADD', C .. 'changed', v, name)
  redis.call('PUBLISH', 'wtd:directory', v)
  touched = v
  for _, follower in ipairs(redis.call('SMEMBERS', K(name, 'followers'))) do
    wake(follower)
  end
  return v
end

local function clear_mail(name)
  redis.call('DEL', K(name, 'mail'), K(name, 'senders'))
  redis.call('HSET', K(name, 'node'), 'mbytes', 0)
end

-- The registration is gone: off the directory, following no one, every key of it
-- deleted. Readers of changes from before it read the pages again (`complete_after`).
local function forget(name)
  local n = K(name, 'node')
  redis.call('HSET', n, 'listed', 0)
  changed(name)
  for _, f in ipairs(redis.call('LRANGE', K(name, 'follows'), 0, -1)) do
    redis.call('SREM', K(f, 'followers'), name)
  end
  redis.call('DEL', n, K(name, 'polls'), K(name, 'window'), K(name, 'rate'), K(name, 'mail'),
    K(name, 'senders'), K(name, 'follows'), K(name, 'gate'), K(name, 'earlier'))
  redis.call('SREM', C .. 'names', name)
  redis.call('ZREM', C .. 'changed', name)
  local v = redis.call('HGET', C .. 'dir', 'version')
  redis.call('HSET', C .. 'dir', 'forgotten', v, 'complete_after', v)
  wake(name)
end
