-- Presence::seen (see hop.lua). ARGV: name, brings back (ping or send: 0/1), goodbye
-- (0/1), counter.
return {hop_seen(ARGV[1], ARGV[2], ARGV[3], ARGV[4]), wakes, touched}
