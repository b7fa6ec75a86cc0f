-- Spend aggregates from one node's audit log, exactly once: a batch covers the node's
-- events after `from` up to `to` (audit queue indexes); it applies only if Redis has seen
-- exactly up to `from` for this node, else it answers where Redis is, and the node
-- rebuilds the batch from there (after a retry, or a Redis that lost writes).
-- ARGV: node, from, to, n, then n entries of: day, cell, cost micros, requests
-- Returns: { applied (1|0), where Redis is for this node }
local seen = redis.call('HGET', 'kg:spend:applied', ARGV[1]) or '-1'
if seen ~= ARGV[2] then return { 0, seen } end
local n = tonumber(ARGV[4])
local i = 5
for e = 1, n do
  local day, cell = ARGV[i], ARGV[i + 1]
  local cost, n = 'kg:spend:' .. day .. ':cost', 'kg:spend:' .. day .. ':n'
  redis.call('HINCRBY', cost, cell, ARGV[i + 2])
  redis.call('HINCRBY', n, cell, ARGV[i + 3])
  -- kept 400 days after the day's last event (a day stops getting events when it ends)
  redis.call('EXPIRE', cost, 34560000)
  redis.call('EXPIRE', n, 34560000)
  i = i + 4
end
redis.call('HSET', 'kg:spend:applied', ARGV[1], ARGV[3])
return { 1, ARGV[3] }
