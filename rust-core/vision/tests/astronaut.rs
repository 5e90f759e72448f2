//! The pipeline on a real photo (the public-domain astronaut portrait) and variants of it.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use liveness_frame::{OwnedFrame, PixelFormat, Rotation};
use liveness_vision::{PipelineConfig, landmarks as lm};

fn dist(a: [f32; 2], b: [f32; 3]) -> f32 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

#[test]
fn finds_the_face_and_puts_eye_points_on_the_eyes() {
    let mut p = pipeline();
    let out = p.process(&frame(astronaut())).unwrap();
    assert_eq!(out.face_count, 1);
    let face = out.face.unwrap();
    let d = face.detection.clone().unwrap();
    let [x, y, w, h] = d.bbox;
    for eye in [RIGHT_EYE, LEFT_EYE] {
        assert!(
            eye[0] > x && eye[0] < x + w && eye[1] > y && eye[1] < y + h,
            "{:?}",
            d.bbox
        );
    }
    assert!((60.0..160.0).contains(&w), "{:?}", d.bbox);
    let pts = &face.mesh.points;
    assert_eq!(pts.len(), 468);
    assert!(face.mesh.presence > 0.9, "{}", face.mesh.presence);
    // Centre of each eye's outline vs the hand-measured eye centre.
    let centre = |a: usize, b: usize| {
        [
            (pts[a][0] + pts[b][0]) / 2.0,
            (pts[a][1] + pts[b][1]) / 2.0,
            0.0,
        ]
    };
    let r = centre(lm::RIGHT_EYE_OUTER, lm::RIGHT_EYE_INNER);
    let l = centre(lm::LEFT_EYE_OUTER, lm::LEFT_EYE_INNER);
    assert!(dist(RIGHT_EYE, r) < 6.0, "right eye at {r:?}");
    assert!(dist(LEFT_EYE, l) < 6.0, "left eye at {l:?}");
    let s = &face.signals;
    assert!(
        (0.2..0.45).contains(&s.left_eye_openness) && (0.2..0.45).contains(&s.right_eye_openness),
        "{s:?}"
    );
    assert!(
        s.pose.yaw.abs() < 15.0 && s.pose.roll.abs() < 10.0,
        "{:?}",
        s.pose
    );
    assert!(s.occlusion < 0.34, "{}", s.occlusion);
    assert!(s.brightness > 0.2 && s.sharpness > 0.0, "{s:?}");
}

#[test]
fn iris_refinement_finds_the_pupils() {
    let mut p = pipeline_with(PipelineConfig {
        iris: true,
        ..Default::default()
    });
    let face = p.process(&frame(astronaut())).unwrap().face.unwrap();
    let (right, left) = face.eyes.unwrap();
    for (eye, want) in [(&right, RIGHT_EYE), (&left, LEFT_EYE)] {
        let c = eye.iris[0];
        assert!(
            (c[0] - want[0]).hypot(c[1] - want[1]) < 3.0,
            "iris centre {c:?}, pupil at {want:?}"
        );
        assert!((0.2..0.7).contains(&eye.openness), "{}", eye.openness);
    }
    assert_eq!(face.signals.left_eye_lid, Some(left.openness));
}

#[test]
fn mirroring_flips_yaw_and_swaps_symmetric_landmarks() {
    let img = astronaut();
    let mut p = pipeline();
    let a = p.process(&frame(img)).unwrap().face.unwrap();
    let mut p = pipeline();
    let b = p
        .process(&frame(img).with_mirroring(true))
        .unwrap()
        .face
        .unwrap();
    let (ya, yb) = (a.signals.pose.yaw, b.signals.pose.yaw);
    assert!((ya + yb).abs() < 2.0, "yaw {ya} vs mirrored {yb}");
    assert!((a.signals.pose.roll + b.signals.pose.roll).abs() < 2.0);
    // Every symmetric pair: the subject's right point of the mirror image sits where the
    // left point of the original is, mirrored. This checks the pair table itself.
    let w = img.width as f32;
    let mut worst = 0.0f32;
    for &(r, l) in &lm::SYMMETRIC_PAIRS {
        let orig = a.mesh.points[l];
        let mirr = b.mesh.points[r];
        worst = worst.max((w - orig[0] - mirr[0]).hypot(orig[1] - mirr[1]));
    }
    assert!(worst < 4.0, "worst pair mismatch {worst} px");
}

