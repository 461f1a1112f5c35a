-- Mailboxes::deliver. ARGV: to, from ('' for /apply calls), kind, bytes, presence
-- timeout ms, then the bounds: messages, bytes, per sender messages, per sender bytes.
-- Codes: 0 queued, 1 node down, 2 mailbox full. A message is a stream entry whose ID is
-- its sequence number (`SEQ-0`); the node's hash keeps the next number and the bytes
-- waiting, `senders` each sender's share (`n:FROM`, `b:FROM`).
local to = ARGV[1]
local n = K(to, 'node')
if redis.call('EXISTS', n) == 0 then return {1, wakes, touched} end
if not online(to, now_ms(), tonumber(ARGV[5])) then return {1, wakes, touched} end
local mail, senders = K(to, 'mail'), K(to, 'senders')
local len = #ARGV[4]
local f = redis.call('HMGET', n, 'mbytes', 'next')
local held, seq = tonumber(f[1] or 0), tonumber(f[2] or 1)
if redis.call('XLEN', mail) >= tonumber(ARGV[6]) or held + len > tonumber(ARGV[7]) then
  return {2, wakes, touched}
end
local s = redis.call('HMGET', senders, 'n:' .. ARGV[2], 'b:' .. ARGV[2])
if tonumber(s[1] or 0) >= tonumber(ARGV[8]) or tonumber(s[2] or 0) + len > tonumber(ARGV[9]) then
  return {2, wakes, touched}
end
redis.call('HINCRBY', senders, 'n:' .. ARGV[2], 1)
redis.call('HINCRBY', senders, 'b:' .. ARGV[2], len)
redis.call('HSET', n, 'mbytes', held + len, 'next', seq + 1)
redis.call('XADD', mail, string.format('%d-0', seq), 'f', ARGV[2], 'k', ARGV[3], 'b', ARGV[4])
wake(to)
return {0, wakes, touched}
