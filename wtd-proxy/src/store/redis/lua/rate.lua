-- RequestRates::spend_request (see hop.lua). ARGV: name, rate per second.
return hop_rate(ARGV[1], tonumber(ARGV[2]))
