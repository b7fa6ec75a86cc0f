-- The fleet as Redis sees it now: its clock, every node's status, when each last beat (by
-- Redis's clock), and how far each applied the key log.
-- Returns: { now, HGETALL kg:nodes, HGETALL kg:nodes:seen, HGETALL kg:nodes:applied }
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return { now, redis.call('HGETALL', 'kg:nodes'), redis.call('HGETALL', 'kg:nodes:seen'), redis.call('HGETALL', 'kg:nodes:applied') }
