-- Pool the bounds of the phase the host's processes drew from their Date headers (store.py's rules):
-- KEYS[1] holds "lo hi"; ARGV[1], ARGV[2] a process's bounds, ARGV[3] TTL ms. The pool becomes the
-- intersection (bounds that do not meet it replace it: a fresh observation wins) and is returned.
local lo, hi = tonumber(ARGV[1]), tonumber(ARGV[2])
local current = redis.call('GET', KEYS[1])
if current then
  local a, b = string.match(current, '^(%S+) (%S+)$')
  a, b = tonumber(a), tonumber(b)
  if a and b and math.max(a, lo) < math.min(b, hi) then lo, hi = math.max(a, lo), math.min(b, hi) end
end
local pooled = string.format('%.17g %.17g', lo, hi)
redis.call('SET', KEYS[1], pooled, 'PX', ARGV[3])
return pooled
