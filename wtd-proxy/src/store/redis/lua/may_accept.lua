-- Presence::may_accept. ARGV: name, the key's first 8 bytes (hex).
local gate, earlier = K(ARGV[1], 'gate'), K(ARGV[1], 'earlier')
if redis.call('SISMEMBER', gate, ARGV[2]) == 1 then return 1 end
if redis.call('LPOS', earlier, ARGV[2]) then return 1 end
return 0
