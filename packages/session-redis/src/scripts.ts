/**
 * The Lua scripts behind every store operation, sent by the store itself (EVAL the first time on a connection,
 * EVALSHA after, EVAL again after a NOSCRIPT: see store.ts). Each operation is one script, so one round trip and
 * atomic.
 *
 * Layout: one Redis hash per session, `<prefix><id>`, so every script touches exactly one key (Redis Cluster: no
 * CROSSSLOT, no hash tags needed). Fields:
 * - a top-level session key `k` is the field `k` (or `#k` escaped as `##k`), its value serialized on its own;
 * - `#` holds the metadata, packed into one field so a read returns as few values as possible:
 *   `<version>:<slide>:<maxAge>:<expiresAt>`: version bumped on every data write; slide, the TTL a rolling read
 *   re-applies (ms, 0 = fixed expiry); the cookie's maxAge (ms, 0 = none); the cookie's expiry (epoch ms, 0 = none);
 * - a tombstone is a hash holding only `#d`: the session was destroyed, and the id stays reserved for a while.
 * Fingerprints (conflict counting) are `=<value>` for short values and `#<sha1 of the value>` for long ones.
 *
 * Replies start with Redis' clock in ms (`TIME`; 0 in read replies, where it is not worth its cost): the store learns
 * the offset between its clock and Redis', so that it can give writes a deadline in Redis time (see LATE below).
 */

/** `HSET`/`HDEL` arguments are sent in chunks beyond 500 values: Lua's `unpack` fails beyond a few thousand. */
const CHUNK = `
local function chunked (cmd, key, list)
  local n = #list
  if n <= 500 then return redis.call(cmd, key, unpack(list)) end
  for i = 1, n, 500 do
    redis.call(cmd, key, unpack(list, i, math.min(i + 499, n)))
  end
end
`

/** Redis' clock in ms. Only writes read it (a TIME call is a good part of a short script's cost). */
const NOW = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
`

/**
 * Writes carry a deadline in Redis time. ioredis re-sends commands that were in flight when a connection dropped
 * (`autoResendUnfulfilledCommands`), possibly seconds later, after the store already answered 503 for them; such a
 * stale write must not land on top of newer data. Past its deadline, a write is refused (`LATE`).
 * The numbers of a write travel packed in one argument (ARGV[1]): fewer arguments, less work for the client.
 */
const LATE = `
if now > tonumber(deadline) then return { now, 'LATE' } end
`

/**
 * GET: KEYS[1]; ARGV[1] '1' to slide the TTL (rolling); ARGV[2], only when the client-side cache is on: a tolerance
 * in ms, within which a TTL counts as already slid.
 * Reply: { 0, 'OK', fields[, ttl] } | { 0, 'MISSING' } | { 0, 'GONE' } (tombstone) | { 0, 'CORRUPT' } (not a hash),
 * where fields is the flat field/value list encoded as one JSON array (cjson): the client pays per reply element, so
 * one string beats one per field and value.
 * With rolling, this read is the session's "touch": `@fastify/session` then saves an unmodified session and the
 * store has nothing left to send, so a read-only request costs this one round trip.
 * With the cache, the read slides only a TTL older than the tolerance (fewer writes, so fewer invalidations sent to
 * other replicas), and ends with a read of the key's PTTL, returned as \`ttl\`: with tracking, a write of our own takes
 * the key out of this connection's tracking table (NOLOOP only spares us the message), and a read after it puts it back.
 */
export const GET_LUA = `
local key = KEYS[1]
local h = redis.pcall('HGETALL', key)
if h.err then return { 0, 'CORRUPT' } end
if #h == 0 then return { 0, 'MISSING' } end
local slide = 0
for i = 1, #h, 2 do
  local f = h[i]
  if f == '#d' then return { 0, 'GONE' } end
  if f == '#' then slide = tonumber(string.match(h[i + 1], '^%d+:(%d+):')) or 0 end
end
local within = tonumber(ARGV[2])
if ARGV[1] == '1' and slide > 0 then
  if not within then
    redis.call('PEXPIRE', key, slide)
    return { 0, 'OK', cjson.encode(h) }
  end
  if redis.call('PTTL', key) < slide - within then redis.call('PEXPIRE', key, slide) end
end
if within then return { 0, 'OK', cjson.encode(h), redis.call('PTTL', key) } end
return { 0, 'OK', cjson.encode(h) }
`

/**
 * UPDATE: per-key merge into a session this process loaded. KEYS[1];
 * ARGV[1] "<deadline>:<loaded version>:<nSet>:<nDel>:<ttl>:<slide>:<maxAge>:<expiresAt>" (version empty for a touch),
 * then nSet × (field, value, fingerprint of the value loaded, '' if absent), then nDel × (field, fingerprint).
 * Only the changed keys are written, so a concurrent writer's other keys survive. A key both sides changed ends with
 * this write (last writer wins) and is counted: the fingerprints tell whether the stored value is still the one this
 * writer loaded. They are only compared when the version moved, i.e. when someone else wrote meanwhile.
 * The key is never created: a session that is gone (destroyed, expired, evicted) stays gone (`GONE`/`MISSING`).
 * Reply: { now, 'OK', version, conflicts, ttl } | { now, 'LATE' | 'GONE' | 'MISSING' | 'CORRUPT' }. The final PTTL is a
 * read after the write, which keeps the key tracked for the client-side cache (see GET) and dates the entry.
 */
export const UPDATE_LUA = `${CHUNK}${NOW}
local deadline, loaded, nSet, nDel, ttl, tail =
  string.match(ARGV[1], '^(%d+):(%d*):(%d+):(%d+):(%d+):(%d+:%d+:%d+)$')
