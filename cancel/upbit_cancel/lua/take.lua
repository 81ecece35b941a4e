-- Charge one send if every window it may land in has room (store.py's rules; memory_store.py keeps the same).
-- KEYS[1] block key, KEYS[2] phase key, KEYS[3..2+n] keys to charge, then m keys only to check, then the n
-- "settled" keys of the keys to charge (how much of each count its answers confirmed), last the trickle key.
-- ARGV[1] budget, ARGV[2] n, ARGV[3] '1' if the caller does not know the phase, ARGV[4] TTL ms, ARGV[5] m,
-- ARGV[6] the reserve (0: none), ARGV[7] the trickle interval (s), ARGV[8] the caller's clock: the last
-- "reserve" of a count go one per interval (the trickle key holds the host's clock at the last one), for
-- every process of the host together, so that some answer shows where the exchange's boundary falls (a
-- caller asking again the interval later is not refused by a rounding error: 1 ms of slack).
-- Returns {1} taken, {0, held} full (held 1: only charges of requests still in flight fill it, and their
-- answers may give them back soon; 2: the reserve is trickling), {-1} the phase is in the store (read it and
-- ask again), {-2, until} blocked.
local block = redis.call('GET', KEYS[1])
if block then return {-2, block} end
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return {-1} end
local budget = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local m = tonumber(ARGV[5])
local extra = 0
for i = 3 + n, 2 + n + m do extra = extra + tonumber(redis.call('GET', KEYS[i]) or '0') end
local full, held = false, 1
for i = 3, 2 + n do
  if tonumber(redis.call('GET', KEYS[i]) or '0') + extra >= budget then
    full = true
    if tonumber(redis.call('GET', KEYS[i + n + m]) or '0') + extra >= budget then held = 0 end
  end
end
if full then return {0, held} end
local reserve = tonumber(ARGV[6])
if reserve > 0 then
  local top = 0
  for i = 3, 2 + n do top = math.max(top, tonumber(redis.call('GET', KEYS[i]) or '0')) end
  if top + extra >= budget - reserve then
    local last = tonumber(redis.call('GET', KEYS[#KEYS]) or '')
    if last and tonumber(ARGV[8]) - last < tonumber(ARGV[7]) - 0.001 and tonumber(ARGV[8]) >= last then return {0, 2} end
    redis.call('SET', KEYS[#KEYS], ARGV[8], 'PX', ARGV[4])
  end
end
for i = 3, 2 + n do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
end
return {1}
