//! The per-frame pipeline: detect → track → mesh → (iris) → signals.
//!
//! As MediaPipe does, the detector does not run on every frame: the next frame's crop comes
//! from this frame's landmarks, and detection runs again only when tracking is lost (low
//! face presence), when the face jumps, or every `redetect_every` frames (which also keeps
//! the face count current).

use std::sync::Arc;
// std's Instant panics in the browser (wasm32-unknown-unknown has no clock of its own).
use web_time::Instant;

use tract_linalg::multithread::{Executor, multithread_tract_scope};

use liveness_frame::Frame;

use crate::detector::{Detection, Detector};
use crate::error::{Result, VisionError};
use crate::landmarks as lm;
use crate::mesh::{EyeDetail, FaceMesh, IrisRunner, MeshRunner, Roi};
use crate::models::ModelSet;
use crate::signals::{FaceSignals, face_signals};

#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// Run the detector at least this often while tracking (frames).
    pub redetect_every: u32,
    /// Below this FaceMesh presence the track is dropped and the detector runs again.
    pub min_presence: f32,
    /// A face centre moving more than this fraction of the face size between frames counts
    /// as a jump: detection runs again on the next frame.
    pub max_jump: f32,
    /// Refine the eyes with the iris model (costs two small model runs per frame).
    pub iris: bool,
    /// Try the full-range detector when the short-range one finds nothing.
    pub full_range_fallback: bool,
    /// Threads for the models' matrix kernels. 1 (the default) runs everything on the
    /// calling thread, which suits a camera callback best.
    pub threads: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            redetect_every: 15,
            min_presence: 0.5,
            max_jump: 0.5,
            iris: false,
            full_range_fallback: true,
            threads: 1,
        }
    }
}

impl PipelineConfig {
    pub fn validate(&self) -> Result<()> {
        if self.redetect_every == 0 {
            return Err(VisionError::Config(
                "redetect_every must be at least 1".into(),
            ));
        }
        let presence_ok = (0.0..1.0).contains(&self.min_presence);
        let jump_ok = self.max_jump.is_finite() && self.max_jump > 0.0;
        if !(1..=16).contains(&self.threads) {
            return Err(VisionError::Config("threads must be 1..=16".into()));
        }
        if !(presence_ok && jump_ok) {
            return Err(VisionError::Config(
                "min_presence must be in 0..1 and max_jump > 0".into(),
            ));
        }
        Ok(())
    }
}

/// Microseconds spent in each stage of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StageTimings {
    pub detect_us: u64,
    pub mesh_us: u64,
    pub iris_us: u64,
    pub signals_us: u64,
    pub total_us: u64,
}

/// One face's result.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceResult {
    pub mesh: FaceMesh,
    pub eyes: Option<(EyeDetail, EyeDetail)>,
    pub signals: FaceSignals,
    /// The detection this face was found with, on frames where the detector ran.
    pub detection: Option<Detection>,
    /// Whether this frame's crop came from the previous frame's landmarks.
    pub tracked: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FrameAnalysis {
    /// Faces found by the most recent detection and confirmed by FaceMesh (detection runs at
    /// least every `redetect_every` frames); 0 when no face is tracked.
    pub face_count: usize,
    /// The main (largest) face.
    pub face: Option<FaceResult>,
    /// Whether the detector ran on this frame.
    pub detector_ran: bool,
    /// Mean luma of the whole frame (0..1): "too dark" when no face can be found.
    pub frame_brightness: f32,
    pub timings: StageTimings,
}

/// Per-stream state. One pipeline per camera stream; it is `Send`, not shared.
#[derive(Debug)]
pub struct Pipeline {
    config: PipelineConfig,
    detector: Detector,
    full_range: Option<Detector>,
    mesh: MeshRunner,
    iris: Option<IrisRunner>,
    track: Option<Roi>,
    last_center: Option<[f32; 2]>,
    since_detection: u32,
    face_count: usize,
    force_detect: bool,
    /// tract's thread pool when `threads > 1`.
    executor: Option<Executor>,
}

