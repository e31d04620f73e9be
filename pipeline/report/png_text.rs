//! Text for PNG charts. plotters' own ab_glyph text path places each glyph by its ink box
//! instead of its pen position: it drops the left side bearing, so letters collide ("cl"
//! reads as "d", "analysis" spaces unevenly), and full stops come out raised off the
//! baseline. SVG charts are unaffected (the browser sets their text). plotters has no hook
//! for text but the backend, so `PngBackend` wraps `BitMapBackend`, forwards every drawing
//! call to it and sets text itself with ab_glyph: each glyph at its pen position on a shared
//! baseline, advanced and kerned by the font. Written by hand because no maintained crate
//! draws text into a plotters backend.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use plotters::backend::BitMapBackend;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
    FontStyle, text_anchor::HPos, text_anchor::VPos,
};

/// plotters' layout box is `size / 1.24` high (its ab_glyph `estimate_layout`) and its glyphs
/// hang from a baseline half the font size below the box's top; anchoring and baseline are
/// kept, so text sits where plotters' layout (legends, axis labels) expects it.
const BASELINE_FRACTION: f32 = 0.5;

pub struct PngBackend<'a> {
    inner: BitMapBackend<'a>,
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

impl<'a> PngBackend<'a> {
    /// Wraps a bitmap backend; None when the embedded fonts cannot be parsed.
    pub fn new(inner: BitMapBackend<'a>) -> Option<Self> {
        Some(PngBackend {
            inner,
            regular: FontRef::try_from_slice(dejavu::sans::regular()).ok()?,
            bold: FontRef::try_from_slice(dejavu::sans::bold()).ok()?,
        })
    }

    fn font(&self, style: FontStyle) -> &FontRef<'static> {
        match style {
            FontStyle::Bold => &self.bold,
            _ => &self.regular,
        }
    }
}

/// Each glyph's coverage as (x, y, coverage) relative to the start of the baseline, pen
/// positions advanced and kerned by the font.
fn rasterise(font: &FontRef<'_>, size: f32, text: &str) -> Vec<(i32, i32, f32)> {
    let scaled = font.as_scaled(PxScale::from(size));
    let mut pixels = Vec::new();
    let mut caret = 0.0f32;
    let mut previous = None;
    for character in text.chars() {
        let id = scaled.glyph_id(character);
        if let Some(previous) = previous {
            caret += scaled.kern(previous, id);
        }
        previous = Some(id);
        let glyph = id.with_scale_and_position(PxScale::from(size), point(caret, 0.0));
        if let Some(outlined) = scaled.outline_glyph(glyph) {
            let bounds = outlined.px_bounds();
            outlined.draw(|x, y, coverage| {
                pixels.push((
                    bounds.min.x as i32 + x as i32,
                    bounds.min.y as i32 + y as i32,
                    coverage,
                ));
            });
        }
        caret += scaled.h_advance(id);
    }
    pixels
}

impl DrawingBackend for PngBackend<'_> {
    type ErrorType = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    /// As plotters' default `draw_text` (anchor from the layout box, then the font transform
    /// for rotated labels), with the glyphs from `rasterise`.
    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|error| DrawingErrorKind::FontError(Box::new(error)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let size = style.size() as f32;
        let baseline = (size * BASELINE_FRACTION).round() as i32;
        let transform = style.transform();
        let (canvas_width, canvas_height) = self.get_size();
        for (x, y, coverage) in rasterise(self.font(style.style()), size, text) {
            let (x, y) = transform.transform(x + dx - min_x, y + baseline + dy - min_y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && x < canvas_width as i32 && y >= 0 && y < canvas_height as i32 {
                self.inner
                    .draw_pixel((x, y), color.mix(f64::from(coverage)))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn font() -> FontRef<'static> {
        FontRef::try_from_slice(dejavu::sans::regular()).unwrap()
    }

    fn ink(pixels: &[(i32, i32, f32)]) -> (i32, i32, i32, i32) {
        let inked = pixels.iter().filter(|(_, _, coverage)| *coverage > 0.5);
        inked.fold((i32::MAX, i32::MAX, i32::MIN, i32::MIN), |b, (x, y, _)| {
            (b.0.min(*x), b.1.min(*y), b.2.max(*x), b.3.max(*y))
        })
    }

    #[test]
    fn a_full_stop_sits_on_the_baseline_with_the_letters() {
        // Baseline at y = 0: the bottom of "x" and of "." are both on it (ink ends just
        // above 0), and the full stop's top is well below the x-height.
        let (_, x_top, _, x_bottom) = ink(&rasterise(&font(), 40.0, "x"));
        let stop = rasterise(&font(), 40.0, ".");
        let (_, stop_top, _, stop_bottom) = ink(&stop);
        assert!(
            (x_bottom - stop_bottom).abs() <= 1,
            "{x_bottom} vs {stop_bottom}"
        );
        assert!(
            stop_top > x_top + 10,
            "full stop top {stop_top}, x top {x_top}"
        );
    }

    #[test]
    fn letters_keep_their_side_bearings() {
        // In "cl" the l starts after the c's advance plus the l's own left side bearing,
        // so the two never touch (plotters' path drew "cl" as "d").
        let font = font();
        let (_, _, c_right, _) = ink(&rasterise(&font, 40.0, "c"));
        let both = rasterise(&font, 40.0, "cl");
        let scaled = font.as_scaled(PxScale::from(40.0));
        let advance = scaled.h_advance(scaled.glyph_id('c')).round() as i32;
        let l_left = both
            .iter()
            .filter(|(x, _, coverage)| *x >= advance - 1 && *coverage > 0.5)
            .map(|(x, _, _)| *x)
            .min()
            .unwrap();
        assert!(
            l_left > c_right + 2,
            "l starts at {l_left}, c ends at {c_right}"
        );
    }
}
