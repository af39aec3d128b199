//! [`RedisStore`]: authorizations kept in Redis, shared by a fleet, written
//! and read by one task behind a bounded queue so that no response waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisResult, Script};
use tokio::sync::{mpsc, Semaphore};

use super::flood::{FloodWarning, Flooded};
use super::link::{Link, Unbound};
use super::store::LINKS_PER_AUTHORIZATION;
use super::{count, AuthorizationStore, Kept, Taken, AMBIGUOUS, NOT_KEPT, STORE_FAILURES};
use crate::report::TARGET;
use crate::scope::ScopeSet;

/// Operations waiting for the task; past this many, new ones are dropped
/// (and counted) rather than queued.
const QUEUE: usize = 4096;
/// How long one Redis command or connection attempt may take.
const TIMEOUT: Duration = Duration::from_secs(1);
/// At most one `oauth.follow.store_failed` line per this long.
const LOG_EVERY: Duration = Duration::from_secs(60);
/// Operations under way at once over the one connection.
const IN_FLIGHT: usize = 32;

/// What the task is asked to do.
enum Operation {
    Keep(Vec<Link>, Kept),
    AddLink { known: Link, link: Unbound },
    Take(Vec<Link>, Taken),
}

pub(crate) struct RedisStore {
    client: Client,
    ttl: Duration,
    prefix: String,
    /// The queue to the task, made (and the task started) on first use.
    queue: OnceLock<Option<mpsc::Sender<Operation>>>,
    failures: Failures,
    budget: Mutex<Budget>,
    flood: FloodWarning,
}

/// Keeps allowed per second, refilled continuously, with a burst of one
/// second's worth.
struct Budget {
    per_second: f64,
    tokens: f64,
    refilled: Instant,
}

impl Budget {
    fn allows(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.per_second);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("ttl", &self.ttl)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    pub(crate) fn new(
        client: Client,
        ttl: Duration,
        prefix: String,
        keeps_per_second: u32,
    ) -> Self {
        let per_second = f64::from(keeps_per_second.max(1));
        Self {
            client,
            ttl,
            prefix,
            queue: OnceLock::new(),
            failures: Failures::default(),
            budget: Mutex::new(Budget {
                per_second,
                tokens: per_second,
                refilled: Instant::now(),
            }),
            flood: FloodWarning::default(),
        }
    }

    /// Queues without waiting; a full queue, or no runtime to run the task
    /// on, is a failure (and a take answers `None` at once).
    fn send(&self, operation: Operation) {
        let queue = self.queue.get_or_init(|| {
            let runtime = tokio::runtime::Handle::try_current().ok()?;
            let (sender, receiver) = mpsc::channel(QUEUE);
            let task = Task {
                client: self.client.clone(),
                ttl: self.ttl,
                prefix: self.prefix.clone(),
                failures: self.failures.clone(),
            };
            runtime.spawn(task.run(receiver));
            Some(sender)
        });
        let refused = match queue {
            Some(queue) => match queue.try_send(operation) {
                Ok(()) => return,
                Err(error) => error.into_inner(),
            },
            None => operation,
        };
        self.failures.failed("queue full or no Tokio runtime");
        if let Operation::Take(_, then) = refused {
            then(None);
        }
    }
}

impl AuthorizationStore for RedisStore {
    fn keep(&self, links: Vec<Link>, kept: Kept) {
        let now = Instant::now();
        let allowed = self
            .budget
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .allows(now);
        if !allowed {
            count(NOT_KEPT, 1);
            self.flood.note(Flooded::NotKept, 1, now);
            return;
        }
        self.send(Operation::Keep(links, kept));
    }

    fn add_link(&self, known: Link, link: Unbound) {
        self.send(Operation::AddLink { known, link });
    }

    fn take(&self, links: Vec<Link>, then: Taken) {
        self.send(Operation::Take(links, then));
    }
}

