//! The device's HTTP client: rustls only (no OpenSSL), optional certificate pinning by SPKI
//! SHA-256 (on top of normal WebPKI validation), uploads retried with exponential backoff on
//! network faults, `5xx` and `429` (safe: the server treats the same upload twice as one
//! submission), job polling.

use std::sync::Arc;
use std::time::{Duration, Instant};

use liveness_protocol::SignedManifest;
use liveness_protocol::encoding::b64url_encode;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::SdkError;
use crate::events::{Observer, SessionEvent};

/// SHA-256 digests of acceptable SubjectPublicKeyInfos. Empty: no pinning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinSet(pub Vec<[u8; 32]>);

/// SHA-256 of a certificate's SubjectPublicKeyInfo (what HPKP and OkHttp pin).
pub fn spki_sha256(cert_der: &[u8]) -> Option<[u8; 32]> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    Some(Sha256::digest(cert.tbs_certificate.subject_pki.raw).into())
}

/// WebPKI validation, then at least one certificate of the chain must carry a pinned key.
#[derive(Debug)]
pub struct PinnedVerifier {
    inner: Arc<WebPkiServerVerifier>,
    pins: PinSet,
}

impl PinnedVerifier {
    pub fn new(roots: RootCertStore, pins: PinSet) -> Result<Self, SdkError> {
        let inner = WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .map_err(|e| SdkError::InvalidInput(format!("TLS roots: {e}")))?;
        Ok(Self { inner, pins })
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let pinned = std::iter::once(end_entity)
            .chain(intermediates)
            .filter_map(|c| spki_sha256(c))
            .any(|d| self.pins.0.contains(&d));
        if pinned {
            Ok(verified)
        } else {
            Err(rustls::Error::General(
                "no certificate in the chain has a pinned public key".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// How uploads are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerClient {
    http: reqwest::Client,
    base: String,
}

/// The parts of one upload.
#[derive(Debug, Clone)]
pub struct Upload<'a> {
    pub signed: &'a SignedManifest,
    pub frames: &'a [Vec<u8>],
}

fn network(e: reqwest::Error) -> SdkError {
    SdkError::Network(if e.is_timeout() {
        "the server did not answer in time".into()
    } else if e.is_connect() {
        format!("cannot connect to the server: {e}")
    } else {
        e.to_string()
    })
}

/// The rule for the server's URL, checked when a session is created (not only at upload,
/// after the whole capture): `https://`, or plain `http://` to this device's own loopback
/// (`127.0.0.1`, `localhost`, `[::1]`) for development. The host is parsed, not matched as a
/// prefix: `http://localhost.example` and `http://127.0.0.1@example.com` are remote hosts.
/// An emulator or phone reaches a development server on the computer through loopback with
/// `adb reverse tcp:8080 tcp:8080` (Android) or directly (the iOS simulator shares the Mac's).
pub fn check_server_url(base_url: &str) -> Result<(), SdkError> {
    let bad = |why: &str| {
        Err(SdkError::InvalidInput(format!(
            "the server URL {base_url:?} {why}"
        )))
    };
    let Ok(url) = reqwest::Url::parse(base_url) else {
        return bad("is not a URL");
    };
    if !url.username().is_empty() || url.password().is_some() {
        return bad("must not carry a user name or password");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return bad("must not have a query or fragment");
    }
    // host_str is the parsed, normalised host: lower-case, IPv4 in dotted form (so `127.1`
    // and `2130706433` are 127.0.0.1), IPv6 bracketed and compressed.
    let Some(host) = url.host_str() else {
        return bad("has no host");
    };
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => bad(
            "must be https: plain http is only for this device's loopback (127.0.0.1, \
             localhost, [::1]); from an Android emulator or phone, reach a development server \
             with `adb reverse tcp:PORT tcp:PORT` and http://127.0.0.1:PORT",
        ),
        _ => bad("must be https"),
    }
}

impl ServerClient {
    /// `pins` empty: the platform's usual WebPKI validation (Mozilla's roots).
    pub fn new(base_url: &str, pins: &PinSet, timeout: Duration) -> Result<Self, SdkError> {
        check_server_url(base_url)?;
        let url = base_url.trim_end_matches('/');
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none());
        if !pins.0.is_empty() {
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder = builder.use_preconfigured_tls(pinned_tls(roots, pins.clone())?);
        }
        Ok(Self {
            http: builder.build().map_err(network)?,
            base: url.to_owned(),
        })
    }

    fn form(upload: &Upload<'_>) -> Result<reqwest::multipart::Form, SdkError> {
        let manifest = reqwest::multipart::Part::bytes(upload.signed.manifest_bytes.clone())
            .mime_str("application/json")
            .map_err(network)?;
        let mut form = reqwest::multipart::Form::new()
            .part("manifest", manifest)
            .text("public_key", b64url_encode(upload.signed.public_key))
            .text("signature", b64url_encode(upload.signed.signature));
        for f in upload.frames {
            let part = reqwest::multipart::Part::bytes(f.clone())
                .mime_str("image/jpeg")
                .map_err(network)?;
            form = form.part("frame", part);
        }
        Ok(form)
    }

    /// Uploads the evidence; returns the job id.
    pub async fn submit(
        &self,
        token: &str,
        upload: &Upload<'_>,
        retry: &RetryPolicy,
        observer: &dyn Observer,
    ) -> Result<String, SdkError> {
        let mut delay = retry.first_delay;
        let mut last = SdkError::Network("no attempt made".into());
        for attempt in 1..=retry.attempts.max(1) {
            observer.on_event(SessionEvent::Submitting { attempt });
            let sent = self
                .http
                .post(format!("{}/v1/submissions", self.base))
                .bearer_auth(token)
                .multipart(Self::form(upload)?)
                .send()
                .await;
            let mut wait = delay;
            match sent {
                Ok(r) if r.status().as_u16() == 202 => {
                    let v: Value = r.json().await.map_err(network)?;
                    return v["job_id"]
                        .as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| SdkError::Internal("the server sent no job id".into()));
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    let retry_after = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
                    let message = body["error"]["message"].as_str().unwrap_or("").to_owned();
                    if code == "submission_token_expired" {
                        return Err(SdkError::TokenExpired);
                    }
                    last = SdkError::ServerRejected {
                        status,
                        code,
                        message,
                    };
                    if !(status >= 500 || status == 429) {
                        return Err(last);
                    }
                    if let Some(s) = retry_after {
                        wait = Duration::from_secs(s).min(retry.max_delay);
                    }
                }
                Err(e) => last = network(e),
            }
            if attempt < retry.attempts {
                tokio::time::sleep(wait).await;
                delay = (delay * 2).min(retry.max_delay);
            }
        }
        Err(last)
    }

