//! Renders a [`Script`] frame by frame: the head posed in 3-D over the photo (weak
//! perspective, z-buffered, bilinear texture), then the attack staging and the camera's
//! lighting, blur, noise and JPEG artefacts. Deterministic: the same script and seed give
//! byte-identical frames.

use crate::head::{Expression, HeadModel};
use crate::light::{BACKGROUND_SHADE, Illumination};
use crate::script::{AttackKind, Script, State};
use crate::{RgbImage, astronaut};

/// Face width as a fraction of the frame width at `scale = 1`.
const FACE_FRACTION: f32 = 0.28;
/// Camera distance in face widths at `scale = 1` (sets the perspective).
const CAMERA_DISTANCE: f32 = 6.0;

/// splitmix64: a tiny deterministic generator for noise and textures.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Approximately standard normal: the sum of four 16-bit uniforms from one draw
    /// (Irwin–Hall, rescaled). Plenty for sensor noise, and ~10× cheaper than Box–Muller,
    /// which matters at a million samples a frame.
    pub fn normal(&mut self) -> f32 {
        let r = self.next_u64();
        let sum: u32 = (0..4).map(|k| ((r >> (16 * k)) & 0xFFFF) as u32).sum();
        // Four uniforms on [0, 1): mean 2, variance 1/3.
        (sum as f32 / 65_536.0 - 2.0) * 3.0f32.sqrt()
    }
}

/// Bilinear sample of `img` at continuous pixel coordinates, `None` outside.
fn sample(img: &RgbImage, x: f32, y: f32) -> Option<[f32; 3]> {
    let (w, h) = (img.width as i64, img.height as i64);
    let (fx, fy) = (x - 0.5, y - 0.5);
    if fx < -0.5 || fy < -0.5 || fx > w as f32 - 0.5 || fy > h as f32 - 0.5 {
        return None;
    }
    let (x0, y0) = (fx.floor() as i64, fy.floor() as i64);
    let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
    let px = |x: i64, y: i64| {
        let (x, y) = (x.clamp(0, w - 1) as usize, y.clamp(0, h - 1) as usize);
        let i = (y * img.width as usize + x) * 3;
        [
            img.rgb[i] as f32,
            img.rgb[i + 1] as f32,
            img.rgb[i + 2] as f32,
        ]
    };
    let (a, b, c, d) = (
        px(x0, y0),
        px(x0 + 1, y0),
        px(x0, y0 + 1),
        px(x0 + 1, y0 + 1),
    );
    let mut out = [0.0; 3];
    for k in 0..3 {
        out[k] =
            (a[k] * (1.0 - ax) + b[k] * ax) * (1.0 - ay) + (c[k] * (1.0 - ax) + d[k] * ax) * ay;
    }
    Some(out)
}

/// Float canvas with a depth buffer.
struct Canvas {
    w: usize,
    h: usize,
    rgb: Vec<f32>,
    depth: Vec<f32>,
    /// How much of the phone screen's light each pixel catches (0..1).
    shade: Vec<f32>,
}

impl Canvas {
    fn new(w: usize, h: usize, fill: [u8; 3]) -> Self {
        let mut rgb = Vec::with_capacity(w * h * 3);
        for _ in 0..w * h {
            rgb.extend(fill.map(f32::from));
        }
        Self {
            w,
            h,
            rgb,
            depth: vec![f32::INFINITY; w * h],
            shade: vec![BACKGROUND_SHADE; w * h],
        }
    }