/// Keeps an authorization under its links, in one step: links held by a
/// live authorization of the same request join it; held by another of the
/// same client, both that one and this are ambiguous and nothing is kept.
/// A link held by another client's (the echoed `state`, the one link no
/// client binds) is taken from it and not given to this one. Returns
/// `kept`, `joined`, `ambiguous` or `none`.
///
/// KEYS: the link keys. ARGV: prefix, id, client_id, scopes, user agent,
/// whether it was cut, the request's canonical form, ttl in ms, then the
/// links in hexadecimal, in the order of KEYS.
const KEEP: &str = r"
local prefix, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[8])
local holders, mine = {}, {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  local entry = holder and (prefix .. 'a:' .. holder)
  if holder and redis.call('EXISTS', entry) == 1 then
    local held = redis.call('HMGET', entry, 'client_id', 'links')
    if held[1] == ARGV[3] then
      holders[#holders + 1] = holder
      mine[#mine + 1] = i
    else
      redis.call('DEL', key)
      -- (gsub also returns a count: one value only.)
      local rest = string.gsub(held[2] or '', ARGV[8 + i], '')
      redis.call('HSET', entry, 'links', rest)
    end
  else
    mine[#mine + 1] = i
  end
end
if #mine == 0 then return 'none' end
if #holders > 0 then
  local first = holders[1]
  local one = true
  for _, holder in ipairs(holders) do
    if holder ~= first then one = false end
  end
  local entry = prefix .. 'a:' .. first
  local held = redis.call('HMGET', entry, 'request', 'ambiguous', 'links')
  if one and held[1] == ARGV[7] and not held[2] then
    local left = redis.call('PTTL', entry)
    local links = held[3]
    for _, i in ipairs(mine) do
      if left > 0 and redis.call('SET', KEYS[i], first, 'NX', 'PX', left) then
        links = links .. ' ' .. ARGV[8 + i]
      end
    end
    redis.call('HSET', entry, 'links', links)
    return 'joined'
  end
  for _, holder in ipairs(holders) do
    redis.call('HSET', prefix .. 'a:' .. holder, 'ambiguous', '1')
  end
  return 'ambiguous'
end
local entry = prefix .. 'a:' .. id
local links = {}
for _, i in ipairs(mine) do
  redis.call('SET', KEYS[i], id, 'PX', ttl)
  links[#links + 1] = ARGV[8 + i]
end
redis.call('HSET', entry, 'client_id', ARGV[3], 'scope', ARGV[4], 'user_agent', ARGV[5],
  'user_agent_cut', ARGV[6], 'request', ARGV[7], 'links', table.concat(links, ' '))
redis.call('PEXPIRE', entry, ttl)
return 'kept'
";

/// The id and client of the live authorization under a link (KEYS[1]);
/// nil when there is none or it is ambiguous. ARGV: prefix.
const RESOLVE: &str = r"
local holder = redis.call('GET', KEYS[1])
if not holder then return false end
local held = redis.call('HMGET', ARGV[1] .. 'a:' .. holder, 'client_id', 'ambiguous')
if not held[1] or held[2] then return false end
return {holder, held[1]}
";

/// Adds the link KEYS[1] to the authorization ARGV[2], found by the link
/// KEYS[2] (which must still lead to it), for what is left of its time; a
/// link another live authorization holds makes both ambiguous. ARGV:
/// prefix, id, the link in hexadecimal, the most links.
const ADD_LINK: &str = r"
local prefix, id = ARGV[1], ARGV[2]
-- The link it was found by must still lead to it: between RESOLVE and
-- this, another keep may have taken that link away.
if redis.call('GET', KEYS[2]) ~= id then return 0 end
local entry = prefix .. 'a:' .. id
local left = redis.call('PTTL', entry)
if left <= 0 then return 0 end
local held = redis.call('HMGET', entry, 'ambiguous', 'links')
if held[1] then return 0 end
local other = redis.call('GET', KEYS[1])
if other == id then return 0 end
if other and redis.call('EXISTS', prefix .. 'a:' .. other) == 1 then
  redis.call('HSET', entry, 'ambiguous', '1')
  redis.call('HSET', prefix .. 'a:' .. other, 'ambiguous', '1')
  return 2
end
local _, spaces = string.gsub(held[2], ' ', '')
if spaces + 1 >= tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[1], id, 'PX', left)
redis.call('HSET', entry, 'links', held[2] .. ' ' .. ARGV[3])
return 1
";

/// Takes the authorization under the first of KEYS that has one: deletes
/// it and every link that leads to it, and returns its client, scopes,
/// user agent and whether that was cut (nil for none, or an ambiguous
/// one). ARGV: prefix.
const TAKE: &str = r"
local prefix = ARGV[1]
for _, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder then
    redis.call('DEL', key)
    local entry = prefix .. 'a:' .. holder
    local held = redis.call('HMGET', entry, 'client_id', 'scope', 'user_agent',
      'user_agent_cut', 'links', 'ambiguous')
    redis.call('DEL', entry)
    if held[5] then
      for hex in string.gmatch(held[5], '%x+') do
        local link = prefix .. 'l:' .. hex
        if redis.call('GET', link) == holder then redis.call('DEL', link) end
      end
    end
    if held[1] and not held[6] then
      return {held[1], held[2], held[3], held[4]}
    end
    return false
  end
end
return false
";

/// Scripts, loaded once per connection by their hash (`EVALSHA`, then
/// `EVAL` when Redis does not know it yet).
struct Scripts {
    keep: Script,
    resolve: Script,
    add_link: Script,
    take: Script,
}

struct Task {
    client: Client,
    ttl: Duration,
    prefix: String,
    failures: Failures,
}

impl Task {
    /// Takes operations off the queue and runs up to [`IN_FLIGHT`] at once
    /// over one multiplexed connection: a round trip to Redis does not hold
    /// up the operations behind it.
    async fn run(self, mut operations: mpsc::Receiver<Operation>) {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);
        let redis = match ConnectionManager::new_lazy_with_config(self.client.clone(), config) {
            Ok(redis) => redis,
            Err(error) => {
                self.failures.failed(&error.to_string());
                return;
            }
        };
        let scripts = Arc::new(Scripts {
            keep: Script::new(KEEP),
            resolve: Script::new(RESOLVE),
            add_link: Script::new(ADD_LINK),
            take: Script::new(TAKE),
        });
        let task = Arc::new(self);
        let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
        while let Some(operation) = operations.recv().await {
            let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
                return;
            };
            let (task, scripts, mut redis) =
                (Arc::clone(&task), Arc::clone(&scripts), redis.clone());
            tokio::spawn(async move {
                task.run_one(&scripts, &mut redis, operation).await;
                drop(permit);
            });
        }
    }

    async fn run_one(
        &self,
        scripts: &Scripts,
        redis: &mut ConnectionManager,
        operation: Operation,
    ) {
        let outcome = match operation {
            Operation::Keep(links, kept) => self.keep(scripts, redis, &links, &kept).await,
            Operation::AddLink { known, link } => self.add_link(scripts, redis, known, &link).await,
            Operation::Take(links, then) => match self.take(scripts, redis, &links).await {
                Ok(kept) => {
                    then(kept);
                    Ok(())
                }
                Err(error) => {
                    then(None);
                    Err(error)
                }
            },
        };
        if let Err(error) = outcome {
            self.failures.failed(&error.to_string());
        }
    }

    fn link_key(&self, link: &Link) -> String {
        format!("{}l:{}", self.prefix, link.to_hex())
    }

    async fn keep(
        &self,
        scripts: &Scripts,
        redis: &mut ConnectionManager,
        links: &[Link],
        kept: &Kept,
    ) -> RedisResult<()> {
        let links = &links[..links.len().min(LINKS_PER_AUTHORIZATION)];
        let Some(first) = links.first() else {
            return Ok(());
        };
        let mut invocation = scripts.keep.prepare_invoke();
        for link in links {
            invocation.key(self.link_key(link));
        }
        invocation
            .arg(&self.prefix)
            .arg(first.to_hex())
            .arg(&kept.client_id)
            .arg(kept.requested_scopes.to_string())
            .arg(&kept.user_agent.0)
            .arg(u8::from(kept.user_agent.1))
            .arg(canonical_request(kept))
            .arg(
                u64::try_from(self.ttl.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1),
            );
        for link in links {
            invocation.arg(link.to_hex());
        }
        let outcome: String = invocation.invoke_async(redis).await?;
        if outcome == "ambiguous" {
            count(AMBIGUOUS, 1);
        }
        Ok(())
    }

    /// The authorization under `known` gains `link`, bound to its client,
    /// for what is left of its time.
    async fn add_link(
        &self,
        scripts: &Scripts,
        redis: &mut ConnectionManager,
        known: Link,
        link: &Unbound,
    ) -> RedisResult<()> {
        let held: Option<(String, String)> = scripts
            .resolve
            .key(self.link_key(&known))
            .arg(&self.prefix)
            .invoke_async(redis)
            .await?;
        let Some((id, client_id)) = held else {
            return Ok(());
        };
        let link = link.bind(&client_id);
        let added: i64 = scripts
            .add_link
            .key(self.link_key(&link))
            .key(self.link_key(&known))
            .arg(&self.prefix)
            .arg(id)
            .arg(link.to_hex())
            .arg(LINKS_PER_AUTHORIZATION)
            .invoke_async(redis)
            .await?;
        if added == 2 {
            count(AMBIGUOUS, 1);
        }
        Ok(())
    }

    async fn take(
        &self,
        scripts: &Scripts,
        redis: &mut ConnectionManager,
        links: &[Link],
    ) -> RedisResult<Option<Kept>> {
        if links.is_empty() {
            return Ok(None);
        }
        let mut invocation = scripts.take.prepare_invoke();
        for link in links {
            invocation.key(self.link_key(link));
        }
        let taken: Option<(String, String, String, String)> =
            invocation.arg(&self.prefix).invoke_async(redis).await?;
        Ok(taken.map(|(client_id, scope, user_agent, cut)| Kept {
            requested_scopes: ScopeSet::parse(&scope),
            client_id,
            user_agent: (user_agent, cut == "1"),
        }))
    }
}

/// The client and the scopes, sorted: two authorize requests with the same
/// form are the same request (as [`Kept::same_request`] has it).
fn canonical_request(kept: &Kept) -> String {
    let mut scopes: Vec<&str> = kept.requested_scopes.iter().collect();
    scopes.sort_unstable();
    format!("{}\n{}", kept.client_id, scopes.join(" "))
}

/// Counts every failure, and logs one line a minute at most, with how many
/// failed since the last.
#[derive(Clone, Default)]
struct Failures(Arc<FailureLog>);

#[derive(Default)]
struct FailureLog {
    unlogged: AtomicU64,
    last_logged: Mutex<Option<Instant>>,
}

impl Failures {
    fn failed(&self, cause: &str) {
        count(STORE_FAILURES, 1);
        let failures = self.0.unlogged.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self
            .0
            .last_logged
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if last.is_some_and(|last| now.duration_since(last) < LOG_EVERY) {
            return;
        }
        *last = Some(now);
        self.0.unlogged.fetch_sub(failures, Ordering::Relaxed);
        tracing::warn!(
            target: TARGET,
            cause = ?cause,
            failures,
            "oauth.follow.store_failed"
        );
    }
}
