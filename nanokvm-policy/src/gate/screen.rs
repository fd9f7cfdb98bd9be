//! The screen as callers see it: screenshots scaled down to the size a caller asked for,
//! and the frame that pointer coordinates in pixels refer to.
//!
//! A caller points at what it saw. An agent that was shown a 1280x720 screenshot of a
//! 1920x1080 screen and clicks pixel (640, 360) means the centre, so pixel coordinates
//! are read in the frame of the caller's last screenshot ([`CallContext::screen`]), or
//! the configured screen size, or the size of the last frame the device captured, or
//! 1920x1080 when nothing is known.
//!
//! A screenshot that fits the asked size is returned exactly as the device sent it,
//! without decoding; a larger one is decoded (with the JPEG decoder's DCT scaling, so a
//! 4K frame is decoded at half size or less), resized with `fast_image_resize` to fit,
//! keeping the aspect ratio, and encoded again at the asked quality.
//!
//! [`CallContext::screen`]: super::CallContext::screen

use fast_image_resize::images::Image;
use fast_image_resize::{PixelType, Resizer};
use jpeg_decoder::{Decoder, PixelFormat};
use serde::Serialize;

/// A screen size in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ScreenSize {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl ScreenSize {
    /// The size assumed when nothing better is known: 1920x1080.
    pub const DEFAULT: Self = Self {
        width: 1920,
        height: 1080,
    };
}

/// A screenshot as returned to the caller.
#[derive(Debug)]
pub(crate) struct Shot {
    pub(crate) jpeg: Vec<u8>,
    /// The returned image's size.
    pub(crate) size: ScreenSize,
    /// The size the device captured.
    pub(crate) source: ScreenSize,
}

/// The size of a JPEG image, from its header.
pub(crate) fn jpeg_size(jpeg: &[u8]) -> Result<ScreenSize, String> {
    let mut decoder = Decoder::new(jpeg);
    decoder.read_info().map_err(|e| e.to_string())?;
    let info = decoder.info().ok_or("the JPEG has no frame header")?;
    Ok(ScreenSize {
        width: u32::from(info.width),
        height: u32::from(info.height),
    })
}

/// The largest size with `source`'s aspect ratio that fits in `max`.
fn fitted(source: ScreenSize, max: ScreenSize) -> ScreenSize {
    if source.width <= max.width && source.height <= max.height {
        return source;
    }
    let ratio = f64::min(
        f64::from(max.width) / f64::from(source.width),
        f64::from(max.height) / f64::from(source.height),
    );
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "the ratio is below 1, so the result lies in 1..=source"
    )]
    let side = |n: u32| ((f64::from(n) * ratio).round() as u32).max(1);
    ScreenSize {
        width: side(source.width).min(max.width),
        height: side(source.height).min(max.height),
    }
}

/// `jpeg` scaled down to fit `max`, at `quality` when it had to be encoded again.
pub(crate) fn fit(jpeg: Vec<u8>, max: ScreenSize, quality: u8) -> Result<Shot, String> {
    let source = jpeg_size(&jpeg)?;
    let size = fitted(source, max);
    if size == source {
        return Ok(Shot { jpeg, size, source });
    }
    let too_big = |_| "the screen is larger than a JPEG can be".to_owned();
    let mut decoder = Decoder::new(jpeg.as_slice());
    // DCT scaling: decode at the smallest of 1/8, 1/4, 1/2 or 1 that is still large
    // enough, which is most of the work saved.
    let (w, h) = decoder
        .scale(
            u16::try_from(size.width).map_err(too_big)?,
            u16::try_from(size.height).map_err(too_big)?,
        )
        .map_err(|e| e.to_string())?;
    let pixels = decoder.decode().map_err(|e| e.to_string())?;
    let format = decoder.info().map(|i| i.pixel_format);
    let (pixel_type, color) = match format {
        Some(PixelFormat::RGB24) => (PixelType::U8x3, jpeg_encoder::ColorType::Rgb),
        Some(PixelFormat::L8) => (PixelType::U8, jpeg_encoder::ColorType::Luma),
        other => return Err(format!("unsupported JPEG pixel format {other:?}")),
    };
    let src = Image::from_vec_u8(u32::from(w), u32::from(h), pixels, pixel_type)
        .map_err(|e| e.to_string())?;
    let mut dst = Image::new(size.width, size.height, pixel_type);
    Resizer::new()
        .resize(&src, &mut dst, None)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(jpeg.len() / 2);
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(
            dst.buffer(),
            u16::try_from(size.width).map_err(too_big)?,
            u16::try_from(size.height).map_err(too_big)?,
            color,
        )
        .map_err(|e| e.to_string())?;
    Ok(Shot {
        jpeg: out,
        size,
        source,
    })
}

