-- Several of this package's scripts in one round trip, in order (redis_store.SharedBudget.bundled): before a
-- take, the fence (block.lua), the peers (peers.lua) and the master (master.lua) it keeps up, then the take.
-- Each script's source is put above as a local function of (KEYS, ARGV), its rules unchanged; on a Cluster
-- only scripts whose keys share one slot are put together. ARGV[1] the number of calls c, then for each call
-- its script's name, its number of keys and of arguments; after those, each call's arguments in order, as
-- KEYS holds each call's keys in order. Returns each call's answer in order (nil as false: an array stops at
-- a nil).
local c = tonumber(ARGV[1])
local answers, key, arg = {}, 0, 1 + 3 * c
for i = 1, c do
  local name, nkeys, nargs = ARGV[3 * i - 1], tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
  local keys, args = {}, {}
  for j = 1, nkeys do keys[j] = KEYS[key + j] end
  for j = 1, nargs do args[j] = ARGV[arg + j] end
  key, arg = key + nkeys, arg + nargs
  local answer = SCRIPTS[name](keys, args)
  if answer == nil then answer = false end
  answers[i] = answer
end
return answers
