//! The shipped ONNX models: which file is which, their expected SHA-256 (from
//! `models/manifest.json`, compiled in so a swapped file on disk cannot vouch for itself),
//! and loading them into tract.

use std::io::Cursor;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;

use crate::error::{Result, VisionError};

static MANIFEST_JSON: &str = include_str!("../../../models/manifest.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// BlazeFace short range, 128×128: faces filling a good part of the frame.
    DetectorShortRange,
    /// BlazeFace full range, 192×192: small and far faces.
    DetectorFullRange,
    /// FaceMesh: 468 landmarks with depth, 192×192 face crop.
    FaceMesh,
    /// Iris and eye contour, 64×64 eye crop.
    Iris,
}

impl ModelKind {
    pub const ALL: [ModelKind; 4] = [
        Self::DetectorShortRange,
        Self::DetectorFullRange,
        Self::FaceMesh,
        Self::Iris,
    ];

    /// The model's name in `models/manifest.json`.
    pub fn name(self) -> &'static str {
        match self {
            Self::DetectorShortRange => "face_detection_short_range",
            Self::DetectorFullRange => "face_detection_full_range",
            Self::FaceMesh => "face_landmark",
            Self::Iris => "iris_landmark",
        }
    }

    /// Side of the square input, in pixels.
    pub fn input_side(self) -> usize {
        match self {
            Self::DetectorShortRange => 128,
            Self::DetectorFullRange | Self::FaceMesh => 192,
            Self::Iris => 64,
        }
    }

    /// Number of floats in each output, in order.
    fn output_lens(self) -> &'static [usize] {
        match self {
            Self::DetectorShortRange => &[896 * 16, 896],
            Self::DetectorFullRange => &[2304 * 16, 2304],
            Self::FaceMesh => &[1404, 1],
            Self::Iris => &[213, 15],
        }
    }
}

/// fp32 is exact and, with tract on x86, faster; int8 QDQ files are 2–3× smaller (see the
/// README for measurements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    #[default]
    Fp32,
    Int8,
}

impl Precision {
    fn variant(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Int8 => "int8",
        }
    }
}

/// One entry of `models/manifest.json` (fields we do not use are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct ManifestEntry {
    pub name: String,
    pub variant: String,
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    format: u32,
    models: Vec<ManifestEntry>,
}

fn manifest() -> Result<&'static [ManifestEntry]> {
    static PARSED: OnceLock<std::result::Result<Vec<ManifestEntry>, String>> = OnceLock::new();
    PARSED
        .get_or_init(|| {
            let m: Manifest = serde_json::from_str(MANIFEST_JSON).map_err(|e| e.to_string())?;
            if m.format != 1 {
                return Err(format!("manifest format {} is not 1", m.format));
            }
            Ok(m.models)
        })
        .as_deref()
        .map_err(|e| VisionError::ModelLoad {
            model: "manifest".into(),
            reason: e.clone(),
        })
}

/// Checks `bytes` against the manifest, returning the entry and the bytes' SHA-256.
fn check_hash(
    kind: ModelKind,
    precision: Precision,
    bytes: &[u8],
) -> Result<(&'static ManifestEntry, String)> {
    let entry = manifest_entry(kind, precision)?;
    let actual = hex::encode(Sha256::digest(bytes));
    if actual != entry.sha256 {
        return Err(VisionError::ModelHashMismatch {
            model: entry.file.clone(),
            expected: entry.sha256.clone(),
            actual,
        });
    }
    Ok((entry, actual))
}

/// The process-wide onnxruntime environment, from the library named by `ORT_DYLIB_PATH`.
#[cfg(feature = "onnxruntime")]
fn onnxruntime_environment() -> Result<&'static ort::environment::Environment> {
    static ENV: OnceLock<std::result::Result<ort::environment::Environment, String>> =
        OnceLock::new();
    ENV.get_or_init(|| {
        let path = std::env::var_os("ORT_DYLIB_PATH")
            .ok_or("set ORT_DYLIB_PATH to the libonnxruntime.so inside the PyPI onnxruntime wheel (scripts/bench.sh does)")?;
        ort::init_from(path).map_err(|e| e.to_string())?.build().map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| VisionError::ModelLoad {
        model: "onnxruntime".into(),
        reason: e.clone(),
    })
}

/// The manifest entry for a model and precision.
pub fn manifest_entry(kind: ModelKind, precision: Precision) -> Result<&'static ManifestEntry> {
    manifest()?
        .iter()
        .find(|e| e.name == kind.name() && e.variant == precision.variant())
        .ok_or_else(|| VisionError::ModelLoad {
            model: kind.name().into(),
            reason: format!("no {} entry in the model manifest", precision.variant()),
        })
}

/// What runs the model: tract everywhere; onnxruntime only for measurement (feature
/// `onnxruntime`).
#[derive(Clone)]
enum Engine {
    Tract(Arc<TypedRunnableModel>),
    #[cfg(feature = "onnxruntime")]
    Ort(Arc<std::sync::Mutex<ort::session::Session>>),
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tract(_) => "tract",
            #[cfg(feature = "onnxruntime")]
            Self::Ort(_) => "onnxruntime",
        })
    }
}