    /// Polls the job with the submission token until it ends; returns its result status
    /// (`success`, `incompleted` or `failed`).
    /// Tells the server the session ended on the device without evidence (`reason`:
    /// `user_cancelled`, `camera_unavailable` or `device_error`), so the integrator gets a
    /// verdict now instead of at the token's expiry. One attempt: if it does not arrive, the
    /// server ends the session itself when the submission window closes.
    pub async fn cancel(&self, token: &str, reason: &str) -> Result<(), SdkError> {
        let r = self
            .http
            .post(format!("{}/v1/submissions/cancel", self.base))
            .bearer_auth(token)
            .json(&serde_json::json!({ "reason": reason }))
            .send()
            .await
            .map_err(network)?;
        if r.status().is_success() {
            return Ok(());
        }
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        Err(SdkError::ServerRejected {
            status,
            code: body["error"]["code"].as_str().unwrap_or("").to_owned(),
            message: body["error"]["message"].as_str().unwrap_or("").to_owned(),
        })
    }

    pub async fn wait_job(
        &self,
        token: &str,
        job_id: &str,
        interval: Duration,
        timeout: Duration,
    ) -> Result<String, SdkError> {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self
                .http
                .get(format!("{}/v1/jobs/{job_id}", self.base))
                .bearer_auth(token)
                .send()
                .await;
            match r {
                Ok(r) if r.status().is_success() => {
                    let v: Value = r.json().await.map_err(network)?;
                    // Older servers also answered `failed` to the device.
                    if v["status"] == "done" || v["status"] == "failed" {
                        return Ok("done".to_owned());
                    }
                }
                Ok(r) if r.status().is_client_error() => {
                    let status = r.status().as_u16();
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    return Err(SdkError::ServerRejected {
                        status,
                        code: body["error"]["code"].as_str().unwrap_or("").to_owned(),
                        message: body["error"]["message"].as_str().unwrap_or("").to_owned(),
                    });
                }
                // Server errors and network faults while polling: keep polling until the deadline.
                _ => {}
            }
            if Instant::now() + interval > deadline {
                return Err(SdkError::Timeout(format!(
                    "the verification did not finish within {} s",
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep(interval).await;
        }
    }
}

/// A rustls client configuration that validates with `roots` and then requires a pin.
pub fn pinned_tls(roots: RootCertStore, pins: PinSet) -> Result<rustls::ClientConfig, SdkError> {
    let verifier = PinnedVerifier::new(roots, pins)?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| SdkError::Internal(e.to_string()))?
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(verifier))
    .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(name: &str) -> (CertificateDer<'static>, [u8; 32]) {
        let c = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        let der = c.cert.der().clone();
        let spki = Sha256::digest(c.key_pair.public_key_der()).into();
        (der, spki)
    }

    #[test]
    fn only_a_valid_chain_with_a_pinned_key_passes() {
        let (der, spki) = cert("liveness.test");
        assert_eq!(spki_sha256(&der), Some(spki));
        let mut roots = RootCertStore::empty();
        roots.add(der.clone()).unwrap();
        let name = ServerName::try_from("liveness.test").unwrap();
        let now = UnixTime::now();
        let pinned = PinnedVerifier::new(roots.clone(), PinSet(vec![spki])).unwrap();
        assert!(
            pinned
                .verify_server_cert(&der, &[], &name, &[], now)
                .is_ok()
        );
        let other = PinnedVerifier::new(roots.clone(), PinSet(vec![[7; 32]])).unwrap();
        assert!(
            other
                .verify_server_cert(&der, &[], &name, &[], now)
                .is_err()
        );
        // A pin does not replace validation: a wrong host name still fails.
        let wrong = ServerName::try_from("other.test").unwrap();
        assert!(
            pinned
                .verify_server_cert(&der, &[], &wrong, &[], now)
                .is_err()
        );
        assert!(spki_sha256(b"not a certificate").is_none());
    }

    #[test]
    fn plain_http_is_only_for_loopback() {
        let t = Duration::from_secs(1);
        assert!(ServerClient::new("http://127.0.0.1:8080", &PinSet::default(), t).is_ok());
        assert!(ServerClient::new("https://liveness.example", &PinSet::default(), t).is_ok());
        let e = ServerClient::new("http://liveness.example", &PinSet::default(), t).unwrap_err();
        assert_eq!(e.code(), "invalid_input");
        for ok in [
            "http://localhost:8080/",
            "http://[::1]:9000",
            "HTTP://LOCALHOST",
            "https://liveness.example/base",
        ] {
            assert!(check_server_url(ok).is_ok(), "{ok}");
        }
        // Prefix tricks that a string match let through, the emulator's host alias (a plain
        // http hop across a virtual network), and things that are not server URLs at all.
        for bad in [
            "http://localhost.attacker.example",
            "http://127.0.0.1.nip.io",
            "http://127.0.0.1@attacker.example",
            "http://127.0.0.2",
            "http://10.0.2.2:8080",
            "ftp://liveness.example",
            "https://user:pw@liveness.example",
            "https://liveness.example/?next=x",
            "liveness.example",
            "",
        ] {
            let e = check_server_url(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_input", "{bad}");
        }
        let e = check_server_url("http://10.0.2.2:8080").unwrap_err();
        assert!(e.to_string().contains("adb reverse"), "{e}");
    }
}
