//! Evidence images in S3-compatible object storage, an option for instances that should not
//! keep images in the database (`serve --s3-bucket …`). Only sealed bytes leave the server
//! (each image is sealed by [`crate::at_rest`] first, so the store never holds a readable
//! face), under `<prefix><tenant>/<session>/<job>/<idx>-<key id>`: one folder per tenant and
//! session, so a bucket policy or lifecycle rule can target either. The database row stays
//! the record of what exists; objects it no longer names are deleted through the
//! `object_deletions` outbox ([`crate::store`]), retried until the store confirms.
//!
//! Requests are presigned with SigV4 (`rusty-s3`) and sent with the server's HTTP client;
//! path-style URLs by default (MinIO, Ceph, moto, most self-hosted stores), virtual-hosted
//! for AWS when asked.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

/// How long a presigned request stays valid: only as long as sending it takes.
const SIGNED_FOR: Duration = Duration::from_secs(60);

/// Where the objects go. Credentials are the operator's, from `AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY` in the CLI.
#[derive(Clone)]
pub struct ObjectStoreConfig {
    pub endpoint: url::Url,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// `bucket.host/key` instead of `host/bucket/key`.
    pub virtual_hosted: bool,
    /// Put before every key (e.g. `liveness/`); empty for none.
    pub prefix: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for ObjectStoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStoreConfig")
            .field("endpoint", &self.endpoint.as_str())
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("virtual_hosted", &self.virtual_hosted)
            .field("prefix", &self.prefix)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("object store configuration: {0}")]
    Config(String),
    #[error("object store unreachable ({action} {key}): {reason}")]
    Unreachable {
        action: &'static str,
        key: String,
        reason: String,
    },
    #[error("object store answered {status} to {action} {key}: {body}")]
    Refused {
        action: &'static str,
        key: String,
        status: u16,
        body: String,
    },
    #[error("object {0} is missing from the object store")]
    Missing(String),
}

/// A handle on the bucket; cheap to clone.
#[derive(Clone)]
pub struct Objects {
    inner: Arc<Inner>,
}

struct Inner {
    bucket: Bucket,
    credentials: Credentials,
    prefix: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects")
            .field("bucket", &self.inner.bucket.name())
            .field("base_url", &self.inner.bucket.base_url().as_str())
            .finish()
    }
}

/// A key part from an id: ids are ours (`ses_…`, `job_…`, base64url), but nothing outside
/// `[A-Za-z0-9_-]` may reach a key whatever a row holds.
fn part(id: &str) -> Cow<'_, str> {
    if id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Cow::Borrowed(id)
    } else {
        Cow::Owned(hex::encode(id.as_bytes()))
    }
}

impl Objects {
    pub fn new(config: &ObjectStoreConfig) -> Result<Self, ObjectError> {
        let style = if config.virtual_hosted {
            UrlStyle::VirtualHost
        } else {
            UrlStyle::Path
        };
        let bucket = Bucket::new(
            config.endpoint.clone(),
            style,
            config.bucket.clone(),
            config.region.clone(),
        )
        .map_err(|e| ObjectError::Config(e.to_string()))?;
        if config.access_key.is_empty() || config.secret_key.is_empty() {
            return Err(ObjectError::Config(
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set".into(),
            ));
        }
        if !config.prefix.is_empty() && !config.prefix.ends_with('/') {
            return Err(ObjectError::Config(format!(
                "the key prefix {:?} must end with '/'",
                config.prefix
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(config.timeout)
            // The endpoint is the operator's: no redirects to anywhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ObjectError::Config(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                bucket,
                credentials: Credentials::new(&config.access_key, &config.secret_key),
                prefix: config.prefix.clone(),
                http,
            }),
        })
    }

    /// The key of one sealed frame. The job id makes every upload's keys its own, so an
    /// upload refused after its objects were written (a second upload on a used token)
    /// never replaces the stored evidence; the key id makes a re-sealed copy a new object.
    pub fn frame_key(&self, tenant: &str, session: &str, job: &str, idx: i64, kid: &str) -> String {
        format!(
            "{}{}/{}/{}/{idx}-{}",
            self.inner.prefix,
            part(tenant),
            part(session),
            part(job),
            part(kid)
        )
    }

    /// The key of `old`'s frame re-sealed under `kid`: same folder and index.
    pub fn resealed_key(&self, old: &str, kid: &str) -> String {
        let (dir, name) = old.rsplit_once('/').unwrap_or(("", old));
        let idx = name.split_once('-').map_or(name, |(i, _)| i);
        format!("{dir}/{idx}-{}", part(kid))
    }