    /// Fills a triangle given screen positions (x, y, depth) and texture coordinates,
    /// sampling `texture`; nearer (smaller depth) wins.
    fn triangle(
        &mut self,
        p: [[f32; 3]; 3],
        uv: [[f32; 2]; 3],
        shade: [f32; 3],
        texture: &dyn Fn(f32, f32) -> Option<[f32; 3]>,
    ) {
        let area =
            (p[1][0] - p[0][0]) * (p[2][1] - p[0][1]) - (p[1][1] - p[0][1]) * (p[2][0] - p[0][0]);
        if area.abs() < 1e-6 {
            return;
        }
        let min_x = p
            .iter()
            .map(|v| v[0])
            .fold(f32::MAX, f32::min)
            .floor()
            .max(0.0) as usize;
        let max_x = (p
            .iter()
            .map(|v| v[0])
            .fold(f32::MIN, f32::max)
            .ceil()
            .max(0.0) as usize)
            .min(self.w);
        let min_y = p
            .iter()
            .map(|v| v[1])
            .fold(f32::MAX, f32::min)
            .floor()
            .max(0.0) as usize;
        let max_y = (p
            .iter()
            .map(|v| v[1])
            .fold(f32::MIN, f32::max)
            .ceil()
            .max(0.0) as usize)
            .min(self.h);
        for y in min_y..max_y {
            let py = y as f32 + 0.5;
            for x in min_x..max_x {
                let px = x as f32 + 0.5;
                let w0 = ((p[1][0] - px) * (p[2][1] - py) - (p[1][1] - py) * (p[2][0] - px)) / area;
                let w1 = ((p[2][0] - px) * (p[0][1] - py) - (p[2][1] - py) * (p[0][0] - px)) / area;
                let w2 = 1.0 - w0 - w1;
                if w0 < -1e-4 || w1 < -1e-4 || w2 < -1e-4 {
                    continue;
                }
                let z = w0 * p[0][2] + w1 * p[1][2] + w2 * p[2][2];
                let k = y * self.w + x;
                if z >= self.depth[k] {
                    continue;
                }
                let u = w0 * uv[0][0] + w1 * uv[1][0] + w2 * uv[2][0];
                let v = w0 * uv[0][1] + w1 * uv[1][1] + w2 * uv[2][1];
                if let Some(c) = texture(u, v) {
                    self.depth[k] = z;
                    self.rgb[k * 3..k * 3 + 3].copy_from_slice(&c);
                    self.shade[k] = w0 * shade[0] + w1 * shade[1] + w2 * shade[2];
                }
            }
        }
    }
}

/// Rotation by the pose (roll first, then pitch, then yaw; the conventions of
/// `liveness-vision`'s head pose).
fn rotate(p: [f32; 3], yaw: f32, pitch: f32, roll: f32) -> [f32; 3] {
    let (sr, cr) = roll.to_radians().sin_cos();
    let (sp, cp) = pitch.to_radians().sin_cos();
    let (sy, cy) = yaw.to_radians().sin_cos();
    let (x, y, z) = (p[0] * cr - p[1] * sr, p[0] * sr + p[1] * cr, p[2]);
    let (y, z) = (y * cp + z * sp, -y * sp + z * cp);
    let (x, z) = (x * cy - z * sy, x * sy + z * cy);
    [x, y, z]
}

/// Where the photo goes on the canvas: scale and the face centre's position.
#[derive(Debug, Clone, Copy)]
struct Placement {
    scale: f32,
    face: [f32; 2],
    at: [f32; 2],
    distance: f32,
}

impl Placement {
    fn new(head: &HeadModel, w: usize, h: usize, scale: f32, x: f32, y: f32) -> Self {
        Self {
            scale: FACE_FRACTION * w as f32 / head.face_width * scale,
            face: [head.pivot[0], head.pivot[1]],
            at: [x * w as f32, y * h as f32],
            distance: CAMERA_DISTANCE * head.face_width / scale,
        }
    }

    /// Photo point with depth relative to the pivot → canvas (x, y, depth).
    fn project(&self, p: [f32; 3], pivot_z: f32) -> [f32; 3] {
        let dz = p[2] - pivot_z;
        let k = self.distance / (self.distance + dz).max(self.distance * 0.2);
        [
            self.at[0] + (p[0] - self.face[0]) * self.scale * k,
            self.at[1] + (p[1] - self.face[1]) * self.scale * k,
            dz,
        ]
    }

    /// Canvas pixel → photo pixel for the flat background.
    fn unproject(&self, x: f32, y: f32) -> [f32; 2] {
        [
            self.face[0] + (x - self.at[0]) / self.scale,
            self.face[1] + (y - self.at[1]) / self.scale,
        ]
    }
}

