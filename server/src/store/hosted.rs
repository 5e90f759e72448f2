//! The hosted browser flow: one-time links to the session's page and the page's tokens.

use sqlx::Row;

use super::*;
use crate::db::Db;

/// What redeeming a link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The link was unused and its session open: it is used now, and the session's
    /// submission token (and, for a `page` link, its watch token) were replaced.
    Opened {
        kind: String,
    },
    /// Unknown code, or a code of another session.
    Unknown,
    Used,
    Expired,
    /// The session is no longer waiting for evidence (submitted, cancelled, ended).
    SessionClosed,
}

/// A new link's row.
#[derive(Debug, Clone)]
pub struct NewLink<'a> {
    pub code_sha256: &'a str,
    pub session_id: &'a str,
    /// `page` or `phone`.
    pub kind: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Db {
    pub async fn insert_link(&self, link: &NewLink<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO hosted_links (code_sha256, session_id, kind, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(link.code_sha256)
        .bind(link.session_id)
        .bind(link.kind)
        .bind(link.created_at)
        .bind(link.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Redeems the link `code_sha256` of `session_id` at `now`: in one transaction it is
    /// marked used and the session gets `submission_sha256` as its only submission token
    /// (and, for a `page` link, `watch_sha256` as its watch token). Of two browsers opening the same
    /// link at once, one gets `Opened`, the other `Used`.
    pub async fn redeem_link(
        &self,
        session_id: &str,
        code_sha256: &str,
        submission_sha256: &str,
        watch_sha256: &str,
        now: i64,
    ) -> Result<Redeemed, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query(
            "SELECT kind, expires_at, used_at FROM hosted_links \
             WHERE code_sha256 = $1 AND session_id = $2",
        )
        .bind(code_sha256)
        .bind(session_id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Redeemed::Unknown);
        };
        let kind: String = row.try_get("kind")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let used_at: Option<i64> = row.try_get("used_at")?;
        if used_at.is_some() {
            return Ok(Redeemed::Used);
        }
        if now >= expires_at {
            return Ok(Redeemed::Expired);
        }
        let claimed = sqlx::query(
            "UPDATE hosted_links SET used_at = $2 WHERE code_sha256 = $1 AND used_at IS NULL",
        )
        .bind(code_sha256)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            return Ok(Redeemed::Used);
        }
        let rotated = sqlx::query(
            "UPDATE sessions SET submission_token_sha256 = $2, \
             watch_token_sha256 = COALESCE($3, watch_token_sha256) \
             WHERE id = $1 AND status = 'created' AND submission_expires_at > $4",
        )
        .bind(session_id)
        .bind(submission_sha256)
        .bind((kind == "page").then_some(watch_sha256))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if rotated.rows_affected() != 1 {
            // Keep the link unused: nothing happened (the transaction is dropped).
            return Ok(Redeemed::SessionClosed);
        }
        tx.commit().await?;
        Ok(Redeemed::Opened { kind })
    }

    pub async fn session_by_watch_token(
        &self,
        token_sha256: &str,
    ) -> Result<Option<SessionRow>, sqlx::Error> {
        sqlx::query("SELECT * FROM sessions WHERE watch_token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(session)
            .transpose()
    }

    /// Whether a `kind` link of the session was opened, and whether one was made at all.
    pub async fn link_state(
        &self,
        session_id: &str,
        kind: &str,
    ) -> Result<(bool, bool), sqlx::Error> {
        let rows =
            sqlx::query("SELECT used_at FROM hosted_links WHERE session_id = $1 AND kind = $2")
                .bind(session_id)
                .bind(kind)
                .fetch_all(&self.pool)
                .await?;
        let mut opened = false;
        for row in &rows {
            opened |= row.try_get::<Option<i64>, _>("used_at")?.is_some();
        }
        Ok((!rows.is_empty(), opened))
    }

    /// The origins allowed to frame a tenant's hosted page (space-separated), if any.
    pub async fn frame_ancestors(&self, tenant_id: &str) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query("SELECT frame_ancestors FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get("frame_ancestors")?,
            None => None,
        })
    }

    pub async fn set_frame_ancestors(
        &self,
        tenant_id: &str,
        origins: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE tenants SET frame_ancestors = $2 WHERE id = $1")
            .bind(tenant_id)
            .bind(origins)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether some tenant lists `origin` among its web origins (`admin web-origins`).
    pub async fn web_origin_listed(&self, origin: &str) -> Result<bool, sqlx::Error> {
        let rows = sqlx::query("SELECT web_origins FROM tenants WHERE web_origins IS NOT NULL")
            .fetch_all(&self.pool)
            .await?;
        for row in rows {
            let listed: String = row.try_get("web_origins")?;
            if listed.split(' ').any(|o| o == origin) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub async fn set_web_origins(
        &self,
        tenant_id: &str,
        origins: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE tenants SET web_origins = $2 WHERE id = $1")
            .bind(tenant_id)
            .bind(origins)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
