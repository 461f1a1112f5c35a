-- Mailboxes::take. ARGV: name, acked ('' for none), most messages. Returns whether the
-- node said goodbye as the 4th, then the entries left (XRANGE's shape).
local name = ARGV[1]
local n = K(name, 'node')
if redis.call('EXISTS', n) == 0 then return {-1, wakes, touched} end
local mail, senders = K(name, 'mail'), K(name, 'senders')
if ARGV[2] ~= '' then
  local freed = 0
  for _, e in ipairs(redis.call('XRANGE', mail, '-', ARGV[2])) do
    local from, len = e[2][2], #e[2][6]
    freed = freed + len
    if redis.call('HINCRBY', senders, 'n:' .. from, -1) <= 0 then
      redis.call('HDEL', senders, 'n:' .. from, 'b:' .. from)
    else
      redis.call('HINCRBY', senders, 'b:' .. from, -len)
    end
    redis.call('XDEL', mail, e[1])
  end
  if freed > 0 then redis.call('HINCRBY', n, 'mbytes', -freed) end
end
local gone = 0
if redis.call('HGET', n, 'gone') == '1' then gone = 1 end
return {0, wakes, touched, gone, redis.call('XRANGE', mail, '-', '+', 'COUNT', tonumber(ARGV[3]))}
