-- Read a heartbeat (heartbeat_store.RedisHeartbeats.read), atomically, on the node that holds it.
-- KEYS[1]: its alive key (a TTL on the store's clock; its value "timeout:SECONDS"); KEYS[2]: its armed key.
-- Returns {ms left (-2: gone), the scope or nil, the alive value or nil, the master's run id}: the run id
-- (INFO server, new for every redis-server process, as master.lua) tells the guard the master changed.
local left = redis.call('PTTL', KEYS[1])
local alive = redis.call('GET', KEYS[1])
local armed = redis.call('GET', KEYS[2])
return {left, armed, alive, string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')}