/// A loaded, optimised model, ready to run.
#[derive(Debug, Clone)]
pub struct Model {
    kind: ModelKind,
    precision: Precision,
    sha256: String,
    engine: Engine,
}

impl Model {
    /// Loads a model from its bytes (an app's bundled asset), refusing any file whose SHA-256
    /// is not the one the SDK was built with.
    pub fn from_bytes(kind: ModelKind, precision: Precision, bytes: &[u8]) -> Result<Self> {
        let (entry, actual) = check_hash(kind, precision, bytes)?;
        let load_err = |e: TractError| VisionError::ModelLoad {
            model: entry.file.clone(),
            reason: format!("{e:#}"),
        };
        let side = kind.input_side();
        let plan = tract_onnx::onnx()
            .model_for_read(&mut Cursor::new(bytes))
            .map_err(load_err)?
            .with_input_fact(0, f32::fact([1, side, side, 3]).into())
            .map_err(load_err)?
            .into_optimized()
            .map_err(load_err)?
            .into_runnable()
            .map_err(load_err)?;
        Self {
            kind,
            precision,
            sha256: actual,
            engine: Engine::Tract(plan),
        }
        .checked(entry)
    }

    /// A model that loads but answers in another shape would give garbage downstream.
    fn checked(self, entry: &ManifestEntry) -> Result<Self> {
        let side = self.kind.input_side();
        let outputs = self.run(&vec![0.0; side * side * 3])?;
        let lens: Vec<usize> = outputs.iter().map(|o| o.len()).collect();
        if lens != self.kind.output_lens() {
            return Err(VisionError::ModelLoad {
                model: entry.file.clone(),
                reason: format!(
                    "outputs have {lens:?} values, expected {:?}",
                    self.kind.output_lens()
                ),
            });
        }
        Ok(self)
    }

    /// The same model run by onnxruntime instead of tract, single-threaded, for comparisons
    /// and benchmarks. The library is loaded from `ORT_DYLIB_PATH`.
    #[cfg(feature = "onnxruntime")]
    pub fn from_bytes_onnxruntime(
        kind: ModelKind,
        precision: Precision,
        bytes: &[u8],
    ) -> Result<Self> {
        let (entry, actual) = check_hash(kind, precision, bytes)?;
        let err = |e: String| VisionError::ModelLoad {
            model: entry.file.clone(),
            reason: e,
        };
        let env = onnxruntime_environment()?;
        let session = ort::session::Session::builder(env)
            .map_err(|e| err(e.to_string()))?
            .with_intra_threads(1)
            .map_err(|e| err(e.to_string()))?
            .commit_from_memory(bytes)
            .map_err(|e| err(e.to_string()))?;
        Self {
            kind,
            precision,
            sha256: actual,
            engine: Engine::Ort(Arc::new(std::sync::Mutex::new(session))),
        }
        .checked(entry)
    }

    /// Where tract spends its time in this model: milliseconds per run for each op type,
    /// averaged over `runs`, largest first. `None` for another engine.
    pub fn profile_ops(&self, input: &[f32], runs: usize) -> Result<Option<Vec<(String, f64)>>> {
        // Without the `onnxruntime` feature the match has one arm; it stays a match so the
        // feature can add the other.
        #[allow(clippy::infallible_destructuring_match)]
        let plan = match &self.engine {
            Engine::Tract(plan) => plan,
            #[cfg(feature = "onnxruntime")]
            Engine::Ort(_) => return Ok(None),
        };
        let side = self.kind.input_side();
        let err = |e: TractError| VisionError::Inference {
            model: self.kind.name(),
            reason: format!("{e:#}"),
        };
        let mut totals: std::collections::BTreeMap<String, f64> = Default::default();
        let mut state = tract_onnx::tract_core::plan::SimpleState::new(plan).map_err(err)?;
        for _ in 0..runs.max(1) {
            let tensor = Tensor::from_shape(&[1, side, side, 3], input).map_err(err)?;
            state
                .run_plan_with_eval(tvec!(tensor.into()), |ctx, op_state, node, inputs| {
                    let t = web_time::Instant::now();
                    let out = tract_onnx::tract_core::plan::eval(ctx, op_state, node, inputs);
                    *totals.entry(node.op().name().to_string()).or_default() +=
                        t.elapsed().as_secs_f64() * 1000.0;
                    out
                })
                .map_err(err)?;
        }
        let mut ops: Vec<(String, f64)> = totals
            .into_iter()
            .map(|(k, v)| (k, v / runs.max(1) as f64))
            .collect();
        ops.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(Some(ops))
    }

