//! The database handle: one `sqlx` Any pool over SQLite or PostgreSQL, and the embedded
//! migrations for each. Queries are written once in the SQL both understand (`$1`
//! placeholders, `ON CONFLICT`, `RETURNING`), with integers for times and text for ids.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl FromStr for Backend {
    type Err = sqlx::Error;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(sqlx::Error::Configuration(
                "DATABASE_URL must start with sqlite: or postgres:".into(),
            ))
        }
    }
}

/// A query that names one claimable row by its `id` (see [`Db::claim`]).
pub(crate) type Candidate<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// Where evidence images go when not in the database ([`crate::objects`]).
    pub objects: Option<crate::objects::Objects>,
}

impl Db {
    /// The optimistic claim shared by the job queue and the webhook outbox: `select` names a
    /// candidate row's `id`; `take` (binds `$1` now, `$2` now + `lease_ms`, `$3` the id)
    /// updates it only while it is still claimable, so two workers, or two servers on one
    /// PostgreSQL, never both win it. A lost race looks again, up to eight times; then the
    /// caller sees nothing to claim and polls later.
    pub(crate) async fn claim<'q>(
        &self,
        select: impl Fn() -> Candidate<'q>,
        take: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<String>, sqlx::Error> {
        use sqlx::Row;
        for _ in 0..8 {
            let Some(candidate) = select().fetch_optional(&self.pool).await? else {
                return Ok(None);
            };
            let id: String = candidate.try_get("id")?;
            let taken = sqlx::query(take)
                .bind(now)
                .bind(now + lease_ms)
                .bind(&id)
                .execute(&self.pool)
                .await?;
            if taken.rows_affected() == 1 {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Connects and applies pending migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, sqlx::Error> {
        install_default_drivers();
        let backend: Backend = url.parse()?;
        let options = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10));
        let options = match backend {
            Backend::Sqlite => options.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers run beside the one writer; the busy timeout makes
                    // writers queue instead of failing with SQLITE_BUSY.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        let pool = options.connect(url).await?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await?;
        Ok(Self {
            pool,
            backend,
            objects: None,
        })
    }

    /// Keeps new evidence images in `objects` (existing rows stay where they are).
    pub fn with_objects(mut self, objects: crate::objects::Objects) -> Self {
        self.objects = Some(objects);
        self
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        self.pool.execute("SELECT 1").await.map(|_| ())
    }
}
