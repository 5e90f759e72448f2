//! What a JPEG says about itself before anyone decodes it: its pixel size, read from the
//! frame header. A server that decodes an upload trusts this size with its memory (a
//! 148-byte file can claim 23000×23000 pixels and take gigabytes to decode), so uploads are
//! held to the size their manifest declares before a decoder ever sees them.

/// Width and height from a baseline, extended or progressive JPEG's frame header (SOF), or
/// `None` if `bytes` is not a JPEG with one before its scan data.
pub fn dimensions(bytes: &[u8]) -> Option<(u16, u16)> {
    if bytes.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut at = 2;
    loop {
        // Markers may be padded with any number of 0xFF bytes.
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        while *bytes.get(at)? == 0xFF {
            at += 1;
        }
        let marker = *bytes.get(at)?;
        at += 1;
        match marker {
            // Standalone markers carry no length.
            0x01 | 0xD0..=0xD7 => continue,
            // End of image or start of scan before any frame header: no size to trust.
            0xD9 | 0xDA => return None,
            _ => {}
        }
        let length = usize::from(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]));
        if length < 2 {
            return None;
        }
        // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let header = bytes.get(at + 2..at + 7)?;
            let height = u16::from_be_bytes([header[1], header[2]]);
            let width = u16::from_be_bytes([header[3], header[4]]);
            return Some((width, height));
        }
        at += length;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOI, an APP0 segment, then SOF0 claiming `w`×`h`, then EOI: a header with no image.
    fn header(marker: u8, w: u16, h: u16) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x4A, 0x46];
        b.extend([0xFF, 0xFF, marker, 0x00, 0x0B, 0x08]);
        b.extend(h.to_be_bytes());
        b.extend(w.to_be_bytes());
        b.extend([0x01, 0x01, 0x11, 0x00, 0xFF, 0xD9]);
        b
    }

    #[test]
    fn reads_the_size_a_header_claims_without_decoding() {
        assert_eq!(
            dimensions(&header(0xC0, 23000, 23000)),
            Some((23000, 23000))
        );
        assert_eq!(dimensions(&header(0xC2, 640, 480)), Some((640, 480)));
    }

    #[test]
    fn anything_else_has_no_size() {
        assert_eq!(dimensions(b""), None);
        assert_eq!(dimensions(b"<html><script>alert(1)</script>"), None);
        assert_eq!(dimensions(&[0xFF, 0xD8, 0xFF, 0xD9]), None);
        // DHT is not a frame header.
        assert_eq!(dimensions(&header(0xC4, 64, 64)), None);
        let mut cut = header(0xC0, 64, 64);
        cut.truncate(12);
        assert_eq!(dimensions(&cut), None);
        assert_eq!(dimensions(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x00]), None);
    }
}