/// Renders frames of one script.
#[derive(Debug, Clone)]
pub struct Renderer {
    script: Script,
    head: &'static HeadModel,
    photo: &'static RgbImage,
}

impl Renderer {
    pub fn new(script: Script) -> Self {
        Self {
            script,
            head: HeadModel::astronaut(),
            photo: astronaut(),
        }
    }

    pub fn script(&self) -> &Script {
        &self.script
    }

    pub fn frame_count(&self) -> usize {
        self.script.frame_count()
    }

    /// Frame `i`'s timestamp in microseconds.
    pub fn timestamp_us(&self, i: usize) -> u64 {
        (i as u64 * 1_000_000) / u64::from(self.script.fps)
    }

    /// Frame `i` in any pixel format the SDK accepts (RGB, RGBA, BGRA, NV21, NV12, I420).
    pub fn render_as(
        &self,
        i: usize,
        format: liveness_frame::PixelFormat,
    ) -> Result<liveness_frame::OwnedFrame, liveness_frame::FrameError> {
        let img = self.render(i);
        liveness_frame::OwnedFrame::from_rgb(&img.rgb, img.width, img.height, format)
    }

    pub fn render(&self, i: usize) -> RgbImage {
        self.render_lit(i, &Illumination::default())
    }

    /// Frame `i` lit by what the phone's screen showed (`light`, read at the frame's capture
    /// time: the closed loop of a phone showing colours to the face it films).
    pub fn render_lit(&self, i: usize, light: &Illumination) -> RgbImage {
        self.render_posed(i, &self.script.state(i), self.script.time(i), light)
    }

    /// Frame `i` (its capture time, noise and light) showing the subject in state `s`, the
    /// script's state at time `script_t` (seconds): a subject who pauses its performance,
    /// or moves closer when asked, is rendered from a state other than frame `i`'s own.
    pub fn render_posed(
        &self,
        i: usize,
        s: &State,
        script_t: f32,
        light: &Illumination,
    ) -> RgbImage {
        let s = *s;
        let (w, h) = (self.script.width as usize, self.script.height as usize);
        let t_ms = self.script.time(i) * 1000.0;
        let ratio = self.script.screen_lux * s.scale * s.scale / self.script.ambient_lux;
        let mut rgb = match self.script.attack.as_ref() {
            Some(a) if a.kind == AttackKind::Print => {
                let mut c = self.print(&s, w, h);
                light.light(&mut c.rgb, &c.shade, t_ms, ratio, t_ms);
                c.rgb
            }
            Some(a) => {
                // What the replay shows: the genuine scene as lit when it was recorded, or
                // re-lit by an adaptive attacker with the colour it saw `latency` ago.
                let mut content = self.scene(&s, script_t, w, h);
                let (shown, at) = match a.relight_latency_ms {
                    Some(latency) => (light.clone(), t_ms - latency),
                    None if a.recorded_light => {
                        (Illumination::recorded(self.script.seed, 1300, 400, 6), t_ms)
                    }
                    None => (Illumination::default(), t_ms),
                };
                shown.light(&mut content.rgb, &content.shade, at, ratio, at);
                let (mut out, mask) = self.screen(&content.rgb, &s, i, w, h);
                // The glass sends back a little of the phone's light, evenly.
                light.glare(&mut out, &mask, t_ms, a.specular * ratio);
                out
            }
            None => {
                let mut c = self.scene(&s, script_t, w, h);
                light.light(&mut c.rgb, &c.shade, t_ms, ratio, t_ms);
                c.rgb
            }
        };
        self.camera(&mut rgb, &s, i, w);
        RgbImage {
            rgb: rgb
                .iter()
                .map(|v| v.round().clamp(0.0, 255.0) as u8)
                .collect(),
            width: w as u32,
            height: h as u32,
        }
        .with_jpeg(s.jpeg)
    }

