-- Presence::hold_poll. ARGV: name, poll id, lease ms, polls per node, directory bound.
-- A held receive request is a member of the node's `polls` with a deadline its proxy
-- pushes forward while it holds it: a crashed proxy's polls run out on their own.
local name = ARGV[1]
local n = K(name, 'node')
if redis.call('EXISTS', n) == 0 then return {-1, wakes, touched} end
local now = now_ms()
local polls = K(name, 'polls')
redis.call('ZREMRANGEBYSCORE', polls, '-inf', now)
local held = redis.call('ZCARD', polls)
if held >= tonumber(ARGV[4]) then return {-2, wakes, touched, held} end
redis.call('ZADD', polls, now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', polls, tonumber(ARGV[3]) * 2)
local f = redis.call('HMGET', n, 'gone', 'listed', 'size', 'bare', 'counted')
if f[1] ~= '1' and f[2] ~= '1' then
  -- Listed again as it was last, if that still fits; its next ping says if not.
  local others = dir_bytes() - tonumber(f[5] or 0)
  if fits(f[4], others, tonumber(f[3]), tonumber(ARGV[5])) then
    redis.call('HSET', n, 'listed', 1)
    changed(name)
  end
end
return {0, wakes, touched}
