//! A textured 3-D head made from one photo and its FaceMesh: the 468 landmarks with depth,
//! three rings around the face that carry the head's rotation out into the static photo, a
//! Delaunay triangulation, and the deformations the challenges need (eyelids, smile).

use std::sync::OnceLock;

use serde::Deserialize;

/// The astronaut's FaceMesh (x, y, z in photo pixels), produced by `liveness-vision`'s
/// `dump_landmarks` example and checked against the pipeline by a test in `liveness-cli`.
static ASTRONAUT_MESH_JSON: &str = include_str!("../assets/astronaut_mesh.json");

#[derive(Debug, Deserialize)]
struct MeshFile {
    points: Vec<[f32; 3]>,
}

/// The astronaut's 468 landmarks.
pub fn astronaut_landmarks() -> &'static [[f32; 3]] {
    static POINTS: OnceLock<Vec<[f32; 3]>> = OnceLock::new();
    POINTS.get_or_init(|| {
        serde_json::from_str::<MeshFile>(ASTRONAUT_MESH_JSON)
            .map(|m| m.points)
            .unwrap_or_default()
    })
}

/// The face outline, clockwise from the top of the forehead (MediaPipe's FACE_OVAL).
const FACE_OVAL: [usize; 36] = [
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
    148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
];
/// Upper lid (outer to inner corner), the lower lid between the same corners, and the fold
/// above the upper lid, for the subject's right and left eyes (MediaPipe's annotations).
const EYES: [([usize; 7], [usize; 7], [usize; 7]); 2] = [
    (
        [246, 161, 160, 159, 158, 157, 173],
        [7, 163, 144, 145, 153, 154, 155],
        [247, 30, 29, 27, 28, 56, 190],
    ),
    (
        [466, 388, 387, 386, 385, 384, 398],
        [249, 390, 373, 374, 380, 381, 382],
        [467, 260, 259, 257, 258, 286, 414],
    ),
];
/// Mouth corners (subject's right, left) and the lip points next to each.
const MOUTH_CORNERS: [(usize, [usize; 4]); 2] =
    [(61, [146, 185, 78, 191]), (291, [375, 409, 308, 415])];
const UPPER_LIP_MID: usize = 13;
const LOWER_LIP_MID: usize = 14;

/// How far each ring sits from the face centre (× the outline) and how much of the head's
/// rotation it follows.
const RINGS: [(f32, f32); 3] = [(1.22, 1.0), (1.55, 0.55), (2.1, 0.0)];

#[derive(Debug, Clone)]
pub struct HeadModel {
    /// Rest positions: photo pixels, z towards the back of the head.
    pub rest: Vec<[f32; 3]>,
    /// Texture coordinates in the photo (= the rest x, y).
    pub uv: Vec<[f32; 2]>,
    /// 1 follows the head's rotation fully, 0 stays with the photo.
    pub rigidity: Vec<f32>,
    pub triangles: Vec<[usize; 3]>,
    /// Rotation centre: the face centre, in the middle of the head's depth.
    pub pivot: [f32; 3],
    /// Face width in photo pixels (outer eye corners × ~2), the unit of the deformations.
    pub face_width: f32,
}

/// Deformations of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Expression {
    /// 0 open, 1 closed, per eye (subject's right, left).
    pub eye_closure: [f32; 2],
    /// 0 neutral, 1 full smile.
    pub smile: f32,
}

impl HeadModel {
    /// Builds the head from a photo's 468 landmarks, or `None` if there are not 468.
    pub fn from_landmarks(points: &[[f32; 3]]) -> Option<Self> {
        if points.len() != 468 {
            return None;
        }
        let n = points.len() as f32;
        let cx = points.iter().map(|p| p[0]).sum::<f32>() / n;
        let cy = points.iter().map(|p| p[1]).sum::<f32>() / n;
        let eye_span = (points[263][0] - points[33][0]).hypot(points[263][1] - points[33][1]);
        let face_width = eye_span * 2.0;
        let mut rest: Vec<[f32; 3]> = points.to_vec();
        let mut rigidity = vec![1.0; points.len()];
        // The head's rotation centre is about one face-width behind the face.
        let depth = face_width * 0.6;
        for (scale, follow) in RINGS {
            for &i in &FACE_OVAL {
                let p = points[i];
                let back = p[2] + depth * (scale - 1.0) * 0.9;
                rest.push([cx + (p[0] - cx) * scale, cy + (p[1] - cy) * scale, back]);
                rigidity.push(follow);
            }
        }
        let uv: Vec<[f32; 2]> = rest.iter().map(|p| [p[0], p[1]]).collect();
        let triangles = delaunay(&uv);
        let mean_z = points.iter().map(|p| p[2]).sum::<f32>() / n;
        Some(Self {
            rest,
            uv,
            rigidity,
            triangles,
            pivot: [cx, cy, mean_z + depth],
            face_width,
        })
    }

