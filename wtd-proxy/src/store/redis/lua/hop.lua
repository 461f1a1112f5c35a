-- The three checks of a signed hop after its signature, as functions: its counter, its
-- node's rate, and the node seen. `window.lua`, `rate.lua` and `seen.lua` run one each;
-- `admit.lua` runs the three in one step (one round trip instead of three).

-- HopWindows::accept_counter: wtd_wire::CounterWindow over all proxies. The window's
-- newest counter is kept as given (decimal), its 1024 bits in a string (SETBIT), so a node
-- costs 128 bytes. Counters are compared as Lua numbers (exact below 2^53; nodes count
-- microseconds, about 2^51 today). -1: not registered, 0: seen before or too old, 1: new.
local function hop_window(name, counter, ci)
  local n = K(name, 'node')
  if redis.call('EXISTS', n) == 0 then return -1 end
  local bits = K(name, 'window')
  local f = redis.call('HMGET', n, 'wtop', 'widx')
  local top, ti = tonumber(f[1] or 0), tonumber(f[2] or 0)
  local c = tonumber(counter)
  if c > top then
    local shift = c - top
    if shift >= 1024 then
      redis.call('DEL', bits)
    else
      for k = 1, shift do redis.call('SETBIT', bits, (ti + k) % 1024, 0) end
    end
    redis.call('HSET', n, 'wtop', counter, 'widx', ci)
    redis.call('SETBIT', bits, ci, 1)
    return 1
  end
  if top - c >= 1024 or redis.call('GETBIT', bits, ci) == 1 then return 0 end
  redis.call('SETBIT', bits, ci, 1)
  return 1
end

-- RequestRates::spend_request: one token bucket per node over all proxies, refilled at
-- `rate` a second, bursts of as many. -1: not registered, 0: empty, 1: spent.
local function hop_rate(name, rate)
  if redis.call('EXISTS', K(name, 'node')) == 0 then return -1 end
  local b = K(name, 'rate')
  local now = now_ms()
  local f = redis.call('HMGET', b, 'tokens', 'at')
  local tokens = math.min(rate, tonumber(f[1] or rate) + (now - tonumber(f[2] or now)) * rate / 1000)
  if tokens < 1 then return 0 end
  redis.call('HSET', b, 'tokens', tokens - 1, 'at', now)
  -- A bucket left alone refills within a second: then it need not be kept.
  redis.call('PEXPIRE', b, 2000)
  return 1
end

-- Presence::seen: `back` ('1': a ping or send, which brings back a node that said
-- goodbye before it was signed), `bye` ('1': a goodbye). -1: not registered, 0: done.
local function hop_seen(name, back, bye, counter)
  local n = K(name, 'node')
  if redis.call('EXISTS', n) == 0 then return -1 end
  local now = now_ms()
  local f = redis.call('HMGET', n, 'seen', 'bye')
  redis.call('HSET', n, 'seen', math.max(tonumber(f[1] or 0), now), 'active', now)
  local c, said = tonumber(counter), tonumber(f[2] or 0)
  if back == '1' and c > said then redis.call('HSET', n, 'gone', 0) end
  if bye == '1' and c > said then redis.call('HSET', n, 'bye', counter) end
  return 0
end
