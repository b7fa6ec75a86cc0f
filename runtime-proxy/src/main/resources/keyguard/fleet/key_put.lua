-- A key record changed: the record in the hash, and the change in the log every node
-- replays (in order, from where it stopped), in one step.
-- KEYS: kg:keys, kg:keys:log   ARGV: id, json, maxlen
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'id', ARGV[1], 'json', ARGV[2])
