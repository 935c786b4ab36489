//! Image previews: dimensions and a small thumbnail, made on a blocking thread (image
//! decoding would stall the async runtime), with the orientation applied and every
//! piece of metadata left behind (the thumbnail is a fresh encoding of the pixels).

use std::io::{BufReader, Cursor};
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The longest side of a thumbnail, in pixels.
const THUMB: u32 = 320;

pub struct Preview {
    pub width: u32,
    pub height: u32,
    /// JPEG for opaque images, PNG when there is transparency.
    pub thumbnail: Vec<u8>,
}

#[derive(Debug)]
pub enum PreviewError {
    /// More pixels than allowed: refused, not decoded.
    TooManyPixels { width: u32, height: u32 },
    /// Not an image we can read after all.
    Unreadable,
}

/// The image types we make previews of.
pub fn is_previewable(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/jpeg" | "image/png" | "image/gif" | "image/webp"
    )
}

/// Reads the image at `path` (its type already sniffed) and makes its preview.
/// The pixel count is checked from the header, before anything is decoded.
pub fn make(path: &Path, content_type: &str, max_pixels: u64) -> Result<Preview, PreviewError> {
    let format = match content_type {
        "image/jpeg" => ImageFormat::Jpeg,
        "image/png" => ImageFormat::Png,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::WebP,
        _ => return Err(PreviewError::Unreadable),
    };
    let open = || -> Result<ImageReader<BufReader<std::fs::File>>, PreviewError> {
        let file = std::fs::File::open(path).map_err(|_| PreviewError::Unreadable)?;
        let mut reader = ImageReader::with_format(BufReader::new(file), format);
        let mut limits = Limits::default();
        limits.max_alloc = Some(max_pixels.saturating_mul(4).max(64 * 1024 * 1024));
        reader.limits(limits);
        Ok(reader)
    };
    let (width, height) = open()?
        .into_dimensions()
        .map_err(|_| PreviewError::Unreadable)?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(PreviewError::TooManyPixels { width, height });
    }
    let mut decoder = open()?
        .into_decoder()
        .map_err(|_| PreviewError::Unreadable)?;
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|_| PreviewError::Unreadable)?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    let small = image.thumbnail(THUMB, THUMB);
    let mut thumbnail = Vec::new();
    let written = if small.color().has_alpha() {
        small.write_to(&mut Cursor::new(&mut thumbnail), ImageFormat::Png)
    } else {
        DynamicImage::ImageRgb8(small.to_rgb8())
            .write_to(&mut Cursor::new(&mut thumbnail), ImageFormat::Jpeg)
    };
    written.map_err(|_| PreviewError::Unreadable)?;
    Ok(Preview {
        width: image.width(),
        height: image.height(),
        thumbnail,
    })
}

/// The type of a thumbnail, from its first bytes.
pub fn thumbnail_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(&[0x89, b'P', b'N', b'G']) {
        "image/png"
    } else {
        "image/jpeg"
    }
}
