-- At connect: the directory's version, and the epoch all proxies on this Redis share
-- (ARGV: a random one, kept only if none is set yet).
local version = dir_version()
redis.call('SET', C .. 'epoch', ARGV[1], 'NX')
return {0, wakes, touched, version, redis.call('GET', C .. 'epoch')}
