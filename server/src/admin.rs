//! Tenant and key management, behind `liveness-server admin …` (and used by tests and the
//! demo). Secrets are returned once, to be handed to the integrator, and stored hashed.

use std::time::Duration;

use crate::auth::{IssuedKey, issue_key};
use crate::db::Db;
use crate::error::ApiError;
use crate::store::{ApiKeyRow, SigningKeyRow, TenantRow};
use crate::tokens::{random_hex, random_token};

/// A new tenant with its first API key.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub tenant_id: String,
    /// Verifies this tenant's webhooks and signed results (`whsec_…`).
    pub webhook_secret: String,
    pub key: IssuedKey,
}

pub async fn create_tenant(db: &Db, name: &str, now_ms: i64) -> Result<NewTenant, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::bad_request(
            "invalid_name",
            "a tenant name is 1..=200 bytes",
        ));
    }
    let tenant_id = format!("ten_{}", random_hex(8)?);
    let webhook_secret = random_token("whsec_", 32)?;
    db.insert_tenant(&tenant_id, name, &webhook_secret, now_ms)
        .await?;
    let key = create_api_key(db, &tenant_id, now_ms).await?;
    Ok(NewTenant {
        tenant_id,
        webhook_secret,
        key,
    })
}

pub async fn tenants(db: &Db) -> Result<Vec<TenantRow>, ApiError> {
    Ok(db.tenants().await?)
}

pub async fn create_api_key(db: &Db, tenant_id: &str, now_ms: i64) -> Result<IssuedKey, ApiError> {
    if db.tenant(tenant_id).await?.is_none() {
        return Err(ApiError::not_found());
    }
    let key = issue_key()?;
    db.insert_api_key(
        &key.key_id,
        tenant_id,
        &key.secret_sha256,
        &key.signing_key,
        now_ms,
    )
    .await?;
    Ok(key)
}

/// Issues a successor to `key_id`; the old key keeps working for `grace`, then expires.
pub async fn rotate_api_key(
    db: &Db,
    key_id: &str,
    grace: Duration,
    now_ms: i64,
) -> Result<IssuedKey, ApiError> {
    let old = db
        .api_key(key_id)
        .await?
        .filter(|k| k.status == "active")
        .ok_or_else(ApiError::not_found)?;
    let new = create_api_key(db, &old.tenant_id, now_ms).await?;
    db.expire_api_key(key_id, now_ms + grace.as_millis() as i64)
        .await?;
    Ok(new)
}

pub async fn revoke_api_key(db: &Db, key_id: &str, now_ms: i64) -> Result<(), ApiError> {
    if db.revoke_api_key(key_id, now_ms).await? {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

pub async fn api_keys(db: &Db, tenant_id: &str) -> Result<Vec<ApiKeyRow>, ApiError> {
    Ok(db.api_keys(tenant_id).await?)
}

/// Sets how many hours a tenant's images are kept after the verdict (`None`: the server's
/// default). At most ten years; zero deletes them at the next sweep after the verdict.
pub async fn set_retention(db: &Db, tenant_id: &str, hours: Option<u32>) -> Result<(), ApiError> {
    if hours.is_some_and(|h| h > 87_600) {
        return Err(ApiError::bad_request(
            "invalid_retention",
            "retention is at most 87600 hours (ten years)",
        ));
    }
    if db.set_retention(tenant_id, hours.map(i64::from)).await? {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

/// Sets the origins that may embed a tenant's hosted page in an iframe (CSP
/// `frame-ancestors`); none: no embedding. Each is an origin as [`clean_origins`] accepts.
pub async fn set_frame_ancestors(
    db: &Db,
    tenant_id: &str,
    origins: &[String],
) -> Result<Option<String>, ApiError> {
    let value = clean_origins("frame ancestor", origins)?;
    if db.set_frame_ancestors(tenant_id, value.as_deref()).await? {
        Ok(value)
    } else {
        Err(ApiError::not_found())
    }
}

/// Sets the origins whose pages may call the device's routes from a browser (CORS: the web
/// package hosted on the integrator's own site); none: only the hosted page, which is
/// same-origin. Each is an origin as [`clean_origins`] accepts.
pub async fn set_web_origins(
    db: &Db,
    tenant_id: &str,
    origins: &[String],
) -> Result<Option<String>, ApiError> {
    let value = clean_origins("web origin", origins)?;
    if db.set_web_origins(tenant_id, value.as_deref()).await? {
        Ok(value)
    } else {
        Err(ApiError::not_found())
    }
}

/// Each origin an `https://` origin (or `http://` for `localhost` / `127.0.0.1`, for
/// development), without path, query or credentials; serialised as browsers send it in
/// `Origin`, space-separated. None given: `None`.
fn clean_origins(what: &str, origins: &[String]) -> Result<Option<String>, ApiError> {
    let mut clean = Vec::new();
    for origin in origins {
        let bad = |why: &str| {
            ApiError::bad_request("invalid_origin", format!("{what} {origin:?}: {why}"))
        };
        let url = url::Url::parse(origin).map_err(|e| bad(&e.to_string()))?;
        let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
        if !(url.scheme() == "https" || (url.scheme() == "http" && local)) {
            return Err(bad("must be https (http only for localhost)"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(bad("an origin has no path, query or fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("an origin has no credentials"));
        }
        let origin = url.origin().ascii_serialization();
        if !clean.contains(&origin) {
            clean.push(origin);
        }
    }
    Ok((!clean.is_empty()).then(|| clean.join(" ")))
}

pub async fn rotate_signing_key(db: &Db, now_ms: i64) -> Result<String, ApiError> {
    crate::keys::rotate(db, now_ms).await
}

pub async fn signing_keys(db: &Db) -> Result<Vec<SigningKeyRow>, ApiError> {
    Ok(db.signing_keys().await?)
}
