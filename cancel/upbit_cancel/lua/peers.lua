-- A process of this budget says it is here: KEYS[1] a sorted set of the processes (ARGV[1] its id) that said
-- so in the last ARGV[2] ms, on the store's own clock. Returns how many there are, this one included: while
-- the store is lost, each paces at its share of the budget (store_link), so they do not spend it n times.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZCARD', KEYS[1])
