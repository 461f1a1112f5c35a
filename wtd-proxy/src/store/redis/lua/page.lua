-- Presence::directory_page. ARGV: after ('' for the start), limit. Returns the version,
-- whether there are more, then the lines.
local version = dir_version()
local from = '-'
if ARGV[1] ~= '' then from = '(' .. ARGV[1] end
local limit = tonumber(ARGV[2])
local names = redis.call('ZRANGEBYLEX', C .. 'listed', from, '+', 'LIMIT', 0, limit + 1)
local out = {version, 0}
if #names > limit then out[2] = 1 end
for i = 1, math.min(#names, limit) do
  table.insert(out, redis.call('HGET', C .. 'lines', names[i]))
end
return out
