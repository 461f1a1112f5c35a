-- Presence::followed. ARGV: name, known version. Returns the version as the 4th, then
-- 'l', line or 'u', name for each followed node that changed since.
local name = ARGV[1]
if redis.call('EXISTS', K(name, 'node')) == 0 then return {-1, wakes, touched} end
local version = dir_version()
local known = tonumber(ARGV[2])
-- A version from another directory (or none) tells nothing: all of it.
if known > version then known = 0 end
local forgotten = tonumber(redis.call('HGET', C .. 'dir', 'forgotten') or 0)
local out = {0, wakes, touched, version}
for _, f in ipairs(redis.call('LRANGE', K(name, 'follows'), 0, -1)) do
  local fn = K(f, 'node')
  if redis.call('EXISTS', fn) == 1 then
    local changed_at = tonumber(redis.call('ZSCORE', C .. 'changed', f) or 0)
    if known == 0 or changed_at > known then
      local g = redis.call('HMGET', fn, 'listed', 'line')
      if g[1] == '1' then
        table.insert(out, 'l'); table.insert(out, g[2])
      else
        table.insert(out, 'u'); table.insert(out, f)
      end
    end
  elseif known == 0 or forgotten > known then
    table.insert(out, 'u'); table.insert(out, f)
  end
end
return out