    /// The live subject at time `t`: photo background, posed head, second face, occluder.
    fn scene(&self, s: &State, t: f32, w: usize, h: usize) -> Canvas {
        let mut c = Canvas::new(w, h, self.script.background);
        let place = Placement::new(self.head, w, h, s.scale, s.x, s.y);
        for y in 0..h {
            for x in 0..w {
                let [u, v] = place.unproject(x as f32 + 0.5, y as f32 + 0.5);
                if let Some(col) = sample(self.photo, u, v) {
                    c.rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&col);
                }
            }
        }
        let expr = Expression {
            eye_closure: [s.eye_right, s.eye_left],
            smile: s.smile,
        };
        self.draw_head(&mut c, &place, &expr, [s.yaw, s.pitch, s.roll]);
        if let Some(f) = &self.script.second_face {
            let other = Placement::new(self.head, w, h, f.scale, f.x, f.y);
            self.draw_head(&mut c, &other, &Expression::default(), [f.yaw, 0.0, 0.0]);
        }
        if let Some(o) = &self.script.occluder {
            if o.from.is_none_or(|f| t >= f) && o.until.is_none_or(|u| t <= u) {
                let fw = self.head.face_width * place.scale;
                let centre = [place.at[0] + o.dx * fw, place.at[1] + o.dy * fw];
                hand(&mut c, centre, o.width * fw, o.height * fw);
            }
        }
        c
    }

    fn draw_head(&self, c: &mut Canvas, place: &Placement, expr: &Expression, pose: [f32; 3]) {
        let head = self.head;
        let verts = head.deformed(expr);
        let piv = head.pivot;
        let posed: Vec<[f32; 3]> = verts
            .iter()
            .zip(&head.rigidity)
            .map(|(v, &r)| {
                let rel = [v[0] - piv[0], v[1] - piv[1], v[2] - piv[2]];
                let rot = rotate(rel, pose[0], pose[1], pose[2]);
                [
                    piv[0] + rel[0] + r * (rot[0] - rel[0]),
                    piv[1] + rel[1] + r * (rot[1] - rel[1]),
                    piv[2] + rel[2] + r * (rot[2] - rel[2]),
                ]
            })
            .collect();
        let screen: Vec<[f32; 3]> = posed.iter().map(|&p| place.project(p, piv[2])).collect();
        let mut shade = lambert(&posed, &head.triangles);
        // Past the face's own 468 points come three rings (see `HeadModel`): the head's side
        // at the hairline and ears, seen at a grazing angle, then two that blend the head into
        // the photo's background, which is far from the screen.
        let ring_len = (shade.len().saturating_sub(468) / 3).max(1);
        for (i, s) in shade.iter_mut().enumerate().skip(468) {
            *s = if (i - 468) / ring_len == 0 {
                0.3 * *s
            } else {
                BACKGROUND_SHADE
            };
        }
        let photo = self.photo;
        let texture = |u: f32, v: f32| sample(photo, u, v);
        for t in &head.triangles {
            c.triangle(
                t.map(|i| screen[i]),
                t.map(|i| head.uv[i]),
                t.map(|i| shade[i]),
                &texture,
            );
        }
    }

    /// The printed photo: one textured plane (with a paper edge) posed in 3-D.
    fn print(&self, s: &State, w: usize, h: usize) -> Canvas {
        let mut c = Canvas::new(w, h, self.script.background);
        let place = Placement::new(self.head, w, h, s.scale, s.x, s.y);
        let photo = self.photo;
        let edge = self.script.attack.as_ref().map_or(0.04, |a| a.paper_edge) * photo.width as f32;
        let (pw, ph) = (photo.width as f32, photo.height as f32);
        let corners = [
            [-edge, -edge],
            [pw + edge, -edge],
            [pw + edge, ph + edge],
            [-edge, ph + edge],
        ];
        let piv = self.head.pivot;
        let screen: Vec<[f32; 3]> = corners
            .iter()
            .map(|&[x, y]| {
                // The paper is flat: every point at the face's depth.
                let rel = [x - piv[0], y - piv[1], 0.0];
                let rot = rotate(rel, s.yaw, s.pitch, s.roll);
                place.project([piv[0] + rot[0], piv[1] + rot[1], piv[2] + rot[2]], piv[2])
            })
            .collect();
        let cutout = self.script.attack.as_ref().is_some_and(|a| a.cutout);
        let outline = if cutout {
            self.head.outline()
        } else {
            Vec::new()
        };
        let paper = |u: f32, v: f32| {
            if cutout && !inside(&outline, u, v) {
                return None;
            }
            // Matte paper: the print a little washed out, white beyond the photo, and a fibre
            // texture fixed to the sheet (hashed from the paper position, so it moves with it).
            let fibre = {
                let h = ((u * 3.1).floor() as i64).wrapping_mul(73_856_093)
                    ^ ((v * 3.1).floor() as i64).wrapping_mul(19_349_663);
                ((h.rem_euclid(1000)) as f32 / 1000.0 - 0.5) * 10.0
            };
            Some(
                sample(photo, u, v)
                    .map_or([236.0, 234.0, 228.0], |c| c.map(|x| 18.0 + x * 0.9))
                    .map(|x| x + fibre),
            )
        };
        // A sheet seen by a camera is exactly a homography of the paper: every pixel is
        // mapped back through it (texturing two triangles affinely instead bends the sheet
        // along their shared edge, which the 3-D check then reads as depth).
        let quad = [0, 1, 2, 3].map(|i| [screen[i][0], screen[i][1]]);
        let Some(to_paper) = liveness_frame::Homography::from_points(&quad, &corners) else {
            return c;
        };
        // A flat sheet catches the screen's light the same everywhere: its normal's
        // component towards the camera.
        let sheet_shade = (-rotate([0.0, 0.0, -1.0], s.yaw, s.pitch, s.roll)[2]).max(0.0);
        let (x0, x1) = bounds(quad.iter().map(|p| p[0]), w);
        let (y0, y1) = bounds(quad.iter().map(|p| p[1]), h);
        let (lo, hi) = ([-edge, -edge], [pw + edge, ph + edge]);
        for y in y0..y1 {
            for x in x0..x1 {
                let Some([u, v]) = to_paper.apply(x as f32 + 0.5, y as f32 + 0.5) else {
                    continue;
                };
                if u < lo[0] || v < lo[1] || u >= hi[0] || v >= hi[1] {
                    continue;
                }
                if let Some(col) = paper(u, v) {
                    let k = (y * w + x) * 3;
                    c.rgb[k..k + 3].copy_from_slice(&col);
                    c.shade[y * w + x] = sheet_shade;
                }
            }
        }
        c
    }

    /// The genuine scene shown on a screen: bezel, pixel grid, moiré, gamma, refresh bands.
    /// Returns the frame and which pixels are the screen's glass.
    fn screen(
        &self,
        content: &[f32],
        _s: &State,
        i: usize,
        w: usize,
        h: usize,
    ) -> (Vec<f32>, Vec<bool>) {
        let frac = self.script.attack.as_ref().map_or(0.9, |a| a.screen_size);
        let (sw, sh) = (w as f32 * frac, h as f32 * frac);
        let (x0, y0) = ((w as f32 - sw) / 2.0, (h as f32 - sh) / 2.0);
        let bezel = 0.035 * w as f32;
        let band = (i as f32 * 0.37).fract() * h as f32;
        // Display gamma as a table over the (rounded) source level; the moiré
        // 1 + 0.07·sin(0.9x + 0.35y)·cos(0.31y) expanded into per-column and per-row terms.
        let gamma: Vec<f32> = (0..256)
            .map(|v| 255.0 * (v as f32 / 255.0).powf(1.15))
            .collect();
        let (sx_sin, sx_cos): (Vec<f32>, Vec<f32>) =
            (0..w).map(|x| (0.9 * (x as f32 + 0.5)).sin_cos()).unzip();
        let rows: Vec<(f32, f32, f32)> = (0..h)
            .map(|y| {
                let fy = y as f32 + 0.5;
                let (s, c) = (0.35 * fy).sin_cos();
                (s, c, 0.07 * (0.31 * fy).cos())
            })
            .collect();
        let mut out = vec![0.0; w * h * 3];
        let mut glass = vec![false; w * h];
        for (y, &(sy_sin, sy_cos, amp)) in rows.iter().enumerate() {
            for x in 0..w {
                let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
                let k = (y * w + x) * 3;
                let inside = fx >= x0 && fx < x0 + sw && fy >= y0 && fy < y0 + sh;
                let in_bezel = fx >= x0 - bezel
                    && fx < x0 + sw + bezel
                    && fy >= y0 - bezel
                    && fy < y0 + sh + bezel;
                if !in_bezel {
                    for (ch, v) in self.script.background.iter().enumerate() {
                        out[k + ch] = f32::from(*v) * 0.8;
                    }
                    continue;
                }
                glass[y * w + x] = true;
                if !inside {
                    out[k..k + 3].copy_from_slice(&[18.0, 18.0, 20.0]);
                    continue;
                }
                // Nearest source pixel of the shrunk content.
                let sx = (((fx - x0) / frac) as usize).min(w - 1);
                let sy = (((fy - y0) / frac) as usize).min(h - 1);
                let src = &content[(sy * w + sx) * 3..(sy * w + sx) * 3 + 3];
                let grid = if x % 3 == 2 || y % 3 == 2 { 0.82 } else { 1.0 };
                let moire = 1.0 + amp * (sx_sin[x] * sy_cos + sx_cos[x] * sy_sin);
                let banding = if (fy - band).abs() < h as f32 * 0.06 {
                    0.9
                } else {
                    1.0
                };
                for ch in 0..3 {
                    // Displays add their own gamma and a slight blue cast.
                    let v = gamma[src[ch].round().clamp(0.0, 255.0) as usize];
                    let cast = [0.96, 0.99, 1.06][ch];
                    out[k + ch] = v * grid * moire * banding * cast;
                }
            }
        }
        (out, glass)
    }

    /// What the camera adds: exposure, gamma, colour cast, motion blur, sensor noise.
    fn camera(&self, rgb: &mut [f32], s: &State, i: usize, w: usize) {
        let gain = s.cast.map(|c| c * s.brightness);
        if gain != [1.0; 3] || s.gamma != 1.0 {
            let inv_gamma = 1.0 / s.gamma.max(0.1);
            for px in rgb.chunks_exact_mut(3) {
                for ch in 0..3 {
                    let v = (px[ch] * gain[ch]).clamp(0.0, 255.0);
                    px[ch] = if s.gamma == 1.0 {
                        v
                    } else {
                        255.0 * (v / 255.0).powf(inv_gamma)
                    };
                }
            }
        }
        let len = s.blur.round() as usize;
        if len > 1 {
            let h = rgb.len() / 3 / w;
            let src = rgb.to_vec();
            for y in 0..h {
                for x in 0..w {
                    let mut acc = [0.0; 3];
                    let mut n = 0.0;
                    for d in 0..len {
                        let xx = (x + d).saturating_sub(len / 2).min(w - 1);
                        let k = (y * w + xx) * 3;
                        for ch in 0..3 {
                            acc[ch] += src[k + ch];
                        }
                        n += 1.0;
                    }
                    let k = (y * w + x) * 3;
                    for ch in 0..3 {
                        rgb[k + ch] = acc[ch] / n;
                    }
                }
            }
        }
        if s.noise > 0.0 {
            let mut rng =
                Rng::new(self.script.seed ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
            for v in rgb.iter_mut() {
                *v += rng.normal() * s.noise;
            }
        }
    }
}

