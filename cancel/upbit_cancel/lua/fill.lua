-- A 429 answered a send: its windows are full, whoever filled them (KEYS[1..n], their settled keys after).
-- Filled to twice the budget ARGV[1], so that charges given back later (settle.lua) cannot reopen them.
-- ARGV[2] TTL ms.
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') < 2 * tonumber(ARGV[1]) then
    redis.call('SET', KEYS[i], 2 * tonumber(ARGV[1]), 'PX', ARGV[2])
  end
end
return 1