if not deadline then return redis.error_reply('ERR swy-session: malformed arguments') end
${LATE}
local key = KEYS[1]
local meta = redis.pcall('HMGET', key, '#', '#d')
if meta.err then return { now, 'CORRUPT' } end
if meta[2] then return { now, 'GONE' } end
if not meta[1] then return { now, 'MISSING' } end
nSet = tonumber(nSet)
nDel = tonumber(nDel)
local version = tonumber(string.match(meta[1], '^(%d+)')) or 0
local conflicts = 0
local lastSet = 1 + nSet * 3
if nSet + nDel > 0 then
  if version ~= tonumber(loaded) then
    local function changed (cur, fp)
      if not cur then return fp ~= '' end
      if string.sub(fp, 1, 1) == '=' then return string.sub(fp, 2) ~= cur end
      return fp ~= '#' .. redis.sha1hex(cur)
    end
    for i = 2, lastSet, 3 do
      local cur = redis.call('HGET', key, ARGV[i])
      if cur ~= ARGV[i + 1] and changed(cur, ARGV[i + 2]) then conflicts = conflicts + 1 end
    end
    for i = lastSet + 1, lastSet + nDel * 2, 2 do
      local cur = redis.call('HGET', key, ARGV[i])
      if cur and changed(cur, ARGV[i + 1]) then conflicts = conflicts + 1 end
    end
  end
  version = version + 1
  local args = { '#', version .. ':' .. tail }
  for i = 2, lastSet, 3 do
    args[#args + 1] = ARGV[i]
    args[#args + 1] = ARGV[i + 1]
  end
  chunked('HSET', key, args)
  if nDel > 0 then
    local dels = {}
    for i = lastSet + 1, lastSet + nDel * 2, 2 do dels[#dels + 1] = ARGV[i] end
    chunked('HDEL', key, dels)
  end
else
  redis.call('HSET', key, '#', version .. ':' .. tail)
end
redis.call('PEXPIRE', key, ttl)
return { now, 'OK', version, conflicts, redis.call('PTTL', key) }
`

/**
 * CREATE: set-if-absent for a new id. KEYS[1]; ARGV[1] "<deadline>:<ttl>:<slide>:<maxAge>:<expiresAt>", then
 * field/value pairs. Refuses an id that holds a tombstone (`GONE`) or a live session (`EXISTS`): a new session never
 * overwrites. Reply: { now, 'OK', 1, 0, ttl } | { now, 'LATE' | 'GONE' | 'EXISTS' } (ttl: as UPDATE's).
 */
export const CREATE_LUA = `${CHUNK}${NOW}
local deadline, ttl, tail = string.match(ARGV[1], '^(%d+):(%d+):(%d+:%d+:%d+)$')
if not deadline then return redis.error_reply('ERR swy-session: malformed arguments') end
${LATE}
local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then
  local tomb = redis.pcall('HEXISTS', key, '#d')
  if tomb == 1 then return { now, 'GONE' } end
  return { now, 'EXISTS' }
end
local args = { '#', '1:' .. tail }
for i = 2, #ARGV do args[#args + 1] = ARGV[i] end
chunked('HSET', key, args)
redis.call('PEXPIRE', key, ttl)
return { now, 'OK', 1, 0, redis.call('PTTL', key) }
`

/**
 * DESTROY: KEYS[1]; ARGV[1] tombstone ms. Replaces the session by a tombstone in one step, so there is no instant
 * where the id is free. No deadline: a late destroy is still the logout the user asked for.
 * Reply: { 0, 'OK' }.
 */
export const DESTROY_LUA = `
local key = KEYS[1]
redis.call('DEL', key)
redis.call('HSET', key, '#d', '1')
redis.call('PEXPIRE', key, ARGV[1])
return { 0, 'OK' }
`

/** The store's names for its scripts (Redis knows them by SHA1, so two package versions never swap them). */
export const COMMANDS = {
  get: 'swySessionGetV3',
  update: 'swySessionUpdateV2',
  create: 'swySessionCreateV2',
  destroy: 'swySessionDestroyV1'
} as const

export const SCRIPTS: ReadonlyArray<readonly [string, string]> = [
  [COMMANDS.get, GET_LUA],
  [COMMANDS.update, UPDATE_LUA],
  [COMMANDS.create, CREATE_LUA],
  [COMMANDS.destroy, DESTROY_LUA]
]
