//! Integrator authentication, three ways, all ending in the same [`Tenant`]:
//!
//! - **API key** as a bearer token: `Authorization: Bearer lk_<key id>_<secret>`.
//! - **HMAC request signing** with the same key, for integrators who never want the key on
//!   the wire: headers `Liveness-Key-Id`, `Liveness-Timestamp` (Unix seconds; more than five
//!   minutes away from the server's clock is refused) and
//!   `Liveness-Nonce` (16–128 characters of `A-Z a-z 0-9 - _`, new for every request) and
//!   `Liveness-Signature: v1=<hex HMAC-SHA256(signing key, canonical request)>`, where the
//!   signing key is `HMAC-SHA256(key = secret, "liveness-request-signing-v1")` and the
//!   canonical request is `timestamp \n nonce \n METHOD \n path?query \n hex SHA-256(body)`.
//!   The server remembers each key's nonces for the timestamp window and refuses a repeat, so
//!   a captured request cannot be replayed (without the nonce, the same signed
//!   `POST /v1/sessions` made a new session each time it was sent for ten minutes).
//! - **OAuth2 client credentials**: `POST /oauth/token` with the key id and the API key
//!   gives a short-lived `at_…` bearer token.
//!
//! The database holds only SHA-256 of each secret and the derived signing key; neither is
//! the secret. (The derived key does let whoever reads the database sign requests: rotate
//! keys after a database leak.) Secrets never reach a log line.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;
use crate::server::AppState;
use crate::store::ApiKeyRow;
use crate::tokens::{ct_eq, hmac_sha256, random_hex, random_token, sha256_hex};

pub const KEY_ID_HEADER: &str = "liveness-key-id";
pub const TIMESTAMP_HEADER: &str = "liveness-timestamp";
pub const SIGNATURE_HEADER: &str = "liveness-signature";
pub const NONCE_HEADER: &str = "liveness-nonce";
const SIGNING_LABEL: &[u8] = b"liveness-request-signing-v1";
const KEY_ID_HEX: usize = 16;

/// The authenticated integrator of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub key_id: String,
}

/// A freshly issued API key; `api_key` is shown once and never stored.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub key_id: String,
    pub api_key: String,
    pub secret_sha256: String,
    pub signing_key: String,
}

/// Makes a new key: `lk_<16 hex id>_<43 base64url secret>`.
pub fn issue_key() -> Result<IssuedKey, ApiError> {
    let key_id = random_hex(KEY_ID_HEX / 2)?;
    let secret = random_token("", 32)?;
    Ok(IssuedKey {
        api_key: format!("lk_{key_id}_{secret}"),
        secret_sha256: sha256_hex(secret.as_bytes()),
        signing_key: hex::encode(request_signing_key(&secret)),
        key_id,
    })
}

/// The HMAC key a client derives from its API key's secret.
pub fn request_signing_key(secret: &str) -> [u8; 32] {
    hmac_sha256(secret.as_bytes(), SIGNING_LABEL)
}

/// Splits `lk_<id>_<secret>`.
pub fn parse_api_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("lk_")?;
    let (id, secret) = (rest.get(..KEY_ID_HEX)?, rest.get(KEY_ID_HEX..)?);
    let secret = secret.strip_prefix('_')?;
    let id_ok = id.bytes().all(|b| b.is_ascii_hexdigit());
    (id_ok && !secret.is_empty()).then_some((id, secret))
}