    /// `tract` or `onnxruntime`.
    pub fn engine_name(&self) -> &'static str {
        match self.engine {
            Engine::Tract(_) => "tract",
            #[cfg(feature = "onnxruntime")]
            Engine::Ort(_) => "onnxruntime",
        }
    }

    /// Loads `dir/<file from the manifest>`.
    pub fn from_dir(kind: ModelKind, precision: Precision, dir: &Path) -> Result<Self> {
        let entry = manifest_entry(kind, precision)?;
        let path = dir.join(&entry.file);
        let bytes = std::fs::read(&path).map_err(|e| VisionError::ModelIo {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_bytes(kind, precision, &bytes)
    }

    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Runs the model on one NHWC input and returns each output flattened.
    pub fn run(&self, input: &[f32]) -> Result<Vec<Vec<f32>>> {
        let side = self.kind.input_side();
        let fail = |reason: String| VisionError::Inference {
            model: self.kind.name(),
            reason,
        };
        match &self.engine {
            Engine::Tract(plan) => {
                let err = |e: TractError| fail(format!("{e:#}"));
                let tensor = Tensor::from_shape(&[1, side, side, 3], input).map_err(err)?;
                let outputs = plan.run(tvec!(tensor.into())).map_err(err)?;
                outputs
                    .iter()
                    .map(|o| {
                        Ok(o.try_as_plain_ram()
                            .map_err(err)?
                            .as_slice::<f32>()
                            .map_err(err)?
                            .to_vec())
                    })
                    .collect()
            }
            #[cfg(feature = "onnxruntime")]
            Engine::Ort(session) => {
                let err = |e: ort::Error| fail(e.to_string());
                let tensor =
                    ort::value::Tensor::from_array(([1usize, side, side, 3], input.to_vec()))
                        .map_err(err)?;
                let mut session = session
                    .lock()
                    .map_err(|_| fail("session lock poisoned".into()))?;
                let outputs = session.run(ort::inputs![tensor]).map_err(err)?;
                outputs
                    .values()
                    .map(|v| Ok(v.try_extract_tensor::<f32>().map_err(err)?.1.to_vec()))
                    .collect()
            }
        }
    }
}

#[cfg(feature = "bundled-models")]
mod bundled {
    use super::{ModelKind, Precision};

    macro_rules! model_file {
        ($f:literal) => {
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/", $f))
        };
    }

    pub fn bytes(kind: ModelKind, precision: Precision) -> &'static [u8] {
        use ModelKind::*;
        use Precision::*;
        match (kind, precision) {
            (DetectorShortRange, Fp32) => model_file!("face_detection_short_range.onnx"),
            (DetectorShortRange, Int8) => model_file!("face_detection_short_range_int8.onnx"),
            (DetectorFullRange, Fp32) => model_file!("face_detection_full_range.onnx"),
            (DetectorFullRange, Int8) => model_file!("face_detection_full_range_int8.onnx"),
            (FaceMesh, Fp32) => model_file!("face_landmark.onnx"),
            (FaceMesh, Int8) => model_file!("face_landmark_int8.onnx"),
            (Iris, Fp32) => model_file!("iris_landmark.onnx"),
            (Iris, Int8) => model_file!("iris_landmark_int8.onnx"),
        }
    }
}

#[cfg(feature = "bundled-models")]
impl Model {
    /// The model compiled into this binary (feature `bundled-models`).
    pub fn bundled(kind: ModelKind, precision: Precision) -> Result<Self> {
        Self::from_bytes(kind, precision, bundled::bytes(kind, precision))
    }
}

/// Every model a pipeline uses.
#[derive(Debug, Clone)]
pub struct ModelSet {
    pub detector: Model,
    /// Tried when the short-range detector finds nothing (small or far faces).
    pub detector_full_range: Option<Model>,
    pub mesh: Model,
    /// Eye refinement; `None` skips it.
    pub iris: Option<Model>,
}

impl ModelSet {
    /// Loads every model from a folder laid out like `models/`.
    pub fn from_dir(dir: &Path, precision: Precision) -> Result<Self> {
        Ok(Self {
            detector: Model::from_dir(ModelKind::DetectorShortRange, precision, dir)?,
            detector_full_range: Some(Model::from_dir(
                ModelKind::DetectorFullRange,
                precision,
                dir,
            )?),
            mesh: Model::from_dir(ModelKind::FaceMesh, precision, dir)?,
            iris: Some(Model::from_dir(ModelKind::Iris, precision, dir)?),
        })
    }

    /// Every model from the copies compiled into the binary, run by onnxruntime.
    #[cfg(all(feature = "bundled-models", feature = "onnxruntime"))]
    pub fn bundled_onnxruntime(precision: Precision) -> Result<Self> {
        let load =
            |kind| Model::from_bytes_onnxruntime(kind, precision, bundled::bytes(kind, precision));
        Ok(Self {
            detector: load(ModelKind::DetectorShortRange)?,
            detector_full_range: Some(load(ModelKind::DetectorFullRange)?),
            mesh: load(ModelKind::FaceMesh)?,
            iris: Some(load(ModelKind::Iris)?),
        })
    }

    /// Every model, from the copies compiled into the binary.
    #[cfg(feature = "bundled-models")]
    pub fn bundled(precision: Precision) -> Result<Self> {
        Ok(Self {
            detector: Model::bundled(ModelKind::DetectorShortRange, precision)?,
            detector_full_range: Some(Model::bundled(ModelKind::DetectorFullRange, precision)?),
            mesh: Model::bundled(ModelKind::FaceMesh, precision)?,
            iris: Some(Model::bundled(ModelKind::Iris, precision)?),
        })
    }
}
