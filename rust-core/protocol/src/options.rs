//! Session options as an integrator's backend sends them when it creates a session.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::encoding::parse_strict_json;
use crate::error::{ProtocolError, Result};

/// What the integrator asks the user to do. `Random` draws from `available_actions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Action {
    #[default]
    Random,
    HeadLeft,
    HeadRight,
    HeadUp,
    HeadDown,
    MoveTowardsCamera,
    MoveAwayFromCamera,
    FollowText,
    BlinkEyes,
    Smile,
}

/// One concrete challenge of a plan: every [`Action`] but `Random`.
///
/// The declaration order is the canonical order used when deriving plans; never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ChallengeKind {
    HeadLeft,
    HeadRight,
    HeadUp,
    HeadDown,
    MoveTowardsCamera,
    MoveAwayFromCamera,
    FollowText,
    BlinkEyes,
    Smile,
}

impl ChallengeKind {
    /// Every kind, in canonical order.
    pub const ALL: [ChallengeKind; 9] = [
        Self::HeadLeft,
        Self::HeadRight,
        Self::HeadUp,
        Self::HeadDown,
        Self::MoveTowardsCamera,
        Self::MoveAwayFromCamera,
        Self::FollowText,
        Self::BlinkEyes,
        Self::Smile,
    ];

    /// The wire name, as serde writes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::HeadLeft => "HeadLeft",
            Self::HeadRight => "HeadRight",
            Self::HeadUp => "HeadUp",
            Self::HeadDown => "HeadDown",
            Self::MoveTowardsCamera => "MoveTowardsCamera",
            Self::MoveAwayFromCamera => "MoveAwayFromCamera",
            Self::FollowText => "FollowText",
            Self::BlinkEyes => "BlinkEyes",
            Self::Smile => "Smile",
        }
    }
}

impl From<ChallengeKind> for Action {
    /// The fixed action that asks for exactly this challenge.
    fn from(kind: ChallengeKind) -> Self {
        match kind {
            ChallengeKind::HeadLeft => Self::HeadLeft,
            ChallengeKind::HeadRight => Self::HeadRight,
            ChallengeKind::HeadUp => Self::HeadUp,
            ChallengeKind::HeadDown => Self::HeadDown,
            ChallengeKind::MoveTowardsCamera => Self::MoveTowardsCamera,
            ChallengeKind::MoveAwayFromCamera => Self::MoveAwayFromCamera,
            ChallengeKind::FollowText => Self::FollowText,
            ChallengeKind::BlinkEyes => Self::BlinkEyes,
            ChallengeKind::Smile => Self::Smile,
        }
    }
}

impl Action {
    /// The challenge this action asks for, or `None` for `Random`.
    pub fn challenge(self) -> Option<ChallengeKind> {
        Some(match self {
            Self::Random => return None,
            Self::HeadLeft => ChallengeKind::HeadLeft,
            Self::HeadRight => ChallengeKind::HeadRight,
            Self::HeadUp => ChallengeKind::HeadUp,
            Self::HeadDown => ChallengeKind::HeadDown,
            Self::MoveTowardsCamera => ChallengeKind::MoveTowardsCamera,
            Self::MoveAwayFromCamera => ChallengeKind::MoveAwayFromCamera,
            Self::FollowText => ChallengeKind::FollowText,
            Self::BlinkEyes => ChallengeKind::BlinkEyes,
            Self::Smile => ChallengeKind::Smile,
        })
    }

    pub fn name(self) -> &'static str {
        self.challenge().map_or("Random", ChallengeKind::name)
    }
}

/// Limits on options. Public so servers can document them.
pub mod limits {
    /// Most challenges one session may ask for.
    pub const MAX_CHALLENGES: u8 = 5;
    pub const DEFAULT_RANDOM_CHALLENGES: u8 = 2;
    pub const MAX_RELAY_STATE_BYTES: usize = 1024;
    pub const MAX_USER_REFERENCE_BYTES: usize = 128;
    pub const MAX_URL_BYTES: usize = 2048;
    pub const MAX_OPTIONS_BYTES: usize = 16 * 1024;
    /// Session lifetime: how long the result stays retrievable with the result token.
    pub const SESSION_TTL_SECONDS: (u32, u32, u32) = (60, 3600, 7 * 24 * 3600);
    /// Submission token lifetime (min, default, max).
    pub const SUBMISSION_TTL_SECONDS: (u32, u32, u32) = (30, 300, 3600);
    /// Time the user gets for one challenge step (min, default, max).
    pub const STEP_TIME_LIMIT_MS: (u32, u32, u32) = (3000, 8000, 30_000);
}

