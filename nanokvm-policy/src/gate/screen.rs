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
use fast_image_resize::{PixelType, ResizeOptions, Resizer};
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

/// A rectangle of the captured screen, in its pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Region {
    /// Pixels from the left edge.
    pub x: u32,
    /// Pixels from the top edge.
    pub y: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Region {
    /// The whole of a screen of `size`.
    #[must_use]
    pub fn whole(size: ScreenSize) -> Self {
        Self {
            x: 0,
            y: 0,
            width: size.width,
            height: size.height,
        }
    }
}

/// What a caller's last screenshot showed: a region of a captured screen. Pixels of
/// the screenshot map onto the region, not onto the whole screen, when it was cropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct View {
    /// The part of the screen the screenshot showed.
    pub region: Region,
    /// The captured screen's size.
    pub source: ScreenSize,
}

impl View {
    /// The screen rectangle under the rectangle (`x`, `y`, `width`, `height`) of a
    /// screenshot of `frame` size showing this view.
    #[must_use]
    pub fn region_to_source(
        &self,
        (x, y, width, height): (u32, u32, u32, u32),
        frame: ScreenSize,
    ) -> Region {
        let map = |p: u64, from: u32, offset: u32, span: u32| {
            u64::from(offset) + p * u64::from(span) / u64::from(from.max(1))
        };
        let x0 = map(u64::from(x), frame.width, self.region.x, self.region.width);
        let y0 = map(
            u64::from(y),
            frame.height,
            self.region.y,
            self.region.height,
        );
        let x1 = map(
            u64::from(x) + u64::from(width),
            frame.width,
            self.region.x,
            self.region.width,
        );
        let y1 = map(
            u64::from(y) + u64::from(height),
            frame.height,
            self.region.y,
            self.region.height,
        );
        let side = |a: u64, b: u64| u32::try_from(b.saturating_sub(a).max(1)).unwrap_or(u32::MAX);
        Region {
            x: u32::try_from(x0).unwrap_or(u32::MAX),
            y: u32::try_from(y0).unwrap_or(u32::MAX),
            width: side(x0, x1),
            height: side(y0, y1),
        }
    }

    /// The screen pixel under pixel (`x`, `y`) of a screenshot of `frame` size showing
    /// this view.
    #[must_use]
    pub fn to_source(&self, x: u32, y: u32, frame: ScreenSize) -> (u32, u32) {
        let map = |p: u32, from: u32, offset: u32, span: u32| {
            let scaled = u64::from(p) * u64::from(span) / u64::from(from.max(1));
            offset.saturating_add(u32::try_from(scaled).unwrap_or(u32::MAX))
        };
        (
            map(x, frame.width, self.region.x, self.region.width)
                .min(self.source.width.saturating_sub(1)),
            map(y, frame.height, self.region.y, self.region.height)
                .min(self.source.height.saturating_sub(1)),
        )
    }
}

/// A screenshot as returned to the caller.
#[derive(Debug)]
pub(crate) struct Shot {
    pub(crate) jpeg: Vec<u8>,
    /// The returned image's size.
    pub(crate) size: ScreenSize,
    /// The size the device captured.
    pub(crate) source: ScreenSize,
    /// The part of the captured screen the image shows.
    pub(crate) region: Region,
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
#[cfg(test)]
pub(crate) fn fit(jpeg: Vec<u8>, max: ScreenSize, quality: u8) -> Result<Shot, String> {
    fit_region(jpeg, None, max, quality)
}

/// The `crop` region of `jpeg` (the whole image when `None`; clamped to the image),
/// scaled down to fit `max`, at `quality` when it had to be encoded again.
pub(crate) fn fit_region(
    jpeg: Vec<u8>,
    crop: Option<Region>,
    max: ScreenSize,
    quality: u8,
) -> Result<Shot, String> {
    let source = jpeg_size(&jpeg)?;
    let region = clamp(crop.unwrap_or(Region::whole(source)), source);
    let shown = ScreenSize {
        width: region.width,
        height: region.height,
    };
    let size = fitted(shown, max);
    if region == Region::whole(source) && size == source {
        return Ok(Shot {
            jpeg,
            size,
            source,
            region,
        });
    }
    let too_big = |_| "the screen is larger than a JPEG can be".to_owned();
    let mut decoder = Decoder::new(jpeg.as_slice());
    // DCT scaling: decode at the smallest of 1/8, 1/4, 1/2 or 1 that still gives the
    // region enough pixels, which is most of the work saved.
    let wanted = |out: u32, part: u32, whole: u32| {
        let n = u64::from(out) * u64::from(whole) / u64::from(part.max(1));
        u16::try_from(n.max(1)).map_err(too_big)
    };
    let (w, h) = decoder
        .scale(
            wanted(size.width, region.width, source.width)?,
            wanted(size.height, region.height, source.height)?,
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
    let (fx, fy) = (
        f64::from(w) / f64::from(source.width),
        f64::from(h) / f64::from(source.height),
    );
    let options = ResizeOptions::new().crop(
        f64::from(region.x) * fx,
        f64::from(region.y) * fy,
        f64::from(region.width) * fx,
        f64::from(region.height) * fy,
    );
    Resizer::new()
        .resize(&src, &mut dst, &options)
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
        region,
    })
}

/// `region` cut to the screen, at least one pixel each way.
fn clamp(region: Region, screen: ScreenSize) -> Region {
    let x = region.x.min(screen.width.saturating_sub(1));
    let y = region.y.min(screen.height.saturating_sub(1));
    Region {
        x,
        y,
        width: region.width.clamp(1, screen.width - x),
        height: region.height.clamp(1, screen.height - y),
    }
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
    fn a_region_is_cut_out_and_scaled_and_maps_back() {
        let region = Region {
            x: 320,
            y: 200,
            width: 320,
            height: 200,
        };
        let shot = fit_region(jpeg(640, 400), Some(region), size(1920, 1080), 80).expect("crops");
        assert_eq!((shot.size, shot.region), (size(320, 200), region));
        assert_eq!(jpeg_size(&shot.jpeg), Ok(size(320, 200)));
        let small =
            fit_region(jpeg(640, 400), Some(region), size(160, 160), 80).expect("crops and scales");
        assert_eq!(small.size, size(160, 100));
        // Pixel (80, 50) of the 160x100 image is the region's centre.
        let view = View {
            region,
            source: size(640, 400),
        };
        assert_eq!(view.to_source(80, 50, small.size), (480, 300));
        assert_eq!(view.to_source(0, 0, small.size), (320, 200));
        // A region past the edge is cut to the screen.
        let edge = Region {
            x: 600,
            y: 390,
            width: 100,
            height: 100,
        };
        let cut = fit_region(jpeg(640, 400), Some(edge), size(1920, 1080), 80).expect("cut");
        assert_eq!(
            cut.region,
            Region {
                x: 600,
                y: 390,
                width: 40,
                height: 10
            }
        );
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
