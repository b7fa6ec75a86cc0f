-- A node's heartbeat, stamped with Redis's clock (nodes' clocks may differ): its status,
-- and the renewal of its claim on its name and its data directory's identity (no two
-- running nodes share either). Every so often it also forgets nodes gone for a day.
-- ARGV: node, status json, claim token, claim ttl ms, data id, prune ("1")
-- Returns: { 1, now } or { 0, now } when another node holds the name or the data id
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nameKey, dataKey = 'kg:nodes:claim:' .. ARGV[1], 'kg:nodes:data:' .. ARGV[5]
for _, k in ipairs({ nameKey, dataKey }) do
  local owner = redis.call('GET', k)
  if owner and owner ~= ARGV[3] then return { 0, now } end
end
redis.call('SET', nameKey, ARGV[3], 'PX', ARGV[4])
redis.call('SET', dataKey, ARGV[3], 'PX', ARGV[4])
redis.call('HSET', 'kg:nodes', ARGV[1], ARGV[2])
redis.call('HSET', 'kg:nodes:seen', ARGV[1], now)
if ARGV[6] == '1' then
  local seen = redis.call('HGETALL', 'kg:nodes:seen')
  for i = 1, #seen, 2 do
    if now - tonumber(seen[i + 1]) > 86400000 then
      redis.call('HDEL', 'kg:nodes', seen[i])
      redis.call('HDEL', 'kg:nodes:seen', seen[i])
      redis.call('HDEL', 'kg:nodes:applied', seen[i])
    end
  end
end
return { 1, now }
