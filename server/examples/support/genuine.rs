//! Genuine evidence without a device, for the server's load generator and benchmarks: the
//! frames a device would pick for a plan (photo, and a baseline and a peak per challenge) of
//! the synthetic subject, rendered and analysed once per challenge kind and packed into a
//! fresh evidence set per session, so whatever checks it does its real work.

use std::collections::HashMap;

use liveness_challenge::{Capture, Outcome};
use liveness_evidence::{Evidence, EvidenceConfig, EvidenceStore, ManifestInfo};
use liveness_protocol::manifest::{DeviceInfo, SdkInfo, StepRecord, StepResult};
use liveness_protocol::{ChallengeKind, ChallengePlan, FrameRole, Nonce};
use liveness_testkit::{Renderer, RgbImage};
use liveness_vision::{FrameAnalysis, ModelSet, Pipeline, PipelineConfig, Precision};

/// The kinds a load can draw from (no FollowText: its frames are the same kind of work).
pub const KINDS: [ChallengeKind; 8] = [
    ChallengeKind::HeadLeft,
    ChallengeKind::HeadRight,
    ChallengeKind::HeadUp,
    ChallengeKind::HeadDown,
    ChallengeKind::BlinkEyes,
    ChallengeKind::Smile,
    ChallengeKind::MoveTowardsCamera,
    ChallengeKind::MoveAwayFromCamera,
];

/// Seconds into each kind's genuine subject: the neutral baseline and the peak.
fn moments(kind: ChallengeKind) -> (f32, f32) {
    match kind {
        ChallengeKind::BlinkEyes => (0.8, 1.32),
        ChallengeKind::Smile => (0.8, 1.7),
        ChallengeKind::MoveTowardsCamera | ChallengeKind::MoveAwayFromCamera => (0.8, 2.3),
        _ => (0.8, 1.85),
    }
}

struct Shot {
    image: RgbImage,
    analysis: FrameAnalysis,
}

/// A baseline and a peak frame of every kind in [`KINDS`], analysed.
pub struct Shots(HashMap<ChallengeKind, (Shot, Shot)>);

/// What binds an upload to its session.
pub struct Binding<'a> {
    pub session_id: &'a str,
    pub nonce: &'a Nonce,
    pub submission_token: &'a str,
}

impl Shots {
    pub fn new() -> Self {
        let mut pipeline = Pipeline::new(
            ModelSet::bundled(Precision::Fp32).unwrap(),
            PipelineConfig::default(),
        )
        .unwrap();
        Self(
            KINDS
                .iter()
                .map(|&k| (k, shoot(k, &mut pipeline)))
                .collect(),
        )
    }

    /// The evidence a device performing `plan` would upload, its capture started at
    /// `capture_started_at_ms` (Unix milliseconds).
    pub fn evidence(
        &self,
        plan: &ChallengePlan,
        binding: &Binding<'_>,
        capture_started_at_ms: i64,
    ) -> Evidence {
        let mut store = EvidenceStore::new(EvidenceConfig::default());
        let mut timeline = Vec::new();
        let offer = |store: &mut EvidenceStore, shot: &Shot, role, index, t| {
            let capture = Capture {
                role,
                challenge_index: index,
                quality: 1.0,
            };
            store
                .offer(&capture, t, &shot.image.frame().unwrap(), &shot.analysis)
                .unwrap();
        };
        offer(
            &mut store,
            &self.0[&plan.steps[0].kind].0,
            FrameRole::Photo,
            None,
            300,
        );
        for step in &plan.steps {
            let start = 700 + 3000 * u32::from(step.index);
            let (baseline, peak) = &self.0[&step.kind];
            offer(
                &mut store,
                baseline,
                FrameRole::Baseline,
                Some(step.index),
                u64::from(start) + 100,
            );
            offer(
                &mut store,
                peak,
                FrameRole::ChallengePeak,
                Some(step.index),
                u64::from(start) + 1200,
            );
            timeline.push(StepRecord {
                index: step.index,
                kind: step.kind,
                started_ms: start,
                ended_ms: start + 2200,
                result: StepResult::Passed,
                reason: None,
            });
        }
        let info = ManifestInfo {
            session_id: binding.session_id.into(),
            nonce: *binding.nonce,
            submission_token: binding.submission_token.into(),
            sdk: SdkInfo {
                name: "loadgen".into(),
                version: "0".into(),
            },
            models: vec![],
            device: DeviceInfo {
                platform: "linux".into(),
                os_version: "bench".into(),
                model: "loadgen".into(),
                app_id: None,
                key_storage: None,
            },
            capture_started_at_ms,
            attestation: None,
        };
        let outcome = Outcome {
            passed: true,
            failure: None,
            checks: vec![],
            timeline,
            light: None,
        };
        store.finish(&info, &outcome).unwrap()
    }
}

fn shoot(kind: ChallengeKind, pipeline: &mut Pipeline) -> (Shot, Shot) {
    let script = liveness_testkit::performing(&[kind.name()], None).unwrap();
    let r = Renderer::new(script);
    let (b, p) = moments(kind);
    let mut at = |s: f32| {
        let image = r.render((s * r.script().fps as f32).round() as usize);
        pipeline.reset();
        let analysis = pipeline.process(&image.frame().unwrap()).unwrap();
        Shot { image, analysis }
    };
    (at(b), at(p))
}
