-- A change to the fleet's directory (SCIM users and groups, service accounts): the resource
-- in the hash, and the change in the log every node replays from where it stopped (each
-- change numbered, so a gap shows), in one step.
-- KEYS: kg:dir, kg:dir:log, kg:dir:seq
-- ARGV: field (kind:id), json ('' for a delete), maxlen, op (put | delete), kind, id,
--       the resource as the writer read it ('' to write whatever is there)
-- Returns: { seq, stream id }, or { 0, 'changed' } when the resource is no longer what the
-- writer read (another node changed it first: read again, apply again)
if ARGV[7] ~= '' and redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[7] then return { 0, 'changed' } end
local seq = redis.call('INCR', KEYS[3])
if ARGV[4] == 'delete' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'seq', seq, 'op', ARGV[4], 'kind', ARGV[5], 'id', ARGV[6], 'json', ARGV[2])
return { seq, id }
