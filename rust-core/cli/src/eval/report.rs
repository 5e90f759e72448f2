//! The evaluation report, in ISO/IEC 30107-3 terms: APCER per presentation attack instrument
//! species (attacks accepted as live over attacks of that type), BPCER (bona fide
//! presentations rejected over bona fide presentations), both broken down by condition,
//! every miss with its reasons; as JSON, Markdown and a PNG chart.
//!
//! A session *without* a verdict (an SDK error, a refused upload, a result still pending) is
//! a miss in every class: every session that ends must be decided.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use liveness_protocol::{ResultBody, ResultStatus};
use serde::Serialize;

use super::grid::{AttackType, Class, Expect, Scenario};
use super::pose::PoseCurve;

/// One session's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub id: String,
    pub class: Class,
    pub expect: Expect,
    pub tags: BTreeMap<String, String>,
    /// The failure codes (one of) and guidance this session must end with, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect_failure: Option<(Vec<String>, String)>,
    pub plan: Vec<String>,
    pub frames: u64,
    pub local_passed: Option<bool>,
    pub local_failure: Option<String>,
    pub sdk_error: Option<String>,
    pub harness_error: Option<String>,
    /// The server's verdict as the integrator reads it.
    pub status: Option<ResultStatus>,
    pub live: Option<bool>,
    pub message_code: Option<String>,
    pub signed: bool,
    /// The checks the server failed, with their reasons.
    pub failed_checks: Vec<String>,
    /// What the server measured in the light step, passed or not (fit, lag, gain, shape).
    pub light: Option<String>,
    pub guidance: Vec<String>,
    pub prompts: Vec<String>,
    pub challenges: Vec<String>,
    pub seconds: f32,
    /// A missed rendered session's script (`liveness render misses/<id>.json` replays it).
    #[serde(skip)]
    pub script: Option<liveness_testkit::Script>,
}

impl Record {
    pub fn new(s: &Scenario) -> Self {
        Self {
            id: s.id.clone(),
            class: s.class,
            expect: s.expect,
            tags: s
                .tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            expect_failure: s
                .expect_failure
                .map(|(f, g)| (f.iter().map(|s| (*s).to_owned()).collect(), g.to_owned())),
            plan: Vec::new(),
            frames: 0,
            local_passed: None,
            local_failure: None,
            sdk_error: None,
            harness_error: None,
            status: None,
            live: None,
            message_code: None,
            signed: false,
            failed_checks: Vec::new(),
            light: None,
            guidance: Vec::new(),
            prompts: Vec::new(),
            challenges: Vec::new(),
            seconds: 0.0,
            script: None,
        }
    }

    pub fn set_result(&mut self, r: &ResultBody) {
        self.status = Some(r.status);
        self.live = r.live;
        self.message_code = r
            .message_code
            .and_then(|m| serde_json::to_value(m).ok())
            .and_then(|v| v.as_str().map(str::to_owned));
        self.signed = r.verdict.is_some();
        self.light = r
            .reasons
            .iter()
            .find(|c| c.check == liveness_light::CHECK)
            .and_then(|c| c.reason.clone());
        self.failed_checks = r
            .reasons
            .iter()
            .filter(|c| !c.passed)
            .map(|c| match &c.reason {
                Some(why) => format!("{}: {why}", c.check),
                None => c.check.clone(),
            })
            .collect();
    }

    /// The plan asks only to come closer or move away.
    pub fn distance_only(&self) -> bool {
        !self.plan.is_empty()
            && self
                .plan
                .iter()
                .all(|k| k == "MoveTowardsCamera" || k == "MoveAwayFromCamera")
    }

    /// The session ended with a stored, signed verdict.
    pub fn decided(&self) -> bool {
        self.harness_error.is_none()
            && self.signed
            && self.status.is_some_and(|s| s != ResultStatus::Pending)
            && self.live.is_some()
    }

    pub fn accepted(&self) -> bool {
        self.decided() && self.live == Some(true)
    }

    pub fn missed(&self) -> bool {
        let wrong_reason = self
            .expect_failure
            .as_ref()
            .is_some_and(|(failures, guidance)| {
                !self
                    .local_failure
                    .as_ref()
                    .is_some_and(|f| failures.contains(f))
                    || !self.guidance.contains(guidance)
            });
        !self.decided()
            || wrong_reason
            || match self.expect {
                Expect::Live => !self.accepted(),
                Expect::NotLive => self.accepted(),
                Expect::AnyVerdict => false,
            }
    }

