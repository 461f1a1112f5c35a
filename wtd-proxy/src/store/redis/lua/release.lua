-- Registrations::release. ARGV: name.
if redis.call('EXISTS', K(ARGV[1], 'node')) == 0 then return {0, wakes, touched} end
forget(ARGV[1])
return {1, wakes, touched}
