-- An answer's Date named the exchange window of a send charged to local seconds (the phase was unknown):
-- KEYS[1] the host's phase key, KEYS[2] its dated hash, KEYS[3] the window's count, KEYS[4] its settled twin,
-- KEYS[5..] the local seconds' counts, then their settled twins. ARGV[1] the hash field ("<window> <seconds>"),
-- ARGV[2] TTL ms. With a phase stored (every take that does not know it is told to read it), the charge moves
-- to the window; else it waits in the hash for phase.lua to move it.
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return 1
end
for i = 5, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
for i = 3, 4 do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
return 1