    /// The astronaut's head.
    pub fn astronaut() -> &'static HeadModel {
        static HEAD: OnceLock<Option<HeadModel>> = OnceLock::new();
        static EMPTY: OnceLock<HeadModel> = OnceLock::new();
        HEAD.get_or_init(|| Self::from_landmarks(astronaut_landmarks()))
            .as_ref()
            .unwrap_or_else(|| {
                EMPTY.get_or_init(|| HeadModel {
                    rest: Vec::new(),
                    uv: Vec::new(),
                    rigidity: Vec::new(),
                    triangles: Vec::new(),
                    pivot: [0.0; 3],
                    face_width: 1.0,
                })
            })
    }

    /// The first ring around the face (hairline, ears, jaw) as a polygon in photo pixels:
    /// where scissors would cut the head out of a printed photo.
    pub fn outline(&self) -> Vec<[f32; 2]> {
        let start = 468;
        let end = (start + FACE_OVAL.len()).min(self.uv.len());
        self.uv
            .get(start..end)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    /// Rest positions with the expression applied (still in photo pixels).
    pub fn deformed(&self, e: &Expression) -> Vec<[f32; 3]> {
        let mut v = self.rest.clone();
        for (eye, &(upper, lower, fold)) in EYES.iter().enumerate() {
            let c = e.eye_closure[eye].clamp(0.0, 1.0);
            if c == 0.0 {
                continue;
            }
            for k in 0..7 {
                let (u, l) = (self.rest[upper[k]], self.rest[lower[k]]);
                // The lid comes down onto the lower lid, a hair above it so the lid skin
                // (stretched from above) covers the eye.
                let target = [l[0], l[1] - 0.02 * self.face_width * (1.0 - c), l[2]];
                let d = [target[0] - u[0], target[1] - u[1]];
                v[upper[k]][0] += d[0] * c;
                v[upper[k]][1] += d[1] * c;
                v[fold[k]][0] += d[0] * c * 0.55;
                v[fold[k]][1] += d[1] * c * 0.55;
            }
        }
        let s = e.smile.clamp(0.0, 1.0);
        if s > 0.0 {
            let mid = [
                (self.rest[UPPER_LIP_MID][0] + self.rest[LOWER_LIP_MID][0]) / 2.0,
                (self.rest[UPPER_LIP_MID][1] + self.rest[LOWER_LIP_MID][1]) / 2.0,
            ];
            // A smile pulls each mouth corner out and up towards the cheekbone, and the skin
            // around it (lips, cheek, the fold beside the nose) follows with a smooth falloff:
            // moving only the corner vertices stretches the texture in a way no face does,
            // and FaceMesh does not read it as a smile. Sizes follow a real broad smile
            // (mouth ~35 % wider, corners ~25 % nearer the nose).
            let sigma = 0.11 * self.face_width;
            let pushes: Vec<([f32; 2], [f32; 2])> = MOUTH_CORNERS
                .iter()
                .map(|&(corner, _)| {
                    let p = self.rest[corner];
                    let (dx, dy) = (p[0] - mid[0], p[1] - mid[1]);
                    let len = dx.hypot(dy).max(1e-3);
                    let push = [
                        dx / len * 0.095 * self.face_width * s,
                        -0.065 * self.face_width * s,
                    ];
                    ([p[0], p[1]], push)
                })
                .collect();
            for (i, out) in v.iter_mut().enumerate().take(468) {
                let r = self.rest[i];
                for (at, push) in &pushes {
                    let d2 = (r[0] - at[0]).powi(2) + (r[1] - at[1]).powi(2);
                    let w = (-d2 / (2.0 * sigma * sigma)).exp();
                    out[0] += push[0] * w;
                    out[1] += push[1] * w;
                }
            }
        }
        v
    }
}