    /// Why it went the way it did, in one line.
    pub fn why(&self) -> String {
        let mut parts = Vec::new();
        if let Some(e) = &self.harness_error {
            parts.push(format!("harness error: {e}"));
        }
        if let Some(e) = &self.sdk_error {
            parts.push(format!("SDK error: {e}"));
        }
        if !self.decided() && self.harness_error.is_none() {
            parts.push(format!("no verdict (status {:?})", self.status));
        }
        if let Some(f) = &self.local_failure {
            parts.push(format!("device: {f}"));
        }
        if !self.failed_checks.is_empty() {
            parts.push(format!("server: {}", self.failed_checks.join("; ")));
        }
        if !self.challenges.is_empty() {
            parts.push(format!("steps: {}", self.challenges.join(", ")));
        }
        if !self.guidance.is_empty() {
            parts.push(format!("guidance: {}", self.guidance.join(" → ")));
        }
        if !self.prompts.is_empty() {
            parts.push(format!("prompts: {}", self.prompts.join(" → ")));
        }
        if parts.is_empty() {
            parts.push(if self.accepted() { "live" } else { "not live" }.to_owned());
        }
        parts.join(" | ")
    }
}

/// `part / whole` as a tally with its rate.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Rate {
    pub errors: usize,
    pub total: usize,
    pub percent: f64,
}

impl Rate {
    fn of<'a>(records: impl Iterator<Item = &'a Record>, error: impl Fn(&Record) -> bool) -> Self {
        let (mut errors, mut total) = (0, 0);
        for r in records {
            total += 1;
            errors += usize::from(error(r));
        }
        Self {
            errors,
            total,
            percent: if total == 0 {
                0.0
            } else {
                100.0 * errors as f64 / total as f64
            },
        }
    }

    fn show(&self) -> String {
        format!("{}/{} = {:.1} %", self.errors, self.total, self.percent)
    }
}

/// The targets of issue #14.
pub const MAX_BPCER_PERCENT: f64 = 2.0;

#[derive(Debug, Serialize)]
pub struct Report {
    pub quick: bool,
    pub seed: u64,
    pub seconds: f64,
    pub sessions: usize,
    /// Bona fide presentations rejected (rendered and real).
    pub bpcer: Rate,
    pub bpcer_rendered: Rate,
    pub bpcer_real: Rate,
    /// Per attack type: attacks accepted as live.
    pub apcer: BTreeMap<&'static str, Rate>,
    /// Per attack type, the sessions whose plan only asks to change distance: a flat image
    /// moved closer or away looks like a face doing so, so only the light step catches
    /// them; reported on their own (and a target like the rest).
    pub apcer_distance_only: BTreeMap<&'static str, Rate>,
    /// Real people not performing the plan (talking) who passed it anyway.
    pub non_performing_accepted: Rate,
    /// Sessions without a verdict, any class.
    pub undecided: Rate,
    /// Captures that cannot complete which did not end as they must (verdict, reason).
    pub incomplete_wrong: Rate,
    /// Genuine BPCER and attack APCER by each condition dimension and value.
    pub bpcer_by: BTreeMap<String, BTreeMap<String, Rate>>,
    pub apcer_by: BTreeMap<String, BTreeMap<String, Rate>>,
    pub pose: PoseCurve,
    pub records: Vec<Record>,
}

