-- A key record changed: the record in the hash, and the change in the log every node
-- replays (in order, from where it stopped, each change numbered so a gap shows), in one
-- step. Two rules hold whatever node writes and however stale its copy:
--   a revoked key stays revoked (no write brings it back);
--   a change based on a secret that is no longer the key's (a rotation raced by another)
--   is refused, so no caller is handed a secret that was overwritten.
-- KEYS: kg:keys, kg:keys:log, kg:keys:seq
-- ARGV: id, json, maxlen, new state, the secret hash the change was based on ('' for none)
-- Returns: { 1, stream id } or { 0, reason ('revoked' | 'changed'), the record Redis has }
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local ok, rec = pcall(cjson.decode, cur)
  if ok and type(rec) == 'table' then
    if rec.state == 'revoked' and ARGV[4] ~= 'revoked' then return { 0, 'revoked', cur } end
    if ARGV[5] ~= '' and rec.secret_hash ~= ARGV[5] then return { 0, 'changed', cur } end
  end
end
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'id', ARGV[1], 'json', ARGV[2], 'seq', seq)
return { 1, id }
