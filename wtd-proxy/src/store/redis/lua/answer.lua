-- ApplyWaiters::answer. ARGV: ack (hex), from. Takes the waiter if `from` is its callee;
-- returns the proxy holding it as the 4th ('' when not taken).
local h, z = C .. 'apply', C .. 'applies'
local v = redis.call('HGET', h, ARGV[1])
if not v then return {0, wakes, touched, ''} end
local space = string.find(v, ' ', 1, true)
if string.sub(v, space + 1) ~= ARGV[2] then return {0, wakes, touched, ''} end
redis.call('HDEL', h, ARGV[1])
redis.call('ZREM', z, ARGV[1])
return {0, wakes, touched, string.sub(v, 1, space - 1)}
