-- ApplyWaiters::expect_reply. ARGV: ack (hex), callee, proxy id, most waiting, ms to
-- keep it, then the acks this proxy stopped waiting for whose removal may not have
-- reached Redis yet (so its own freed slots count at once). `apply` maps each ack to "PROXY CALLEE"; `applies` holds each ack's deadline,
-- so the waiters of a crashed proxy run out on their own.
local h, z = C .. 'apply', C .. 'applies'
local now = now_ms()
for i = 6, #ARGV do
  redis.call('HDEL', h, ARGV[i])
  redis.call('ZREM', z, ARGV[i])
end
for _, ack in ipairs(redis.call('ZRANGEBYSCORE', z, '-inf', now)) do redis.call('HDEL', h, ack) end
redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
if redis.call('ZCARD', z) >= tonumber(ARGV[4]) then return {-2, wakes, touched} end
if redis.call('HEXISTS', h, ARGV[1]) == 1 then return {-3, wakes, touched} end
redis.call('HSET', h, ARGV[1], ARGV[3] .. ' ' .. ARGV[2])
redis.call('ZADD', z, now + tonumber(ARGV[5]), ARGV[1])
return {0, wakes, touched}
