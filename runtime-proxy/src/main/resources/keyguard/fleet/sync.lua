-- Leases of fleet-wide counters: one call syncs many leases of one node.
--
-- A counter state key (a bucket of a window, a budget period, or a concurrency gauge)
-- holds the sum of its leases' contributions. A window's grant in bucket b counts every
-- bucket of every window that contains b (b-10 .. b+10), so a grant for a bucket a request
-- computed a moment ago never misses units already counted in a newer one. `<key>:hr` the headroom of its active
-- leases (granted but not yet used, as last reported). A counter key in the sorted set
-- `kg:contended` (scored with when it stops being) has a request waiting for room others
-- hold: every node reads the set each round and gives back what it holds of that counter.
-- A lease (a hash) records its
-- counter key, kind, granted room, last reported committed units and contribution:
--   active:  contribution = max(granted, committed)      (the room is held for the node)
--   done:    contribution = committed, final              (the node ended it)
--   expired: contribution = max(granted, committed) kept (the node vanished: whatever it
--            may have used stays counted, so no cap is ever exceeded)
--   held:    a concurrency lease past its expiry, released one lease time later (a node
--            that is only cut off may still be finishing requests)
-- A node that comes back reports on its leases as usual: a report makes the lease active
-- again with what the node really committed (it stopped admitting on the lease before
-- Redis's expiry, so nothing it admitted is missing from that report).
--
-- ARGV: node, leaseMillis, liveNodes, n, then n entries of 12 fields:
--   lease key, counter prefix, tag, buckets (0: a single key), cap, committed, want, kind
--   ("sum" or "conc"), key ttl ms, need (units a request waits for now), final ("1": done),
--   held (the room the node may still be admitting against: never granted less, since
--   its requests do not wait for this answer)
-- Returns: { now, granted_1, used_1, status_1, ..., granted_n, used_n, status_n, contended }
--   contended: the counter keys a request waits on, for every node to give back its headroom
--   used: what the fleet has committed on the counter, as its nodes last reported (the
--   counter's sum less the headroom held in its current key)
--   status: 0 fine, 1 contended (others hold headroom: retry soon, and do not hoard),
--           2 exhausted (no room and no headroom anywhere)

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local node = ARGV[1]
local leaseMillis = tonumber(ARGV[2])
local live = math.max(1, tonumber(ARGV[3]))
local n = tonumber(ARGV[4])

local function num(v) return tonumber(v) or 0 end

-- Counters no longer contended.
redis.call('ZREMRANGEBYSCORE', 'kg:contended', '-inf', now)

-- Leases whose node stopped renewing them.
local due = redis.call('ZRANGEBYSCORE', 'kg:leases', '-inf', now, 'LIMIT', 0, 256)
for _, id in ipairs(due) do
  local f = redis.call('HMGET', id, 'state', 'kind', 'ckey', 'contrib', 'granted', 'committed')
  local state, kind, ckey = f[1], f[2], f[3]
  if state == 'active' then
    local hr = math.max(0, num(f[5]) - num(f[6]))
    if hr > 0 and redis.call('EXISTS', ckey .. ':hr') == 1 then redis.call('DECRBY', ckey .. ':hr', hr) end
    if kind == 'conc' then
      redis.call('HSET', id, 'state', 'held')
      redis.call('ZADD', 'kg:leases', now + leaseMillis, id)
    else
      redis.call('HSET', id, 'state', 'expired')
      redis.call('ZREM', 'kg:leases', id)
    end
  elseif state == 'held' then
    local c = num(f[4])
    if c ~= 0 and redis.call('EXISTS', ckey) == 1 then redis.call('DECRBY', ckey, c) end
    redis.call('HSET', id, 'state', 'done', 'contrib', 0)
    redis.call('ZREM', 'kg:leases', id)
  else
    redis.call('ZREM', 'kg:leases', id)
  end
end

local out = { now }
local i = 5
for e = 1, n do
  local lease, prefix, tag = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local buckets, cap = tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
  local c, want, kind = tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]), ARGV[i + 7]
  local ttl, need, final = tonumber(ARGV[i + 8]), tonumber(ARGV[i + 9]), ARGV[i + 10]
  local held = tonumber(ARGV[i + 11])
  i = i + 12
  local ckey = prefix .. tag
  local f = redis.call('HMGET', lease, 'state', 'contrib', 'granted', 'committed')
  local state, contrib = f[1], num(f[2])
  local oldHr = 0
  if state == 'active' then oldHr = math.max(0, num(f[3]) - num(f[4])) end
  local used = 0
  if buckets > 0 then
    local keys = {}
    local tg = tonumber(tag)
    for b = tg - buckets + 1, tg + buckets - 1 do keys[#keys + 1] = prefix .. b end
    for _, v in ipairs(redis.call('MGET', unpack(keys))) do used = used + num(v) end
  else
    used = num(redis.call('GET', ckey))
  end
  local others = used - contrib
  local hrKey = ckey .. ':hr'
  if final == '1' then
    if c ~= contrib then
      redis.call('INCRBY', ckey, c - contrib)
      redis.call('PEXPIRE', ckey, ttl)
    end
    if oldHr > 0 and redis.call('EXISTS', hrKey) == 1 then redis.call('DECRBY', hrKey, oldHr) end
    redis.call('HSET', lease, 'state', 'done', 'contrib', c, 'granted', c, 'committed', c)
    redis.call('ZREM', 'kg:leases', lease)
    redis.call('PEXPIRE', lease, ttl)
    out[#out + 1] = c
    out[#out + 1] = others + c - num(redis.call('GET', hrKey))
    out[#out + 1] = 0
  else
    local room = cap - others
    local hrOthers = num(redis.call('GET', hrKey)) - oldHr
    local contended = num(redis.call('ZSCORE', 'kg:contended', ckey)) > now
    local target = math.max(c, want)
    if contended or room - c < live * (want - c) then
      -- Near the cap: no node hoards; each takes what it needs now, and a fair share at most.
      target = math.max(c, math.min(target, c + math.max(need, math.floor((room - c) / live))))
    end
    local granted = math.max(c, math.min(target, room))
    -- Never below what the node may be admitting against right now (counted in its
    -- contribution already, so this passes no cap); it gives room back by asking for less.
    if state == 'active' then granted = math.max(granted, math.min(held, num(f[3]))) end
    local status = 0
    if granted < c + need then
      if hrOthers > 0 then
        status = 1
        redis.call('ZADD', 'kg:contended', now + 2000, ckey)
      else
        status = 2
      end
    elseif contended then
      status = 1
    end
    local newContrib = math.max(granted, c)
    if newContrib ~= contrib then redis.call('INCRBY', ckey, newContrib - contrib) end
    redis.call('PEXPIRE', ckey, ttl)
    local newHr = math.max(0, granted - c)
    if newHr ~= oldHr then redis.call('INCRBY', hrKey, newHr - oldHr) end
    redis.call('PEXPIRE', hrKey, ttl)
    redis.call('HSET', lease, 'state', 'active', 'contrib', newContrib, 'granted', granted, 'committed', c,
      'kind', kind, 'ckey', ckey, 'node', node)
    redis.call('PEXPIRE', lease, ttl + leaseMillis)
    redis.call('ZADD', 'kg:leases', now + leaseMillis, lease)
    out[#out + 1] = granted
    out[#out + 1] = others + newContrib - num(redis.call('GET', hrKey))
    out[#out + 1] = status
  end
end
out[#out + 1] = redis.call('ZRANGE', 'kg:contended', 0, 1023)
return out