impl Report {
    pub fn new(
        records: Vec<Record>,
        pose: PoseCurve,
        quick: bool,
        seed: u64,
        elapsed: Duration,
    ) -> Self {
        let genuine = || records.iter().filter(|r| r.class == Class::Genuine);
        let rejected = |r: &Record| !r.accepted();
        let real = |r: &&Record| r.tags.get("source").is_some_and(|s| s == "real clip");
        let mut apcer = BTreeMap::new();
        let mut apcer_distance_only = BTreeMap::new();
        for kind in AttackType::ALL {
            let of_kind = || {
                records
                    .iter()
                    .filter(move |r| r.class == Class::Attack(kind))
            };
            let rate = Rate::of(of_kind().filter(|r| !r.distance_only()), Record::accepted);
            if rate.total > 0 {
                apcer.insert(kind.name(), rate);
            }
            let rate = Rate::of(of_kind().filter(|r| r.distance_only()), Record::accepted);
            if rate.total > 0 {
                apcer_distance_only.insert(kind.name(), rate);
            }
        }
        let breakdown = |class_ok: &dyn Fn(&Record) -> bool, error: &dyn Fn(&Record) -> bool| {
            let mut by: BTreeMap<String, BTreeMap<String, (usize, usize)>> = BTreeMap::new();
            for r in records.iter().filter(|r| class_ok(r)) {
                for (dim, value) in &r.tags {
                    let cell = by
                        .entry(dim.clone())
                        .or_default()
                        .entry(value.clone())
                        .or_default();
                    cell.0 += usize::from(error(r));
                    cell.1 += 1;
                }
            }
            by.into_iter()
                .map(|(dim, values)| {
                    let rates = values
                        .into_iter()
                        .map(|(v, (e, t))| {
                            (
                                v,
                                Rate {
                                    errors: e,
                                    total: t,
                                    percent: 100.0 * e as f64 / t.max(1) as f64,
                                },
                            )
                        })
                        .collect();
                    (dim, rates)
                })
                .collect()
        };
        let bpcer_by = breakdown(&|r| r.class == Class::Genuine, &rejected);
        let apcer_by = breakdown(&|r| matches!(r.class, Class::Attack(_)), &Record::accepted);
        Self {
            quick,
            seed,
            seconds: elapsed.as_secs_f64(),
            sessions: records.len(),
            bpcer: Rate::of(genuine(), rejected),
            bpcer_rendered: Rate::of(genuine().filter(|r| !real(r)), rejected),
            bpcer_real: Rate::of(genuine().filter(real), rejected),
            apcer,
            apcer_distance_only,
            non_performing_accepted: Rate::of(
                records.iter().filter(|r| r.class == Class::NonPerforming),
                Record::accepted,
            ),
            undecided: Rate::of(records.iter(), |r| !r.decided()),
            incomplete_wrong: Rate::of(
                records.iter().filter(|r| r.class == Class::Incomplete),
                Record::missed,
            ),
            bpcer_by,
            apcer_by,
            pose,
            records,
        }
    }

    /// BPCER ≤ 2 %; APCER 0 for every attack type but the screen replay that performs the
    /// plan; nobody passes a plan they did not perform; every session decided.
    pub fn targets_met(&self) -> bool {
        self.target_failures().is_empty()
    }

