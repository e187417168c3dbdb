"""The Lua scripts of the Redis store's reads: each answers in one round trip."""

from __future__ import annotations

# The read scripts below name the record keys they read from an index at run time;
# every key shares the hash tag, so on Redis Cluster they stay in the slot of the key
# they declare.
#
# A caregiver by phone, in one round trip.
BY_PHONE = """
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return false end
return redis.call('GET', ARGV[2] .. id)
"""
# The shifts each of many caregivers holds from a time on, in one round trip: for a
# fanout to ten thousand, one command instead of ten thousand. ARGV: the index key
# prefix, the earliest score (exclusive), caregiver ids as one JSON array. Returns,
# for each caregiver who holds any, the id, how many shift ids follow, then those.
ASSIGNED_SINCE = """
local out = {}
for _, cid in ipairs(cjson.decode(ARGV[3])) do
  local held = redis.call('ZRANGEBYSCORE', ARGV[1] .. cid, ARGV[2], '+inf')
  if #held > 0 then
    out[#out + 1] = cid
    out[#out + 1] = #held
    for _, id in ipairs(held) do out[#out + 1] = id end
  end
end
return out
"""
# The shifts offered to a caregiver, found as the memory store finds them: among
# the open fanouts of the caregiver's role and its most recently closed ones, those
# whose offered set holds the caregiver. A fanout to ten thousand then adds one
# entry to an index, not one to each of ten thousand. ARGV, after the script's
# own: the open-fanouts prefix, the closed-fanouts prefix, the offered-set prefix,
# the shift key prefix.
_OFFERS_OF = """
local function offers_of(id, role, open, closed, offered, shift)
  local out = {}
  local function consider(sid)
    if redis.call('SISMEMBER', offered .. sid, id) == 1 then
      out[#out + 1] = redis.call('GET', shift .. sid) or ''
    end
  end
  for _, sid in ipairs(redis.call('SMEMBERS', open .. role)) do consider(sid) end
  for _, sid in ipairs(redis.call('LRANGE', closed .. role, 0, -1)) do consider(sid) end
  return out
end
"""
# ARGV: the caregiver id and role, then the prefixes of ``_OFFERS_OF``.
OFFERS = (
    _OFFERS_OF
    + """
return offers_of(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
"""
)
# A reply's reads, in one round trip: the caregiver with this phone and their
# offers, and, for a provider message, the lease on its id. KEYS: the phone index,
# then the message id's key when the lease is taken. ARGV: the phone, the caregiver
# key prefix, the prefixes of ``_OFFERS_OF``, then the lease's seconds and its mark.
# Returns nothing for a phone no caregiver has (nothing is kept of such a message,
# and a remembered id does not answer it); {0, what the key holds} when the id is
# leased or answered already; else {1, the caregiver, then the shifts}. The lease
# is the script's last command, so a script that fails takes none.
REPLY_READ = (
    _OFFERS_OF
    + """
local id = redis.call('HGET', KEYS[1], ARGV[1])
local caregiver = id and redis.call('GET', ARGV[2] .. id)
if not caregiver then return {} end
local role = cjson.decode(caregiver)['role']
if KEYS[2] then
  local held = redis.call('GET', KEYS[2])
  if held then return {0, held} end
end
local offers = offers_of(id, role, ARGV[3], ARGV[4], ARGV[5], ARGV[6])
if KEYS[2] then redis.call('SET', KEYS[2], ARGV[8], 'EX', ARGV[7]) end
table.insert(offers, 1, caregiver)
table.insert(offers, 1, 1)
return offers
"""
)
# What a send reads, in one round trip: the notification (its record, else its
# queued time), its shift, its caregiver, and the shift's organization. KEYS: the
# notification, its queued hash, the shift, the caregiver. ARGV: the caregiver id,
# the organization key prefix.
OUTGOING = """
local shift = redis.call('GET', KEYS[3])
local organization, client = false, false
if shift then
  local decoded = cjson.decode(shift)
  organization = redis.call('GET', ARGV[2] .. decoded['organization_id'])
  local client_id = decoded['client_id']
  if client_id and client_id ~= cjson.null then
    client = redis.call('GET', ARGV[3] .. client_id)
  end
end
return {
  redis.call('GET', KEYS[1]) or '', redis.call('HGET', KEYS[2], ARGV[1]) or '',
  shift or '', redis.call('GET', KEYS[4]) or '', organization or '', client or ''
}
"""
# Note caregivers whose ``Reach`` or role-index entry changed: bump the role's version and
# score each id with it. KEYS: the version, the changes; ARGV: the caregiver ids. Run
# inside the writer's MULTI, so the bump and the scores are one with the change.
REACH_CHANGED = """
local version = redis.call('INCR', KEYS[1])
for i = 1, #ARGV do
  redis.call('ZADD', KEYS[2], version, ARGV[i])
end
return version
"""
# What changed in a role's ``Reach`` since a version, in one round trip. KEYS: the
# version, the changes, the reach hash; ARGV: the version read before, the most ids
# worth reading one by one. Returns the version now, and the ids changed since with
# each one's row (false: no longer in the role) or, past the limit, no ids.
REACH_SINCE = """
local version = redis.call('GET', KEYS[1])
local limit = tonumber(ARGV[2])
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf', 'LIMIT', 0, limit + 1)
if #ids > limit then return {version} end
local rows = {}
for i, id in ipairs(ids) do
  rows[i] = redis.call('HGET', KEYS[3], id)
end
return {version, ids, rows}
"""