    /// Fails unless the bucket exists and these credentials may use it: `serve` checks this
    /// before it takes traffic.
    pub async fn check(&self) -> Result<(), ObjectError> {
        let url = self
            .inner
            .bucket
            .head_bucket(Some(&self.inner.credentials))
            .sign(SIGNED_FOR);
        let r = self
            .send("HEAD", "(bucket)", self.inner.http.head(url))
            .await?;
        self.expect_success(r, "HEAD", "(bucket)").await.map(drop)
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ObjectError> {
        let url = self
            .inner
            .bucket
            .put_object(Some(&self.inner.credentials), key)
            .sign(SIGNED_FOR);
        let r = self
            .send(
                "PUT",
                key,
                self.inner
                    .http
                    .put(url)
                    .header("content-type", "application/octet-stream")
                    .body(bytes),
            )
            .await?;
        self.expect_success(r, "PUT", key).await.map(drop)
    }

    pub async fn get(&self, key: &str) -> Result<Vec<u8>, ObjectError> {
        let url = self
            .inner
            .bucket
            .get_object(Some(&self.inner.credentials), key)
            .sign(SIGNED_FOR);
        let r = self.send("GET", key, self.inner.http.get(url)).await?;
        if r.status() == reqwest::StatusCode::NOT_FOUND {
            return Err(ObjectError::Missing(key.to_owned()));
        }
        let r = self.expect_success(r, "GET", key).await?;
        r.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| ObjectError::Unreachable {
                action: "GET",
                key: key.to_owned(),
                reason: e.to_string(),
            })
    }

    /// Deletes `key`; an object already gone counts as deleted.
    pub async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        let url = self
            .inner
            .bucket
            .delete_object(Some(&self.inner.credentials), key)
            .sign(SIGNED_FOR);
        let r = self
            .send("DELETE", key, self.inner.http.delete(url))
            .await?;
        if r.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        self.expect_success(r, "DELETE", key).await.map(drop)
    }

    async fn send(
        &self,
        action: &'static str,
        key: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ObjectError> {
        request.send().await.map_err(|e| ObjectError::Unreachable {
            action,
            key: key.to_owned(),
            reason: e.to_string(),
        })
    }

    async fn expect_success(
        &self,
        r: reqwest::Response,
        action: &'static str,
        key: &str,
    ) -> Result<reqwest::Response, ObjectError> {
        if r.status().is_success() {
            return Ok(r);
        }
        let status = r.status().as_u16();
        let mut body = r.text().await.unwrap_or_default();
        body.truncate(300);
        Err(ObjectError::Refused {
            action,
            key: key.to_owned(),
            status,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ObjectStoreConfig {
        ObjectStoreConfig {
            endpoint: "http://127.0.0.1:9000".parse().unwrap(),
            bucket: "evidence".into(),
            region: "us-east-1".into(),
            access_key: "a".into(),
            secret_key: "b".into(),
            virtual_hosted: false,
            prefix: "liveness/".into(),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn keys_are_per_tenant_session_and_upload() {
        let o = Objects::new(&config()).unwrap();
        assert_eq!(
            o.frame_key("ten_a", "ses_b", "job_c", 3, "k1"),
            "liveness/ten_a/ses_b/job_c/3-k1"
        );
        // Whatever a row holds, it cannot climb out of its folder.
        assert_eq!(
            o.frame_key("../x", "s", "j", 0, "k"),
            "liveness/2e2e2f78/s/j/0-k"
        );
        assert_eq!(
            o.resealed_key("liveness/ten_a/ses_b/job_c/3-k1-old", "k2"),
            "liveness/ten_a/ses_b/job_c/3-k2"
        );
    }

    #[test]
    fn bad_configuration_is_refused() {
        let mut c = config();
        c.prefix = "no-slash".into();
        assert!(matches!(Objects::new(&c), Err(ObjectError::Config(_))));
        let mut c = config();
        c.secret_key.clear();
        assert!(matches!(Objects::new(&c), Err(ObjectError::Config(_))));
        let mut c = config();
        c.endpoint = "ftp://host/".parse().unwrap();
        assert!(matches!(Objects::new(&c), Err(ObjectError::Config(_))));
        assert!(
            !format!("{c:?}").contains("\"b\""),
            "the secret is never printed"
        );
    }
}