/// The canonical string an HMAC-signed request covers.
pub fn canonical_request(
    timestamp: &str,
    nonce: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> String {
    format!(
        "{timestamp}\n{nonce}\n{method}\n{path_and_query}\n{}",
        sha256_hex(body)
    )
}

/// A fresh request nonce (22 characters of base64url).
pub fn request_nonce() -> Result<String, ApiError> {
    random_token("", 16)
}

fn nonce_ok(nonce: &str) -> bool {
    (16..=128).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Signs a request the way clients must (used by tests, the CLI and the demo): the
/// `(Liveness-Key-Id, Liveness-Signature)` values for a request sent with
/// `Liveness-Timestamp: timestamp` and `Liveness-Nonce: nonce`.
pub fn sign_request(
    api_key: &str,
    timestamp: i64,
    nonce: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> Option<(String, String)> {
    let (key_id, secret) = parse_api_key(api_key)?;
    let canonical = canonical_request(&timestamp.to_string(), nonce, method, path_and_query, body);
    let mac = hmac_sha256(&request_signing_key(secret), canonical.as_bytes());
    Some((key_id.to_owned(), format!("v1={}", hex::encode(mac))))
}

fn invalid() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "missing or invalid credentials")
}

fn usable(key: &ApiKeyRow, now: i64) -> bool {
    key.status == "active" && key.expires_at.is_none_or(|t| t > now)
}

impl AppState {
    /// Checks an API key (`lk_…`) against its stored hash.
    pub async fn check_api_key(&self, api_key: &str) -> Result<Tenant, ApiError> {
        let (key_id, secret) = parse_api_key(api_key).ok_or_else(invalid)?;
        let now = self.clock.now_ms();
        let row = self.db.api_key(key_id).await?;
        // Hash even for an unknown id, so both answers take the same time.
        let presented = sha256_hex(secret.as_bytes());
        let stored = row.as_ref().map_or("", |k| k.secret_sha256.as_str());
        match row {
            Some(key) if ct_eq(&presented, stored) && usable(&key, now) => {
                self.db.touch_api_key(&key.id, now).await?;
                Ok(Tenant {
                    id: key.tenant_id,
                    key_id: key.id,
                })
            }
            _ => Err(invalid()),
        }
    }

    async fn check_bearer(&self, token: &str) -> Result<Tenant, ApiError> {
        if token.starts_with("lk_") {
            return self.check_api_key(token).await;
        }
        if token.starts_with("at_") {
            let now = self.clock.now_ms();
            let (tenant, key_id) = self
                .db
                .oauth_token(&sha256_hex(token.as_bytes()), now)
                .await?
                .ok_or_else(invalid)?;
            let key = self.db.api_key(&key_id).await?.ok_or_else(invalid)?;
            if !usable(&key, now) {
                return Err(invalid());
            }
            return Ok(Tenant { id: tenant, key_id });
        }
        Err(invalid())
    }

    async fn check_signature(
        &self,
        headers: &HeaderMap,
        key: &ApiKeyRow,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<(), ApiError> {
        let get = |name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(invalid)
        };
        let timestamp = get(TIMESTAMP_HEADER)?;
        let ts: i64 = timestamp.parse().map_err(|_| invalid())?;
        let skew = (self.clock.now_s() - ts).abs();
        if skew > self.config.hmac_tolerance.as_secs() as i64 {
            return Err(ApiError::unauthorized(
                "stale_timestamp",
                format!(
                    "the request timestamp is {skew} s from the server's clock; the limit is {} s",
                    self.config.hmac_tolerance.as_secs()
                ),
            ));
        }
        let nonce = headers
            .get(NONCE_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|n| nonce_ok(n))
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "missing_nonce",
                    "an HMAC-signed request needs a Liveness-Nonce header (16-128 characters of \
                     A-Z a-z 0-9 - _, new for every request) covered by the signature",
                )
            })?;
        let presented = get(SIGNATURE_HEADER)?
            .strip_prefix("v1=")
            .ok_or_else(invalid)?;
        let signing_key = hex::decode(&key.signing_key)
            .map_err(|e| ApiError::internal("stored signing key", e))?;
        let canonical = canonical_request(timestamp, nonce, method, path_and_query, body);
        let expected = hex::encode(hmac_sha256(&signing_key, canonical.as_bytes()));
        if !ct_eq(&presented.to_ascii_lowercase(), &expected) {
            return Err(invalid());
        }
        // Only a correctly signed request gets this far, so nobody else can fill the table.
        // The nonce is kept until its timestamp is too old to be accepted anyway.
        let forget_at = (ts + self.config.hmac_tolerance.as_secs() as i64 + 1) * 1000;
        if self.db.remember_nonce(&key.id, nonce, forget_at).await? {
            Ok(())
        } else {
            Err(ApiError::unauthorized(
                "replayed_request",
                "this signed request was already received (its Liveness-Nonce was used)",
            ))
        }
    }

    /// Issues an OAuth2 access token for a key id and its API key.
    pub async fn issue_access_token(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<(String, u64), ApiError> {
        let tenant = self.check_api_key(client_secret).await?;
        if !ct_eq(&tenant.key_id, client_id) {
            return Err(invalid());
        }
        let token = random_token("at_", 32)?;
        let ttl = self.config.oauth_token_ttl;
        self.db
            .insert_oauth_token(
                &sha256_hex(token.as_bytes()),
                &tenant.id,
                &tenant.key_id,
                self.clock.now_ms() + ttl.as_millis() as i64,
            )
            .await?;
        Ok((token, ttl.as_secs()))
    }

    /// Authenticates an integrator request from its headers and, for HMAC, its body.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        method: &str,
        path_and_query: &str,
        body: Option<&[u8]>,
    ) -> Result<Tenant, ApiError> {
        if headers.contains_key(SIGNATURE_HEADER) {
            let key_id = headers
                .get(KEY_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(invalid)?;
            let key = self.db.api_key(key_id).await?.ok_or_else(invalid)?;
            if !usable(&key, self.clock.now_ms()) {
                return Err(invalid());
            }
            self.check_signature(headers, &key, method, path_and_query, body.unwrap_or(&[]))
                .await?;
            return Ok(Tenant {
                id: key.tenant_id,
                key_id: key.id,
            });
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(invalid)?;
        self.check_bearer(bearer.trim()).await
    }
}

/// Middleware for integrator routes: authenticates, applies the tenant's rate limit and
/// hands the [`Tenant`] to the handler as an extension.
pub async fn require_tenant(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let signed = parts.headers.contains_key(SIGNATURE_HEADER);
    // Only HMAC needs the body here; otherwise it streams on to the handler untouched.
    let (tenant, body) = if signed {
        let bytes = to_bytes(body, app.config.max_json_bytes)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("the body exceeds {} bytes", app.config.max_json_bytes),
                )
            })?;
        let tenant = app
            .authenticate(
                &parts.headers,
                parts.method.as_str(),
                &path_and_query,
                Some(&bytes),
            )
            .await?;
        (tenant, Body::from(bytes))
    } else {
        let tenant = app
            .authenticate(&parts.headers, parts.method.as_str(), &path_and_query, None)
            .await?;
        (tenant, body)
    };
    app.limit_tenant(&tenant.id).await?;
    parts.extensions.insert(tenant);
    Ok(next.run(Request::from_parts(parts, body)).await)
}
