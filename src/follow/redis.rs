//! [`RedisStore`]: authorizations kept in Redis, shared by a fleet, written
//! and read by one task behind a bounded queue so that no response waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Client, RedisResult};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Semaphore};

use super::link::Link;
use super::{count, AuthorizationStore, Kept, Taken, STORE_FAILURES};
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
    AddLink { known: Link, link: Link },
    Take(Vec<Link>, Taken),
}

pub(crate) struct RedisStore {
    client: Client,
    ttl: Duration,
    /// The queue to the task, made (and the task started) on first use.
    queue: OnceLock<Option<mpsc::Sender<Operation>>>,
    failures: Failures,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    pub(crate) fn new(client: Client, ttl: Duration) -> Self {
        Self {
            client,
            ttl,
            queue: OnceLock::new(),
            failures: Failures::default(),
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
        self.send(Operation::Keep(links, kept));
    }

    fn add_link(&self, known: Link, link: Link) {
        self.send(Operation::AddLink { known, link });
    }

    fn take(&self, links: Vec<Link>, then: Taken) {
        self.send(Operation::Take(links, then));
    }
}

/// One authorization as Redis holds it, under each of its links.
#[derive(Serialize, Deserialize)]
struct Stored {
    scope: String,
    client_id: String,
    user_agent: String,
    user_agent_cut: bool,
    links: Vec<String>,
}

impl Stored {
    fn new(kept: &Kept, links: &[Link]) -> Self {
        Self {
            scope: kept.requested_scopes.to_string(),
            client_id: kept.client_id.clone(),
            user_agent: kept.user_agent.0.clone(),
            user_agent_cut: kept.user_agent.1,
            links: links.iter().map(|link| link.to_hex()).collect(),
        }
    }

    fn into_kept(self) -> Kept {
        Kept {
            requested_scopes: ScopeSet::parse(&self.scope),
            client_id: self.client_id,
            user_agent: (self.user_agent, self.user_agent_cut),
        }
    }
}

fn key(link: &Link) -> String {
    format!("invalid_scope_observer:follow:{}", link.to_hex())
}

struct Task {
    client: Client,
    ttl: Duration,
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
        let task = Arc::new(self);
        let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
        while let Some(operation) = operations.recv().await {
            let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
                return;
            };
            let (task, mut redis) = (Arc::clone(&task), redis.clone());
            tokio::spawn(async move {
                task.run_one(&mut redis, operation).await;
                drop(permit);
            });
        }
    }

    async fn run_one(&self, redis: &mut ConnectionManager, operation: Operation) {
        let outcome = match operation {
            Operation::Keep(links, kept) => self.keep(redis, &links, &kept).await,
            Operation::AddLink { known, link } => self.add_link(redis, known, link).await,
            Operation::Take(links, then) => match self.take(redis, &links).await {
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

    async fn keep(
        &self,
        redis: &mut ConnectionManager,
        links: &[Link],
        kept: &Kept,
    ) -> RedisResult<()> {
        let value = serde_json::to_string(&Stored::new(kept, links)).unwrap_or_default();
        let mut pipe = redis::pipe();
        for link in links {
            pipe.set_ex(key(link), &value, self.ttl.as_secs().max(1))
                .ignore();
        }
        pipe.query_async(redis).await
    }

    /// The authorization under `known` gains `link`, for what is left of its
    /// time.
    async fn add_link(
        &self,
        redis: &mut ConnectionManager,
        known: Link,
        link: Link,
    ) -> RedisResult<()> {
        let (value, ttl_ms): (Option<String>, i64) = redis::pipe()
            .get(key(&known))
            .pttl(key(&known))
            .query_async(redis)
            .await?;
        let Some(mut stored) = value.and_then(|value| serde_json::from_str::<Stored>(&value).ok())
        else {
            return Ok(());
        };
        let Ok(ttl_ms) = u64::try_from(ttl_ms) else {
            return Ok(());
        };
        if ttl_ms == 0 || stored.links.contains(&link.to_hex()) {
            return Ok(());
        }
        stored.links.push(link.to_hex());
        let value = serde_json::to_string(&stored).unwrap_or_default();
        redis::cmd("SET")
            .arg(key(&link))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms)
            .query_async(redis)
            .await
    }

    /// `GETDEL` under each link in turn; the first found is the
    /// authorization, and its other links go too.
    async fn take(
        &self,
        redis: &mut ConnectionManager,
        links: &[Link],
    ) -> RedisResult<Option<Kept>> {
        for link in links {
            let value: Option<String> = redis.get_del(key(link)).await?;
            let Some(stored) = value.and_then(|value| serde_json::from_str::<Stored>(&value).ok())
            else {
                continue;
            };
            let others: Vec<String> = stored
                .links
                .iter()
                .filter_map(|hex| Link::from_hex(hex))
                .filter(|other| other != link)
                .map(|other| key(&other))
                .collect();
            if !others.is_empty() {
                let _: () = redis.del(others).await?;
            }
            return Ok(Some(stored.into_kept()));
        }
        Ok(None)
    }
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