/// Most detections confirmed with FaceMesh on one frame: bounds the cost of a crowded frame.
const MAX_CONFIRMED_FACES: usize = 4;

fn micros(since: Instant) -> u64 {
    since.elapsed().as_micros() as u64
}

impl Pipeline {
    pub fn new(models: ModelSet, config: PipelineConfig) -> Result<Self> {
        config.validate()?;
        // Built here rather than by tract, whose own constructor panics when the OS refuses
        // threads.
        let executor = match config.threads {
            1 => None,
            n => Some(Executor::MultiThread(Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .thread_name(|i| format!("liveness-vision-{i}"))
                    .build()
                    .map_err(|e| VisionError::Config(format!("cannot start {n} threads: {e}")))?,
            ))),
        };
        Ok(Self {
            executor,
            detector: Detector::new(models.detector),
            full_range: models.detector_full_range.map(Detector::new),
            mesh: MeshRunner::new(models.mesh),
            iris: models.iris.map(IrisRunner::new),
            track: None,
            last_center: None,
            since_detection: 0,
            face_count: 0,
            force_detect: true,
            config,
        })
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Switches the iris refinement on or off from the next frame (the challenge engine asks
    /// for it only while eyes are judged: it costs more than the rest of the pipeline). Has
    /// no effect when the model set has no iris model.
    pub fn set_iris(&mut self, on: bool) {
        self.config.iris = on;
    }

    /// Forgets the tracked face (e.g. after the camera was paused).
    pub fn reset(&mut self) {
        self.track = None;
        self.last_center = None;
        self.face_count = 0;
        self.force_detect = true;
    }

    fn detect(&mut self, frame: &Frame) -> Result<Vec<Detection>> {
        let mut found = self.detector.detect(frame)?;
        if found.is_empty()
            && self.config.full_range_fallback
            && let Some(full) = &mut self.full_range
        {
            found = full.detect(frame)?;
        }
        // The largest face is the user; the rest only count.
        found.sort_by(|a, b| (b.bbox[2] * b.bbox[3]).total_cmp(&(a.bbox[2] * a.bbox[3])));
        Ok(found)
    }

    /// Detects, then confirms each candidate with FaceMesh's presence score, so a detector
    /// false positive neither becomes the user nor counts as a second face. Returns the
    /// number of confirmed faces and the largest one.
    fn detect_and_confirm(
        &mut self,
        frame: &Frame,
        timings: &mut StageTimings,
    ) -> Result<(usize, Option<(Detection, FaceMesh)>)> {
        let t = Instant::now();
        let found = self.detect(frame)?;
        timings.detect_us += micros(t);
        let t = Instant::now();
        let mut confirmed = 0;
        let mut main: Option<(Detection, FaceMesh)> = None;
        let mut main_was_last = false;
        for d in found.into_iter().take(MAX_CONFIRMED_FACES) {
            let mesh = self.mesh.run(frame, Roi::from_detection(&d))?;
            main_was_last = false;
            if mesh.presence >= self.config.min_presence {
                confirmed += 1;
                if main.is_none() {
                    main = Some((d, mesh));
                    main_was_last = true;
                }
            }
        }
        // The signals read the mesh runner's last crop: make it the user's face again.
        if let (Some((_, mesh)), false) = (&mut main, main_was_last) {
            *mesh = self.mesh.run(frame, mesh.roi)?;
        }
        timings.mesh_us += micros(t);
        Ok((confirmed, main))
    }

    /// FaceMesh on the crop tracked from the previous frame; `None` when the face is no
    /// longer there (presence below the threshold).
    fn track_mesh(
        &mut self,
        frame: &Frame,
        roi: Roi,
        timings: &mut StageTimings,
    ) -> Result<Option<FaceMesh>> {
        let t = Instant::now();
        let tracked = self.mesh.run(frame, roi)?;
        timings.mesh_us += micros(t);
        Ok((tracked.presence >= self.config.min_presence).then_some(tracked))
    }

    /// Analyses one frame.
    pub fn process(&mut self, frame: &Frame) -> Result<FrameAnalysis> {
        match self.executor.clone() {
            Some(executor) => multithread_tract_scope(executor, || self.process_frame(frame)),
            None => self.process_frame(frame),
        }
    }

    fn process_frame(&mut self, frame: &Frame) -> Result<FrameAnalysis> {
        let start = Instant::now();
        let mut timings = StageTimings::default();
        let frame_brightness = frame.mean_luma(32) / 255.0;
        let mut detection = None;
        let mut detector_ran = false;
        let mut mesh = None;
        let mut from_track = false;

        let due = self.force_detect || self.since_detection >= self.config.redetect_every;
        // A periodic detection while the track is good only recounts the faces: the user's
        // landmarks keep coming from the tracked crop. Re-cropping from the detector's box
        // every 15th frame made every signal jump on that frame (a blink, a smile, a turn
        // that was not).
        if let (Some(roi), true, false) = (self.track, due, self.force_detect) {
            detector_ran = true;
            self.since_detection = 0;
            let (count, main) = self.detect_and_confirm(frame, &mut timings)?;
            self.face_count = count;
            // Last, so the mesh runner's crop (which the signals read) is the tracked one.
            if let Some(tracked) = self.track_mesh(frame, roi, &mut timings)? {
                mesh = Some(tracked);
                from_track = true;
            } else if let Some((d, m)) = main {
                detection = Some(d);
                // The runner's last crop may be another detection's: back to the user's.
                mesh = Some(self.mesh.run(frame, m.roi)?);
            }
        } else if let (Some(roi), false) = (self.track, due) {
            self.since_detection += 1;
            // Below the presence threshold the track is lost: detect again in this frame.
            mesh = self.track_mesh(frame, roi, &mut timings)?;
            from_track = mesh.is_some();
        }
        if mesh.is_none() && !detector_ran {
            detector_ran = true;
            self.since_detection = 0;
            self.force_detect = false;
            let (count, main) = self.detect_and_confirm(frame, &mut timings)?;
            self.face_count = count;
            if let Some((d, m)) = main {
                detection = Some(d);
                mesh = Some(m);
            }
        }
        let Some(mesh) = mesh else {
            self.reset();
            timings.total_us = micros(start);
            return Ok(FrameAnalysis {
                face_count: 0,
                face: None,
                detector_ran,
                frame_brightness,
                timings,
            });
        };
        let tracked = from_track;

        let eyes = match &mut self.iris {
            Some(iris) if self.config.iris => {
                let t = Instant::now();
                let p = &mesh.points;
                // The model knows the subject's left eye; the right one goes in mirrored.
                let right =
                    iris.run(frame, p[lm::RIGHT_EYE_OUTER], p[lm::RIGHT_EYE_INNER], true)?;
                let left = iris.run(frame, p[lm::LEFT_EYE_INNER], p[lm::LEFT_EYE_OUTER], false)?;
                timings.iris_us += micros(t);
                Some((right, left))
            }
            _ => None,
        };

        let t = Instant::now();
        let signals = face_signals(&mesh, self.mesh.last_crop(), eyes.as_ref(), frame.size());
        timings.signals_us += micros(t);

        let center = [
            signals.face_box[0] + signals.face_box[2] / 2.0,
            signals.face_box[1] + signals.face_box[3] / 2.0,
        ];
        let size = signals.face_box[2].max(signals.face_box[3]);
        if let Some(prev) = self.last_center
            && (center[0] - prev[0]).hypot(center[1] - prev[1]) > self.config.max_jump * size
        {
            self.force_detect = true;
        }
        self.last_center = Some(center);
        self.track = Some(Roi::from_landmarks(&mesh.points));
        timings.total_us = micros(start);
        Ok(FrameAnalysis {
            face_count: self.face_count,
            face: Some(FaceResult {
                mesh,
                eyes,
                signals,
                detection,
                tracked,
            }),
            detector_ran,
            frame_brightness,
            timings,
        })
    }
}
