-- A change to the fleet's directory (SCIM users and groups, service accounts): the resource
-- in the hash, and the change in the log every node replays from where it stopped (each
-- change numbered, so a gap shows), in one step.
-- KEYS: kg:dir, kg:dir:log, kg:dir:seq
-- ARGV: field (kind:id), json ('' for a delete), maxlen, op (put | delete), kind, id
-- Returns: { seq, stream id }
local seq = redis.call('INCR', KEYS[3])
if ARGV[4] == 'delete' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'seq', seq, 'op', ARGV[4], 'kind', ARGV[5], 'id', ARGV[6], 'json', ARGV[2])
return { seq, id }
