"""The Lua scripts of `RedisStore`: each read-then-write step runs as one script, which Redis executes
atomically (no other command runs in between), so every replica and process sees one order of events.

Times travel as strings formatted with %.17g (a Lua number returned to the client would be cut to an
integer). Keys a script builds itself (a token listed in a family set) live in the same database; Redis
Cluster is not supported, a single primary (with replicas and Sentinel) is.
"""

from __future__ import annotations

# A client saved again keeps the time it was first issued a token; `unused` counts dynamic clients never
# signed in. KEYS: client, all clients, unused clients. ARGV: client_id, field, value, ...
SAVE_CLIENT = """
local signed = redis.call('HGET', KEYS[1], 'signed_in_at')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if signed then redis.call('HSET', KEYS[1], 'signed_in_at', signed) end
redis.call('SADD', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[1], 'dynamic') == '1' and not redis.call('HGET', KEYS[1], 'signed_in_at') then
  redis.call('SADD', KEYS[3], ARGV[1])
else
  redis.call('SREM', KEYS[3], ARGV[1])
end
"""

# KEYS: unused clients, all clients. ARGV: before, key prefix.
PURGE_UNUSED = """
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local k = ARGV[2] .. 'client:' .. id
  local c = redis.call('HMGET', k, 'created_at', 'signed_in_at', 'dynamic')
  if not c[1] then
    redis.call('SREM', KEYS[1], id)
  elseif not c[2] and c[3] == '1' and tonumber(c[1]) < tonumber(ARGV[1]) then
    redis.call('DEL', k)
    redis.call('SREM', KEYS[1], id)
    redis.call('SREM', KEYS[2], id)
    n = n + 1
  end
end
return n
"""

# KEYS: user, all users. ARGV: username, password hash, now. Returns 1 if created.
PUT_USER = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'password_hash', ARGV[2], 'updated_at', ARGV[3])
  return 0
end
redis.call('HSET', KEYS[1], 'username', ARGV[1], 'password_hash', ARGV[2], 'created_at', ARGV[3],
           'updated_at', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

# Set fields of a record only if it exists (never resurrect an expired or taken one).
# KEYS: record. ARGV: field, value, ...
UPDATE_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

# KEYS: record. ARGV: field. Delete one field if the record exists.
CLEAR_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"""

# Codes are single-use (RFC 6749 §4.1.2): the first redemption sets used_at, any later one sees it.
# KEYS: code. ARGV: now.
USE_CODE = """
if redis.call('EXISTS', KEYS[1]) == 1 and not redis.call('HGET', KEYS[1], 'used_at') then
  redis.call('HSET', KEYS[1], 'used_at', ARGV[1])
  return 1
end
return 0
"""

# KEYS: token, its family set, its user's set, its client, unused clients.
# ARGV: ttl in ms, client_id, created_at, field, value, ...
SAVE_TOKEN = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
for i = 2, 3 do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
end
if redis.call('EXISTS', KEYS[4]) == 1 and not redis.call('HGET', KEYS[4], 'signed_in_at') then
  redis.call('HSET', KEYS[4], 'signed_in_at', ARGV[3])
end
redis.call('SREM', KEYS[5], ARGV[2])
"""

# Rotation (OAuth 2.1 §4.3.1): a refresh token is used once. KEYS: token. ARGV: now.
USE_REFRESH = """
local t = redis.call('HMGET', KEYS[1], 'kind', 'used_at', 'revoked_at')
if t[1] == 'refresh' and not t[2] and not t[3] then
  redis.call('HSET', KEYS[1], 'used_at', ARGV[1])
  return 1
end
return 0
"""

# Revoke every live token listed in a set (a family, or a person's); drop entries whose token expired.
# KEYS: the set. ARGV: now. Returns how many were revoked.
REVOKE_SET = """
local n = 0
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', k) == 1 then
    if not redis.call('HGET', k, 'revoked_at') then
      redis.call('HSET', k, 'revoked_at', ARGV[1])
      n = n + 1
    end
  else
    redis.call('SREM', KEYS[1], k)
  end
end
return n
"""

_DELAY = """
local function delay(attempts, free, maxd)
  if attempts < free then return 0 end
  return math.min(2 ^ math.min(attempts - free, 30), maxd)
end
"""

# The sign-in throttle (store.py): reserve one attempt on every slot or on none.
# KEYS: slots. ARGV: now, forget-after, max delay, free per slot... Returns the wait ('0' if reserved).
THROTTLE_RESERVE = (
    _DELAY
    + """
local now, forget, maxd = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local wait, next = 0, {}
for i, k in ipairs(KEYS) do
  local r = redis.call('HMGET', k, 'attempts', 'blocked_until', 'seen_at')
  local attempts = 0
  if r[1] and tonumber(r[3]) >= now - forget then attempts = tonumber(r[1]) end
  if attempts > 0 and tonumber(r[2]) > now then wait = math.max(wait, tonumber(r[2]) - now) end
  next[i] = {attempts + 1, now + delay(attempts + 1, tonumber(ARGV[3 + i]), maxd)}
end
if wait == 0 then
  for i, k in ipairs(KEYS) do
    redis.call('HSET', k, 'attempts', next[i][1], 'blocked_until', string.format('%.17g', next[i][2]),
               'seen_at', ARGV[1])
    redis.call('PEXPIRE', k, math.floor((next[i][2] - now + forget) * 1000) + 1000)
  end
end
return string.format('%.17g', wait)
"""
)

# KEYS: slot. ARGV: free, max delay.
THROTTLE_RELEASE = (
    _DELAY
    + """
local r = redis.call('HMGET', KEYS[1], 'attempts', 'blocked_until', 'seen_at')
if r[1] and tonumber(r[1]) > 0 then
  local a = tonumber(r[1]) - 1
  local untl = math.min(tonumber(r[2]), tonumber(r[3]) + delay(a, tonumber(ARGV[1]), tonumber(ARGV[2])))
  redis.call('HSET', KEYS[1], 'attempts', a, 'blocked_until', string.format('%.17g', untl))
end
"""
)

# Fixed-window rate. KEYS: counter. ARGV: now, window, limit. Returns the wait ('0' if allowed).
RATE_HIT = """
local now, win = tonumber(ARGV[1]), tonumber(ARGV[2])
local r = redis.call('HMGET', KEYS[1], 'window_start', 'hits')
local start, hits = now, 1
if r[1] and tonumber(r[1]) > now - win then
  start = tonumber(r[1])
  hits = tonumber(r[2]) + 1
end
redis.call('HSET', KEYS[1], 'window_start', string.format('%.17g', start), 'hits', hits)
redis.call('PEXPIRE', KEYS[1], math.floor((start + win - now) * 1000) + 1000)
if hits <= tonumber(ARGV[3]) then return '0' end
return string.format('%.17g', math.max(0, start + win - now))
"""

# A person saved again keeps when they were first seen and whether they are blocked.
# KEYS: person, all people. ARGV: key, field, value, ...
SAVE_PERSON = """
local old = redis.call('HMGET', KEYS[1], 'created_at', 'blocked_at')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if old[1] then
  redis.call('HSET', KEYS[1], 'created_at', old[1])
  if old[2] then redis.call('HSET', KEYS[1], 'blocked_at', old[2]) else redis.call('HDEL', KEYS[1], 'blocked_at') end
end
redis.call('SADD', KEYS[2], ARGV[1])
"""
