-- An answer settled a send's charge: KEYS[1..ARGV[1]] give one back, the next ARGV[3] take one (the window
-- its Date named, if it was not charged), the rest are the settled keys of the charges kept (one more each).
-- ARGV[2] TTL ms.
local n = tonumber(ARGV[1])
for i = 1, n do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
for i = n + 1, #KEYS do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
return 1