    pub fn target_failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.bpcer.percent > MAX_BPCER_PERCENT {
            out.push(format!(
                "BPCER {} exceeds {MAX_BPCER_PERCENT} %",
                self.bpcer.show()
            ));
        }
        for kind in AttackType::ALL {
            if let Some(rate) = self.apcer.get(kind.name())
                && rate.errors > 0
                && !kind.expected_to_fail_today()
            {
                out.push(format!("APCER {} for {}", rate.show(), kind.name()));
            }
            // The light step closes what distance-only plans left open: a target now.
            if let Some(rate) = self.apcer_distance_only.get(kind.name())
                && rate.errors > 0
                && !kind.expected_to_fail_today()
            {
                out.push(format!(
                    "APCER {} for {} on distance-only plans",
                    rate.show(),
                    kind.name()
                ));
            }
        }
        if self.non_performing_accepted.errors > 0 {
            out.push(format!(
                "{} sessions passed a plan nobody performed",
                self.non_performing_accepted.show()
            ));
        }
        if self.incomplete_wrong.errors > 0 {
            out.push(format!(
                "{} captures that cannot complete did not end with their reason",
                self.incomplete_wrong.show()
            ));
        }
        if self.undecided.errors > 0 {
            out.push(format!(
                "{} sessions ended without a verdict",
                self.undecided.show()
            ));
        }
        out
    }

    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} sessions in {:.0} s (seed {}{})",
            self.sessions,
            self.seconds,
            self.seed,
            if self.quick { ", quick" } else { "" }
        );
        let _ = writeln!(
            s,
            "BPCER {} (rendered {}, real clips {})",
            self.bpcer.show(),
            self.bpcer_rendered.show(),
            self.bpcer_real.show()
        );
        for (kind, rate) in &self.apcer {
            let _ = writeln!(s, "APCER {kind:<24} {}", rate.show());
        }
        for (kind, rate) in &self.apcer_distance_only {
            let _ = writeln!(s, "APCER {kind:<24} {} on distance-only plans", rate.show());
        }
        let _ = writeln!(
            s,
            "not performing, passed: {}; cannot complete, wrong ending: {}; without a verdict: {}",
            self.non_performing_accepted.show(),
            self.incomplete_wrong.show(),
            self.undecided.show()
        );
        let failures = self.target_failures();
        if failures.is_empty() {
            let _ = writeln!(s, "targets met");
        } else {
            for f in failures {
                let _ = writeln!(s, "TARGET MISSED: {f}");
            }
        }
        s
    }

    fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# Liveness evaluation ({})\n",
            if self.quick { "quick" } else { "full grid" }
        );
        let _ = writeln!(
            s,
            "{} sessions, seed {}, {:.0} s. Every session ran end to end: SDK session → signed upload → the server's re-check → the verdict read with the result token. ISO/IEC 30107-3 terms: APCER = attacks accepted as live / attacks of that type; BPCER = bona fide presentations not accepted / bona fide presentations.\n",
            self.sessions, self.seed, self.seconds
        );
        let mut rows: Vec<(String, Rate)> = vec![
            ("BPCER (all bona fide)".into(), self.bpcer),
            ("BPCER, rendered grid".into(), self.bpcer_rendered),
            ("BPCER, real clips".into(), self.bpcer_real),
        ];
        rows.extend(self.apcer.iter().map(|(k, r)| (format!("APCER {k}"), *r)));
        rows.extend(
            self.apcer_distance_only
                .iter()
                .map(|(k, r)| (format!("APCER {k}, distance-only plans"), *r)),
        );
        rows.push((
            "real people not performing the plan, passed".into(),
            self.non_performing_accepted,
        ));
        rows.push((
            "captures that cannot complete, ended without their reason".into(),
            self.incomplete_wrong,
        ));
        rows.push(("sessions without a verdict".into(), self.undecided));
        let _ = writeln!(s, "| measure | errors / sessions | rate |\n|---|---|---|");
        for (label, r) in rows {
            let _ = writeln!(
                s,
                "| {label} | {}/{} | {:.1} % |",
                r.errors, r.total, r.percent
            );
        }
        let _ = writeln!(s);
        let failures = self.target_failures();
        if failures.is_empty() {
            let _ = writeln!(
                s,
                "**Targets met** (BPCER ≤ {MAX_BPCER_PERCENT} %; APCER 0 % for every attack type except the screen replay performing the session's own plan, which the light challenge is to close; nobody passes a plan they did not perform; every session decided). Attacks on plans that only ask to change distance are reported apart: a flat image moved closer passes them today.\n"
            );
        } else {
            let _ = writeln!(s, "**Targets missed:**\n");
            for f in failures {
                let _ = writeln!(s, "- {f}");
            }
            let _ = writeln!(s);
        }
        for (title, by) in [
            ("BPCER by condition (bona fide)", &self.bpcer_by),
            ("APCER by condition (all attacks)", &self.apcer_by),
        ] {
            let _ = writeln!(s, "## {title}\n");
            for (dim, values) in by {
                let cells: Vec<String> = values
                    .iter()
                    .map(|(v, r)| format!("{v} {}/{}", r.errors, r.total))
                    .collect();
                let _ = writeln!(s, "- **{dim}**: {}", cells.join(", "));
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(s, "## Head pose against the renderer's ground truth\n");
        s += &self.pose.markdown();
        let _ = writeln!(s, "\n## Every miss\n");
        let misses: Vec<&Record> = self.records.iter().filter(|r| r.missed()).collect();
        if misses.is_empty() {
            let _ = writeln!(s, "None.");
        }
        for r in misses {
            let _ = writeln!(s, "- `{}` (plan {}): {}", r.id, r.plan.join(" → "), r.why());
        }
        let _ = writeln!(s, "\n## Attacks stopped, and by what\n");
        for r in self
            .records
            .iter()
            .filter(|r| matches!(r.class, Class::Attack(_)) && !r.accepted())
        {
            let _ = writeln!(s, "- `{}`: {}", r.id, r.why());
        }
        s
    }

    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let p = dir.join("report.json");
        std::fs::write(&p, json + "\n").map_err(|e| io(&p, e))?;
        let p = dir.join("report.md");
        std::fs::write(&p, self.markdown()).map_err(|e| io(&p, e))?;
        let misses = dir.join("misses");
        let _ = std::fs::remove_dir_all(&misses);
        for r in self.records.iter().filter(|r| r.missed()) {
            if let Some(script) = &r.script {
                std::fs::create_dir_all(&misses).map_err(|e| io(&misses, e))?;
                let name: String =
                    r.id.chars()
                        .map(|c| {
                            if c.is_ascii_alphanumeric() || c == '-' {
                                c
                            } else {
                                '_'
                            }
                        })
                        .collect();
                let p = misses.join(format!("{name}.json"));
                let text = serde_json::to_string_pretty(script).map_err(|e| e.to_string())?;
                std::fs::write(&p, text).map_err(|e| io(&p, e))?;
            }
        }
        let p = dir.join("report.png");
        if let Err(e) = super::chart::draw(self, &p) {
            eprintln!("note: no chart ({e})");
        }
        Ok(())
    }
}