#[test]
fn rotated_image_shows_roll_and_turned_frames_read_upright() {
    let img = astronaut();
    let base = pipeline()
        .process(&frame(img))
        .unwrap()
        .face
        .unwrap()
        .signals
        .pose
        .roll;
    for deg in [-25.0f32, 20.0] {
        // Rotate the picture content by `deg` (clockwise) about the face.
        let rotated = img.rotated(deg, 222.0, 118.0).unwrap();
        let roll = pipeline()
            .process(&frame(&rotated))
            .unwrap()
            .face
            .unwrap()
            .signals
            .pose
            .roll;
        assert!(
            ((roll - base) - deg).abs() < 4.0,
            "rotated {deg}: roll {roll}, base {base}"
        );
    }
    // A buffer delivered sideways with its rotation tag gives the same upright landmarks.
    let reference = pipeline()
        .process(&frame(img))
        .unwrap()
        .face
        .unwrap()
        .mesh
        .points;
    let (w, h) = (img.width as usize, img.height as usize);
    let mut sideways = vec![0u8; w * h * 3];
    // Rotated counter-clockwise: the camera's R90 buffer for this upright picture.
    for sy in 0..w {
        for sx in 0..h {
            let (x, y) = (w - 1 - sy, sx);
            let (i, o) = ((y * w + x) * 3, (sy * h + sx) * 3);
            sideways[o..o + 3].copy_from_slice(&img.rgb[i..i + 3]);
        }
    }
    let frame = liveness_frame::Frame::rgb8(&sideways, h as u32, w as u32, h * 3)
        .unwrap()
        .with_rotation(Rotation::R90);
    let got = pipeline()
        .process(&frame)
        .unwrap()
        .face
        .unwrap()
        .mesh
        .points;
    let worst = worst_landmark(&reference, &got);
    assert!(worst < 1.0, "R90 buffer: worst landmark {worst} px");
}

#[test]
fn every_frame_format_gives_the_same_landmarks() {
    let img = astronaut();
    let reference = pipeline()
        .process(&frame(img))
        .unwrap()
        .face
        .unwrap()
        .mesh
        .points;
    for format in [
        PixelFormat::Rgba8,
        PixelFormat::Bgra8,
        PixelFormat::Nv21,
        PixelFormat::Nv12,
        PixelFormat::I420,
    ] {
        let owned = OwnedFrame::from_rgb(&img.rgb, img.width, img.height, format).unwrap();
        let got = pipeline()
            .process(&owned.as_frame().unwrap())
            .unwrap()
            .face
            .unwrap()
            .mesh
            .points;
        let worst = worst_landmark(&reference, &got);
        assert!(worst < 1.0, "{format:?}: worst landmark {worst} px");
    }
}

#[test]
fn empty_frame_has_no_face() {
    for value in [0u8, 128, 255] {
        let out = pipeline()
            .process(&frame(&RgbImage::blank(640, 480, value)))
            .unwrap();
        assert_eq!(out.face_count, 0);
        assert!(out.face.is_none());
    }
    let dark = pipeline()
        .process(&frame(&RgbImage::blank(64, 48, 10)))
        .unwrap();
    assert!(dark.frame_brightness < 0.05);
}

#[test]
fn two_faces_are_counted() {
    let mut canvas = placed(0.9, 170.0, 200.0);
    canvas.paste_columns(&placed(0.9, 470.0, 220.0), 320, 640);
    let out = pipeline().process(&frame(&canvas)).unwrap();
    assert_eq!(out.face_count, 2);
    assert!(out.face.is_some());
}

#[test]
fn a_small_face_is_found_or_tracked() {
    // Found directly by the full-range fallback...
    let small = placed(0.45, 320.0, 240.0);
    let out = pipeline().process(&frame(&small)).unwrap();
    assert_eq!(out.face_count, 1, "face of ~45 px not found");
    // ...and without it, tracked as the user moves away.
    let mut p = pipeline_with(PipelineConfig {
        full_range_fallback: false,
        redetect_every: 1000,
        ..Default::default()
    });
    let mut last = None;
    for step in 0..=12 {
        let scale = 1.0 - step as f32 * 0.045;
        let out = p.process(&frame(&placed(scale, 320.0, 240.0))).unwrap();
        last = out.face.map(|f| (f.tracked, f.signals.face_size));
        assert!(last.is_some(), "lost at scale {scale}");
    }
    let (tracked, size) = last.unwrap();
    assert!(tracked && size < 0.25, "{tracked} {size}");
}

#[test]
fn tracking_skips_the_detector_and_stays_on_the_face() {
    let mut p = pipeline();
    let frame_img = placed(1.0, 320.0, 240.0);
    let mut detector_runs = 0;
    let mut first = None;
    for _ in 0..20 {
        let out = p.process(&frame(&frame_img)).unwrap();
        detector_runs += out.detector_ran as u32;
        let pts = out.face.unwrap().mesh.points;
        let f = first.get_or_insert_with(|| pts.clone());
        let drift = worst_landmark(f, &pts);
        assert!(drift < 3.0, "drift {drift}");
    }
    // Frame 0 and then every 15th frame.
    assert_eq!(detector_runs, 2);
}
