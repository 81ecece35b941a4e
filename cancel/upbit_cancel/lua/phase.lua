-- Store the host's phase (KEYS[1] = ARGV[1], for ARGV[2] ms) and move every dated charge waiting for one
-- (KEYS[2], date.lua): "<window> <second>..." -> n moves n charges from the local seconds' counts (and settled
-- twins) to the window's. ARGV[3] TTL ms of counts, ARGV[4] the prefix of window counts, ARGV[5] of this host's
-- local seconds. The keys built here share KEYS[1]'s hash tag: on a Cluster they live in its slot.
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local pending = redis.call('HGETALL', KEYS[2])
for i = 1, #pending, 2 do
  local n = tonumber(pending[i + 1])
  local first = true
  for part in string.gmatch(pending[i], '%S+') do
    if first then
      for _, key in ipairs({ARGV[4] .. part, ARGV[4] .. part .. ':s'}) do
        redis.call('INCRBY', key, n)
        redis.call('PEXPIRE', key, ARGV[3])
      end
      first = false
    else
      for _, key in ipairs({ARGV[5] .. part, ARGV[5] .. part .. ':s'}) do
        local left = tonumber(redis.call('GET', key) or '0')
        if left > 0 then redis.call('DECRBY', key, math.min(n, left)) end
      end
    end
  end
end
redis.call('DEL', KEYS[2])
return 1
