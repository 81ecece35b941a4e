-- Who is the master holding KEYS[1] (on a Cluster, the node of its slot): its run id (INFO server), new for
-- every redis-server process, so a failover or a restart shows as a new one (redis_connect.MasterWatch).
return string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