/// Per-vertex Lambert factor for light from the camera's direction (the phone's screen sits
/// beside its camera): the vertex normal's component towards the camera (−z).
fn lambert(points: &[[f32; 3]], triangles: &[[usize; 3]]) -> Vec<f32> {
    let mut normals = vec![[0f32; 3]; points.len()];
    for t in triangles {
        let [a, b, c] = t.map(|i| points[i]);
        let (u, v) = (
            [b[0] - a[0], b[1] - a[1], b[2] - a[2]],
            [c[0] - a[0], c[1] - a[1], c[2] - a[2]],
        );
        let mut n = [
            u[1] * v[2] - u[2] * v[1],
            u[2] * v[0] - u[0] * v[2],
            u[0] * v[1] - u[1] * v[0],
        ];
        // Triangulated in 2-D, so the winding says nothing: orient every face outwards.
        if n[2] > 0.0 {
            n = n.map(|x| -x);
        }
        for &i in t {
            for k in 0..3 {
                normals[i][k] += n[k];
            }
        }
    }
    normals
        .iter()
        .map(|n| {
            let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
            if len > 0.0 {
                (-n[2] / len).max(0.0)
            } else {
                0.0
            }
        })
        .collect()
}

/// The pixel range `values` span, clamped to `0..len`.
fn bounds(values: impl Iterator<Item = f32> + Clone, len: usize) -> (usize, usize) {
    let lo = values.clone().fold(f32::MAX, f32::min).floor().max(0.0) as usize;
    let hi = (values.fold(f32::MIN, f32::max).ceil().max(0.0) as usize).min(len);
    (lo.min(hi), hi)
}

