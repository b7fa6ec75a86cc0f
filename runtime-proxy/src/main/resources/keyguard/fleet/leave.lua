-- A node stops: it is no longer waited for, and its name and data directory are free.
-- ARGV: node, claim token, data id
redis.call('HDEL', 'kg:nodes', ARGV[1])
redis.call('HDEL', 'kg:nodes:seen', ARGV[1])
redis.call('HDEL', 'kg:nodes:applied', ARGV[1])
for _, k in ipairs({ 'kg:nodes:claim:' .. ARGV[1], 'kg:nodes:data:' .. ARGV[3] }) do
  if redis.call('GET', k) == ARGV[2] then redis.call('DEL', k) end
end
return 1