/// Options for one liveness session. Unknown fields are rejected so a typo
/// (`"webhookUrl"`) fails loudly instead of being ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SessionOptions {
    #[serde(default)]
    pub action: Action,
    /// Kinds `Random` may draw from; all kinds when absent. Only meaningful with `Random`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_actions: Option<Vec<ChallengeKind>>,
    /// Number of challenges; `Random` only (default 2). A fixed action is one challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_count: Option<u8>,
    /// Opaque integrator data echoed back in the result and the webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_ttl_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission_ttl_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_time_limit_ms: Option<u32>,
    /// The screen-light reflection step (default on). Off is the no-flash path for a user
    /// who asks for it; the plan, and so the verdict, records which path ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub light_challenge: Option<bool>,
    /// The integrator's own reference for the user (opaque; 1–128 bytes; not in results or
    /// webhooks). Failed sessions count against it for the server's cool-down, which a
    /// device cannot escape by making a new key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_reference: Option<String>,
}

impl SessionOptions {
    /// Parses options from JSON (strict: size-capped, no duplicate or unknown keys) and
    /// validates them.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let options: Self = parse_strict_json("session options", bytes, limits::MAX_OPTIONS_BYTES)?;
        options.validate()?;
        Ok(options)
    }

    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<()> {
        self.kinds_to_draw_from()?;
        self.challenge_count()?;
        if let Some(relay) = &self.relay_state
            && relay.len() > limits::MAX_RELAY_STATE_BYTES
        {
            return Err(ProtocolError::FieldTooLong {
                field: "relay_state",
                max: limits::MAX_RELAY_STATE_BYTES,
                actual: relay.len(),
            });
        }
        if let Some(user) = &self.user_reference
            && (user.is_empty() || user.len() > limits::MAX_USER_REFERENCE_BYTES)
        {
            return Err(invalid(format!(
                "user_reference must be 1..={} bytes",
                limits::MAX_USER_REFERENCE_BYTES
            )));
        }
        for (field, url) in [
            ("redirect_url", &self.redirect_url),
            ("cancel_url", &self.cancel_url),
            ("error_url", &self.error_url),
            ("webhook_url", &self.webhook_url),
        ] {
            if let Some(url) = url {
                check_url(field, url)?;
            }
        }
        self.session_ttl_seconds()?;
        self.submission_ttl_seconds()?;
        self.step_time_limit_ms()?;
        Ok(())
    }

    /// The kinds a plan is drawn from, sorted in canonical order, duplicates rejected.
    pub fn kinds_to_draw_from(&self) -> Result<Vec<ChallengeKind>> {
        match (self.action.challenge(), &self.available_actions) {
            (Some(_), Some(_)) => Err(invalid(
                "available_actions only applies when action is Random",
            )),
            (Some(kind), None) => Ok(vec![kind]),
            (None, None) => Ok(ChallengeKind::ALL.to_vec()),
            (None, Some(list)) => {
                let mut kinds = list.clone();
                kinds.sort();
                kinds.dedup();
                if kinds.len() != list.len() {
                    return Err(invalid("available_actions lists a kind twice"));
                }
                if kinds.is_empty() {
                    return Err(invalid("available_actions is empty"));
                }
                Ok(kinds)
            }
        }
    }

    /// The number of challenges the plan will have.
    pub fn challenge_count(&self) -> Result<u8> {
        if self.action.challenge().is_some() {
            return match self.challenge_count {
                None | Some(1) => Ok(1),
                Some(n) => Err(invalid(format!(
                    "challenge_count {n} needs action Random; a fixed action is one challenge"
                ))),
            };
        }
        let available = self.kinds_to_draw_from()?.len();
        // An unset count never exceeds the set drawn from: `["Smile"]` alone means one challenge.
        let default = usize::from(limits::DEFAULT_RANDOM_CHALLENGES).min(available) as u8;
        let n = self.challenge_count.unwrap_or(default);
        if n == 0 || n > limits::MAX_CHALLENGES {
            return Err(invalid(format!(
                "challenge_count must be 1..={}, got {n}",
                limits::MAX_CHALLENGES
            )));
        }
        if usize::from(n) > available {
            return Err(invalid(format!(
                "challenge_count {n} exceeds the {available} available actions (a kind is never asked twice)"
            )));
        }
        Ok(n)
    }

    /// Whether the plan carries the screen-light step.
    pub fn light_challenge(&self) -> bool {
        self.light_challenge.unwrap_or(true)
    }

    pub fn session_ttl_seconds(&self) -> Result<u32> {
        in_range(
            "session_ttl_seconds",
            self.session_ttl_seconds,
            limits::SESSION_TTL_SECONDS,
        )
    }

    pub fn submission_ttl_seconds(&self) -> Result<u32> {
        in_range(
            "submission_ttl_seconds",
            self.submission_ttl_seconds,
            limits::SUBMISSION_TTL_SECONDS,
        )
    }

    pub fn step_time_limit_ms(&self) -> Result<u32> {
        in_range(
            "step_time_limit_ms",
            self.step_time_limit_ms,
            limits::STEP_TIME_LIMIT_MS,
        )
    }
}

