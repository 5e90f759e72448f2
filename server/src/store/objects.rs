//! Evidence images kept in object storage: reading a row's bytes from wherever they live,
//! and the `object_deletions` outbox (objects no row names any more, deleted until the store
//! confirms).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::Tx;
use crate::at_rest::KeyRing;
use crate::db::Db;
use crate::objects::ObjectError;

/// An object-store failure, carried through the store's `sqlx::Error` results;
/// [`crate::error::ApiError`] turns it into `503 evidence_store_unavailable`.
pub(crate) fn object_error(e: ObjectError) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(e))
}

/// Records, inside the transaction that stops naming them, the objects of `session_id`'s
/// frames for deletion.
pub(super) async fn orphan_session_objects(
    tx: &mut Tx<'_>,
    session_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO object_deletions (object_key, created_at, attempts) \
         SELECT object_key, $2, 0 FROM evidence_frames \
         WHERE session_id = $1 AND object_key IS NOT NULL \
         ON CONFLICT (object_key) DO NOTHING",
    )
    .bind(session_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn orphan_object(tx: &mut Tx<'_>, key: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO object_deletions (object_key, created_at, attempts) VALUES ($1, $2, 0) \
         ON CONFLICT (object_key) DO NOTHING",
    )
    .bind(key)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Db {
    /// A frame row's opened bytes (`idx`, `key_id`, `bytes`, `object_key` selected).
    pub(super) async fn open_frame(
        &self,
        keys: &KeyRing,
        session_id: &str,
        row: &AnyRow,
    ) -> Result<Vec<u8>, sqlx::Error> {
        let idx: i64 = row.try_get("idx")?;
        let kid: Option<String> = row.try_get("key_id")?;
        let object: Option<String> = row.try_get("object_key")?;
        let sealed: Vec<u8> = match object {
            None => row.try_get("bytes")?,
            Some(key) => match &self.objects {
                Some(objects) => objects.get(&key).await.map_err(object_error)?,
                None => {
                    return Err(object_error(ObjectError::Config(format!(
                        "frame {idx} of {session_id} is in object storage, but this instance has none configured (--s3-bucket)"
                    ))));
                }
            },
        };
        keys.open(session_id, idx, kid.as_deref(), &sealed)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))
    }

    /// Deletes objects written for an upload that was not stored; what cannot be deleted now
    /// goes to the outbox.
    pub(super) async fn discard_objects(&self, keys: &[String], now: i64) {
        let Some(objects) = &self.objects else {
            return;
        };
        for key in keys {
            if let Err(e) = objects.delete(key).await {
                tracing::warn!(object = %key, error = %e, "object store: deletion deferred");
                let queued = sqlx::query(
                    "INSERT INTO object_deletions (object_key, created_at, attempts, last_error) \
                     VALUES ($1, $2, 1, $3) ON CONFLICT (object_key) DO NOTHING",
                )
                .bind(key)
                .bind(now)
                .bind(e.to_string())
                .execute(&self.pool)
                .await;
                if let Err(e) = queued {
                    tracing::error!(object = %key, error = %e, "object left in the store: cannot record its deletion");
                }
            }
        }
    }

    /// One pass over the deletion outbox, oldest first: returns how many objects were
    /// deleted. Safe on several instances at once (deleting twice is harmless).
    pub async fn delete_orphaned_objects(&self, limit: i64) -> Result<usize, sqlx::Error> {
        let Some(objects) = &self.objects else {
            return Ok(0);
        };
        let due: Vec<String> =
            sqlx::query("SELECT object_key FROM object_deletions ORDER BY created_at LIMIT $1")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.try_get("object_key"))
                .collect::<Result<_, _>>()?;
        let mut deleted = 0;
        for key in due {
            match objects.delete(&key).await {
                Ok(()) => {
                    sqlx::query("DELETE FROM object_deletions WHERE object_key = $1")
                        .bind(&key)
                        .execute(&self.pool)
                        .await?;
                    deleted += 1;
                }
                Err(e) => {
                    sqlx::query(
                        "UPDATE object_deletions SET attempts = attempts + 1, last_error = $2 \
                         WHERE object_key = $1",
                    )
                    .bind(&key)
                    .bind(e.to_string())
                    .execute(&self.pool)
                    .await?;
                    // The store is likely down: the next pass tries again.
                    tracing::warn!(object = %key, error = %e, "object store: deletion deferred");
                    break;
                }
            }
        }
        Ok(deleted)
    }

    /// After a change that orphaned objects: deletes them now if the store answers (the
    /// outbox keeps them otherwise).
    pub(super) async fn delete_orphans_now(&self) {
        if self.objects.is_none() {
            return;
        }
        if let Err(e) = self.delete_orphaned_objects(200).await {
            tracing::warn!(error = %e, "object deletions left for the next sweep");
        }
    }

    /// Objects waiting for deletion, for the operator and the tests.
    pub async fn orphaned_objects(&self) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query("SELECT object_key FROM object_deletions ORDER BY created_at")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("object_key"))
            .collect()
    }
}
