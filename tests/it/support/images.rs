//! Real images for tests, encoded here with the same crate the media store decodes with: the
//! media store proves every upload is an image by decoding it in full, so header-only fakes no
//! longer pass. An image encoded by `image`'s PNG encoder from RGB pixels re-encodes to the
//! same bytes, so a test may compare what it sent with what was stored.

use std::io::Cursor;

/// A `width` x `height` PNG; `shade` makes otherwise equal images differ.
pub fn png(width: u32, height: u32, shade: u8) -> Vec<u8> {
    let pixels = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, shade]));
    let mut out = Cursor::new(Vec::new());
    pixels.write_to(&mut out, image::ImageFormat::Png).expect("encoding a PNG in memory");
    out.into_inner()
}