/// Whether (x, y) lies inside the polygon (even–odd rule).
fn inside(polygon: &[[f32; 2]], x: f32, y: f32) -> bool {
    let mut inside = false;
    let n = polygon.len();
    for i in 0..n {
        let (a, b) = (polygon[i], polygon[(i + n - 1) % n]);
        if (a[1] > y) != (b[1] > y) && x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0] {
            inside = !inside;
        }
    }
    inside
}

/// A hand-like patch: a skin-toned rounded palm with finger gaps, in the shadow a hand held
/// in front of a lit face is in.
fn hand(c: &mut Canvas, centre: [f32; 2], width: f32, height: f32) {
    let (rx, ry) = (width / 2.0, height / 2.0);
    let x0 = ((centre[0] - rx).floor().max(0.0)) as usize;
    let x1 = ((centre[0] + rx).ceil().max(0.0) as usize).min(c.w);
    let y0 = ((centre[1] - ry).floor().max(0.0)) as usize;
    let y1 = ((centre[1] + ry).ceil().max(0.0) as usize).min(c.h);
    for y in y0..y1 {
        for x in x0..x1 {
            let (dx, dy) = (
                (x as f32 + 0.5 - centre[0]) / rx,
                (y as f32 + 0.5 - centre[1]) / ry,
            );
            if dx * dx + dy * dy > 1.0 {
                continue;
            }
            // Upper half split into four fingers.
            let finger_gap = dy < -0.1 && ((dx + 1.0) * 2.0).fract() < 0.08;
            if finger_gap {
                continue;
            }
            let shade = 1.0 - 0.25 * (dx * dx + dy * dy);
            let k = (y * c.w + x) * 3;
            c.rgb[k..k + 3].copy_from_slice(&[150.0 * shade, 108.0 * shade, 88.0 * shade]);
        }
    }
}

impl RgbImage {
    /// Re-encodes as JPEG at `quality` (1..=100; below 1 leaves the image unchanged).
    pub fn with_jpeg(self, quality: f32) -> RgbImage {
        if quality < 1.0 {
            return self;
        }
        let mut bytes = Vec::new();
        let q = quality.clamp(1.0, 100.0) as u8;
        let encoded = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, q).encode(
            &self.rgb,
            self.width,
            self.height,
            image::ExtendedColorType::Rgb8,
        );
        match encoded
            .ok()
            .and_then(|()| image::load_from_memory(&bytes).ok())
        {
            Some(img) => {
                let img = img.to_rgb8();
                RgbImage {
                    width: img.width(),
                    height: img.height(),
                    rgb: img.into_raw(),
                }
            }
            None => self,
        }
    }
}

#[cfg(test)]
mod noise_tests {
    use super::Rng;

    #[test]
    fn noise_is_centred_with_unit_variance() {
        let mut r = Rng::new(9);
        let n = 200_000;
        let xs: Vec<f32> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f32>() / n as f32;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n as f32;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
    }
}
