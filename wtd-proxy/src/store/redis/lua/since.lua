-- Presence::directory_since. ARGV: since. Returns {0} when that is not known, else
-- {1, version, then 'l', line or 'u', name for each node changed since}.
local version = dir_version()
local complete_after = tonumber(redis.call('HGET', C .. 'dir', 'complete_after') or 0)
local since = tonumber(ARGV[1])
if since < complete_after or since > version then return {0} end
local out = {1, version}
for _, name in ipairs(redis.call('ZRANGEBYSCORE', C .. 'changed', '(' .. ARGV[1], '+inf')) do
  local line = redis.call('HGET', C .. 'lines', name)
  if line then
    table.insert(out, 'l'); table.insert(out, line)
  else
    table.insert(out, 'u'); table.insert(out, name)
  end
end
return out