fn invalid(reason: impl Into<String>) -> ProtocolError {
    ProtocolError::InvalidOptions {
        reason: reason.into(),
    }
}

fn in_range(field: &str, value: Option<u32>, (min, default, max): (u32, u32, u32)) -> Result<u32> {
    let v = value.unwrap_or(default);
    if !(min..=max).contains(&v) {
        return Err(invalid(format!("{field} must be {min}..={max}, got {v}")));
    }
    Ok(v)
}

/// URLs must be absolute https, except plain http to a loopback host (local development and
/// tests): an integrator's webhook secret or relay state must never travel in clear text.
fn check_url(field: &'static str, text: &str) -> Result<()> {
    if text.len() > limits::MAX_URL_BYTES {
        return Err(ProtocolError::FieldTooLong {
            field,
            max: limits::MAX_URL_BYTES,
            actual: text.len(),
        });
    }
    let url = Url::parse(text).map_err(|e| invalid(format!("{field}: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(invalid(format!(
            "{field} must be an https URL (http only to a loopback host)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(json: &str) -> Result<SessionOptions> {
        SessionOptions::from_json(json.as_bytes())
    }

    #[test]
    fn defaults_are_two_random_challenges_from_every_kind() {
        let o = opts("{}").unwrap();
        assert_eq!(o.action, Action::Random);
        assert_eq!(o.challenge_count().unwrap(), 2);
        assert_eq!(o.kinds_to_draw_from().unwrap(), ChallengeKind::ALL.to_vec());
        assert_eq!(o.submission_ttl_seconds().unwrap(), 300);
    }

    #[test]
    fn every_kind_is_an_action_of_its_own() {
        for kind in ChallengeKind::ALL {
            assert_eq!(Action::from(kind).challenge(), Some(kind));
        }
    }

    #[test]
    fn fixed_action_is_one_challenge() {
        let o = opts(r#"{"action":"BlinkEyes"}"#).unwrap();
        assert_eq!(
            o.kinds_to_draw_from().unwrap(),
            vec![ChallengeKind::BlinkEyes]
        );
        assert_eq!(o.challenge_count().unwrap(), 1);
        assert!(opts(r#"{"action":"BlinkEyes","challenge_count":2}"#).is_err());
        assert!(opts(r#"{"action":"Smile","available_actions":["Smile"]}"#).is_err());
    }

    #[test]
    fn unset_count_shrinks_to_a_small_available_set() {
        let o = opts(r#"{"available_actions":["Smile"]}"#).unwrap();
        assert_eq!(o.challenge_count().unwrap(), 1);
    }

    #[test]
    fn bad_options_are_typed_errors() {
        let cases = [
            r#"{"action":"Jump"}"#,
            r#"{"available_actions":[]}"#,
            r#"{"available_actions":["Smile","Smile"]}"#,
            r#"{"available_actions":["Random"]}"#,
            r#"{"available_actions":["Smile"],"challenge_count":2}"#,
            r#"{"challenge_count":0}"#,
            r#"{"challenge_count":6}"#,
            r#"{"challenge_count":300}"#,
            r#"{"webhook_url":"http://example.com/hook"}"#,
            r#"{"webhook_url":"ftp://localhost/x"}"#,
            r#"{"redirect_url":"not a url"}"#,
            r#"{"submission_ttl_seconds":5}"#,
            r#"{"session_ttl_seconds":99999999}"#,
            r#"{"step_time_limit_ms":100}"#,
            r#"{"webhookUrl":"https://example.com"}"#,
            r#"{"action":"Smile","action":"Random"}"#,
        ];
        for case in cases {
            let err = opts(case).unwrap_err();
            assert!(
                matches!(
                    err,
                    ProtocolError::InvalidOptions { .. }
                        | ProtocolError::Json { .. }
                        | ProtocolError::DuplicateKey { .. }
                ),
                "{case}: {err:?}"
            );
        }
        let long = format!(r#"{{"relay_state":"{}"}}"#, "x".repeat(1025));
        assert!(matches!(
            opts(&long),
            Err(ProtocolError::FieldTooLong {
                field: "relay_state",
                ..
            })
        ));
    }

    #[test]
    fn loopback_http_and_https_urls_are_accepted() {
        for url in [
            "https://example.com/hook",
            "http://127.0.0.1:8080/hook",
            "http://localhost/x",
            "http://[::1]:9/x",
        ] {
            let json = format!(r#"{{"webhook_url":"{url}"}}"#);
            opts(&json).unwrap();
        }
    }
}