/// A small greyscale image of a frame, for telling whether the screen changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Thumbnail {
    width: u16,
    height: u16,
    luma: Vec<u8>,
}

/// Decodes `jpeg` at 1/8 scale (the DCT's own scaling, so it is cheap) into greyscale.
pub(crate) fn thumbnail(jpeg: &[u8]) -> Result<Thumbnail, String> {
    let mut decoder = Decoder::new(jpeg);
    decoder.read_info().map_err(|e| e.to_string())?;
    let (width, height) = decoder.scale(1, 1).map_err(|e| e.to_string())?;
    let pixels = decoder.decode().map_err(|e| e.to_string())?;
    let luma = match decoder.info().map(|i| i.pixel_format) {
        Some(PixelFormat::L8) => pixels,
        Some(PixelFormat::RGB24) => pixels
            .chunks_exact(3)
            .map(|p| {
                let sum = u16::from(p[0]) + u16::from(p[1]) + u16::from(p[2]);
                u8::try_from(sum / 3).unwrap_or(u8::MAX)
            })
            .collect(),
        other => return Err(format!("unsupported JPEG pixel format {other:?}")),
    };
    Ok(Thumbnail {
        width,
        height,
        luma,
    })
}

/// Whether two thumbnails show different screens: another size, or a mean difference
/// above what JPEG noise and capture noise make.
pub(crate) fn differs(a: &Thumbnail, b: &Thumbnail) -> bool {
    if (a.width, a.height) != (b.width, b.height) || a.luma.len() != b.luma.len() {
        return true;
    }
    if a.luma.is_empty() {
        return false;
    }
    let total: u64 = a
        .luma
        .iter()
        .zip(&b.luma)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    // Any pixel that changed a lot counts too, so a small dialog or a blinking cursor
    // on a big screen is seen.
    let spot = a.luma.iter().zip(&b.luma).any(|(x, y)| x.abs_diff(*y) > 48);
    spot || total > 2 * a.luma.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(width: u32, height: u32) -> ScreenSize {
        ScreenSize { width, height }
    }

    #[test]
    fn sizes_fit_and_keep_their_aspect() {
        let hd = size(1920, 1080);
        assert_eq!(fitted(size(1280, 720), hd), size(1280, 720));
        assert_eq!(fitted(size(3840, 2160), hd), hd);
        assert_eq!(fitted(size(1920, 1080), size(1280, 1280)), size(1280, 720));
        assert_eq!(fitted(size(1024, 768), size(512, 100)), size(133, 100));
        assert_eq!(fitted(size(5000, 10), size(16, 16)), size(16, 1));
    }

    fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let pixels: Vec<u8> = (0..usize::from(width) * usize::from(height))
            .flat_map(|i| {
                let v = u8::try_from(i % 251).unwrap_or(0);
                [v, v / 2, 255 - v]
            })
            .collect();
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 90)
            .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
            .expect("encodes");
        out
    }

    #[test]
    fn an_image_that_fits_is_returned_untouched() {
        let original = jpeg(320, 200);
        let shot = fit(original.clone(), size(320, 200), 50).expect("fits");
        assert_eq!(shot.jpeg, original);
        assert_eq!((shot.size, shot.source), (size(320, 200), size(320, 200)));
    }

    #[test]
    fn a_larger_image_is_scaled_to_fit() {
        let shot = fit(jpeg(640, 400), size(200, 200), 70).expect("scales");
        assert_eq!(shot.size, size(200, 125));
        assert_eq!(shot.source, size(640, 400));
        assert_eq!(jpeg_size(&shot.jpeg), Ok(size(200, 125)));
    }

    #[test]
    fn thumbnails_tell_a_changed_screen_from_the_same_one() {
        let a = thumbnail(&jpeg(320, 200)).expect("decodes");
        assert_eq!((a.width, a.height), (40, 25));
        assert!(!differs(&a, &a.clone()));
        let mut other = a.clone();
        other.luma[7] = other.luma[7].wrapping_add(128);
        assert!(differs(&a, &other));
        let b = thumbnail(&jpeg(640, 400)).expect("decodes");
        assert!(differs(&a, &b));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(fit(vec![0xFF, 0xD8, 0, 1, 2], size(10, 10), 80).is_err());
        assert!(jpeg_size(b"not a jpeg").is_err());
    }
}
