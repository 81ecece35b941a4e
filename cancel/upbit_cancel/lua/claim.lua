-- Claim an expired heartbeat for firing, atomically (heartbeat_store.RedisHeartbeats.claim).
-- KEYS[1]: the heartbeat's alive key (a TTL on the store's clock); KEYS[2]: its armed key (the scope).
-- Fires only if it is armed and no longer alive; disarms it (Kraken's rule: disarmed after firing,
-- until the next heartbeat) and answers the scope. Two guards watching one heartbeat: one claims it.
if redis.call('exists', KEYS[1]) == 1 then
  return false
end
local scope = redis.call('get', KEYS[2])
if not scope then
  return false
end
redis.call('del', KEYS[2])
return scope
