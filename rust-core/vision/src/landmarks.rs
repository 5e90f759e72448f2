//! Indices into the 468-point FaceMesh topology. "Left" and "right" are the subject's: the
//! subject's left eye appears on the image's right in an unmirrored frame.

pub const COUNT: usize = 468;

pub const RIGHT_EYE_OUTER: usize = 33;
pub const RIGHT_EYE_INNER: usize = 133;
pub const LEFT_EYE_OUTER: usize = 263;
pub const LEFT_EYE_INNER: usize = 362;
/// Six points per eye for the eye-aspect ratio: outer corner, two upper lid, inner corner,
/// two lower lid (p1..p6 of Soukupová & Čech).
pub const RIGHT_EYE_EAR: [usize; 6] = [33, 160, 158, 133, 153, 144];
pub const LEFT_EYE_EAR: [usize; 6] = [263, 387, 385, 362, 380, 373];
pub const MOUTH_RIGHT: usize = 61;
pub const MOUTH_LEFT: usize = 291;
pub const UPPER_LIP_INNER: usize = 13;
pub const LOWER_LIP_INNER: usize = 14;
pub const FOREHEAD_TOP: usize = 10;
pub const CHIN: usize = 152;
pub const NOSE_TIP: usize = 1;
/// Where the nose meets the upper lip: on the skull, unlike the chin, which drops with the jaw.
pub const SUBNASALE: usize = 2;

/// Points sampled for the skin-consistency occlusion estimate: forehead, both cheeks, nose
/// bridge, nose tip, chin.
pub const SKIN_PATCHES: [usize; 6] = [151, 50, 280, 6, 4, 199];

/// Mirror-image pairs (subject's right, subject's left) from the face oval, eyes, brows and
/// lips of MediaPipe's published FaceMesh contours.
pub const SYMMETRIC_PAIRS: [(usize, usize); 61] = [
    // face oval
    (109, 338),
    (67, 297),
    (103, 332),
    (54, 284),
    (21, 251),
    (162, 389),
    (127, 356),
    (234, 454),
    (93, 323),
    (132, 361),
    (58, 288),
    (172, 397),
    (136, 365),
    (150, 379),
    (149, 378),
    (176, 400),
    (148, 377),
    // eyes
    (33, 263),
    (7, 249),
    (163, 390),
    (144, 373),
    (145, 374),
    (153, 380),
    (154, 381),
    (155, 382),
    (133, 362),
    (246, 466),
    (161, 388),
    (160, 387),
    (159, 386),
    (158, 385),
    (157, 384),
    (173, 398),
    // brows
    (46, 276),
    (53, 283),
    (52, 282),
    (65, 295),
    (55, 285),
    (70, 300),
    (63, 293),
    (105, 334),
    (66, 296),
    (107, 336),
    // lips
    (61, 291),
    (146, 375),
    (91, 321),
    (181, 405),
    (84, 314),
    (185, 409),
    (40, 270),
    (39, 269),
    (37, 267),
    (78, 308),
    (95, 324),
    (88, 318),
    (178, 402),
    (87, 317),
    (191, 415),
    (80, 310),
    (81, 311),
    (82, 312),
];
