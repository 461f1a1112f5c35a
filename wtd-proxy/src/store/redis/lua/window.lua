-- HopWindows::accept_counter (see hop.lua). ARGV: name, counter (decimal), counter % 1024.
return hop_window(ARGV[1], ARGV[2], tonumber(ARGV[3]))
