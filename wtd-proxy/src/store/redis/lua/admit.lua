-- Admission::admit: a hop's counter, its node's rate, and the node seen, in one step and
-- in that order, stopping at the first refusal. ARGV: name, counter (decimal),
-- counter % 1024, rate per second, brings back (0/1), goodbye (0/1).
-- Codes: -1 not registered, 0 admitted, 1 replayed, 2 over its rate.
local name = ARGV[1]
local w = hop_window(name, ARGV[2], tonumber(ARGV[3]))
if w == -1 then return {-1, wakes, touched} end
if w == 0 then return {1, wakes, touched} end
if hop_rate(name, tonumber(ARGV[4])) == 0 then return {2, wakes, touched} end
hop_seen(name, ARGV[5], ARGV[6], ARGV[2])
return {0, wakes, touched}
