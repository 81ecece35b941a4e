-- A 418: the pocket is blocked until ARGV[1] (epoch ms), for ARGV[2] ms more (Redis's own clock keeps the
-- expiry, so a writer's clock error moves only the end it reports); a shorter block never shortens a longer one.
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= tonumber(ARGV[1]) then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