/// Bowyer–Watson Delaunay triangulation of 2-D points.
pub fn delaunay(points: &[[f32; 2]]) -> Vec<[usize; 3]> {
    if points.len() < 3 {
        return Vec::new();
    }
    let (mut min, mut max) = ([f64::MAX; 2], [f64::MIN; 2]);
    for p in points {
        for k in 0..2 {
            min[k] = min[k].min(f64::from(p[k]));
            max[k] = max[k].max(f64::from(p[k]));
        }
    }
    let span = (max[0] - min[0]).max(max[1] - min[1]).max(1.0) * 20.0;
    let mid = [(min[0] + max[0]) / 2.0, (min[1] + max[1]) / 2.0];
    let mut pts: Vec<[f64; 2]> = points
        .iter()
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect();
    let n = pts.len();
    pts.push([mid[0] - span, mid[1] - span]);
    pts.push([mid[0] + span, mid[1] - span]);
    pts.push([mid[0], mid[1] + span]);
    let mut tris: Vec<[usize; 3]> = vec![[n, n + 1, n + 2]];
    for i in 0..n {
        let p = pts[i];
        let (bad, good): (Vec<[usize; 3]>, Vec<[usize; 3]>) =
            tris.into_iter().partition(|t| in_circumcircle(&pts, *t, p));
        let mut edges: Vec<[usize; 2]> = Vec::new();
        for t in &bad {
            for e in [[t[0], t[1]], [t[1], t[2]], [t[2], t[0]]] {
                let shared = bad.iter().filter(|o| *o != t).any(|o| {
                    let has = |v| o.contains(&v);
                    has(e[0]) && has(e[1])
                });
                if !shared {
                    edges.push(e);
                }
            }
        }
        tris = good;
        tris.extend(edges.into_iter().map(|e| [e[0], e[1], i]));
    }
    tris.retain(|t| t.iter().all(|&v| v < n));
    tris
}

fn in_circumcircle(pts: &[[f64; 2]], t: [usize; 3], p: [f64; 2]) -> bool {
    let [a, b, c] = t.map(|i| pts[i]);
    let (ax, ay) = (a[0] - p[0], a[1] - p[1]);
    let (bx, by) = (b[0] - p[0], b[1] - p[1]);
    let (cx, cy) = (c[0] - p[0], c[1] - p[1]);
    let det = (ax * ax + ay * ay) * (bx * cy - cx * by) - (bx * bx + by * by) * (ax * cy - cx * ay)
        + (cx * cx + cy * cy) * (ax * by - bx * ay);
    let orient = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
    if orient > 0.0 { det > 0.0 } else { det < 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delaunay_of_a_square_with_centre() {
        let t = delaunay(&[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.5, 0.5]]);
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn the_head_covers_the_face_and_rings() {
        let head = HeadModel::astronaut();
        assert_eq!(head.rest.len(), 468 + 3 * 36);
        // A planar triangulation of n points with h on the hull has 2n - 2 - h triangles.
        assert!(
            head.triangles.len() > 2 * head.rest.len() - 2 - 60,
            "{}",
            head.triangles.len()
        );
        let area: f32 = head
            .triangles
            .iter()
            .map(|t| {
                let [a, b, c] = t.map(|i| head.uv[i]);
                ((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])).abs() / 2.0
            })
            .sum();
        assert!(area > 100.0 * 100.0, "{area}");
    }

    #[test]
    fn closing_an_eye_brings_the_lid_down() {
        let head = HeadModel::astronaut();
        let closed = head.deformed(&Expression {
            eye_closure: [1.0, 0.0],
            smile: 0.0,
        });
        let gap = |v: &[[f32; 3]], u: usize, l: usize| v[l][1] - v[u][1];
        assert!(gap(&head.rest, 159, 145) > 4.0);
        assert!(gap(&closed, 159, 145).abs() < 1.0);
        assert_eq!(closed[386], head.rest[386], "the other eye stays open");
    }
}
