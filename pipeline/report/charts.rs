//! Charts for the published report, drawn with plotters as SVG (inlined in report.html and
//! written to `published/charts/*.svg`) and PNG (`published/charts/*.png`) from one drawing
//! routine per chart kind.
//!
//! This file owns only drawing. The numbers arrive already disclosure-controlled and
//! formatted by `report::content` (bar heights of suppressed counts are zero and their labels
//! "*"); nothing here reads results or computes an estimate. Every chart has a title, axis
//! labels with units and a source/notes line, in the Okabe-Ito colour-blind-safe palette.
//! Text is set in DejaVu Sans, embedded in the binary (no fontconfig needed).

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};

/// Okabe & Ito (2008) colour-blind-safe palette.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(120, 120, 120), // grey
];
const GREY: RGBColor = RGBColor(110, 110, 110);
/// Grid lines: faint major lines and one fainter minor line between them, so the grid guides
/// the eye without competing with the data (and survives greyscale print).
const MAJOR_GRID: RGBColor = RGBColor(220, 220, 220);
const MINOR_GRID: RGBColor = RGBColor(243, 243, 243);
const MINOR_LINES: usize = 1;
const FONT: &str = "sans-serif";
const WIDTH: u32 = 960;
const FOOTER_PX: u32 = 48;

/// One chart: what it shows and the file stem it is written under.
#[derive(Debug, Clone)]
pub struct Chart {
    pub name: String,
    pub title: String,
    pub note: String,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub enum Kind {
    /// Horizontal bars, one row each, from `start` to `end`, with `text` beside the bar.
    Bars {
        rows: Vec<Bar>,
        x_label: String,
        reference: Option<f64>,
    },
    /// A dot (with an optional interval) per row and series: forest and love plots.
    Dots {
        rows: Vec<DotRow>,
        series: Vec<String>,
        x_label: String,
        references: Vec<f64>,
    },
    /// Lines over a numeric x, with optional bands and marker lines.
    Lines {
        series: Vec<Line>,
        x_label: String,
        y_label: String,
        vertical: Vec<(f64, String)>,
        horizontal: Option<f64>,
        markers: Vec<(f64, f64, String)>,
        /// A fixed y axis (probabilities: 0 to 100%), else fitted to the data.
        y_range: Option<(f64, f64)>,
    },
    /// Vertical bars over numeric bins.
    Histogram {
        bins: Vec<Bin>,
        x_label: String,
        y_label: String,
        vertical: Vec<(f64, String)>,
    },
}

#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub colour: usize,
}

/// A value with an optional (low, high) interval.
pub type Estimate = (f64, Option<(f64, f64)>);

#[derive(Debug, Clone)]
pub struct DotRow {
    pub label: String,
    /// One entry per series: (value, optional interval).
    pub points: Vec<Option<Estimate>>,
}

#[derive(Debug, Clone)]
pub struct Line {
    pub name: String,
    pub colour: usize,
    pub points: Vec<(f64, f64)>,
    /// (x, low, high) of a confidence band.
    pub band: Vec<(f64, f64, f64)>,
    pub stroke: Stroke,
}

/// How a line's points are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stroke {
    Solid,
    /// Scenarios and control limits: assumptions or bounds, not estimates.
    Dashed,
    /// Points only, unjoined: units on a funnel plot.
    Points,
    /// Many small translucent points: the draws of a simulation.
    Cloud,
}

#[derive(Debug, Clone)]
pub struct Bin {
    pub from: f64,
    pub to: f64,
    pub height: f64,
    pub text: String,
}

/// Draws `text` at a backend (absolute) pixel position, as `ChartContext::backend_coord`
/// returns them; `DrawingArea::draw_text` takes positions relative to the area.
fn text_at<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    (x, y): (i32, i32),
) -> std::result::Result<(), String> {
    let (base_x, base_y) = area.get_base_pixel();
    area.draw_text(text, style, (x - base_x, y - base_y))
        .map_err(|error| error.to_string())
}

/// Tick labels with as many decimals as the axis range needs.
fn tick(range: f64) -> impl Fn(&f64) -> String {
    let places = if range >= 20.0 {
        0
    } else if range >= 2.0 {
        1
    } else {
        2
    };
    move |value: &f64| format!("{value:.places$}")
}

/// Splits a note into lines of at most `width` characters, at spaces.
fn wrap(note: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in note.split(' ') {
        match lines.last_mut() {
            Some(line) if line.len() + 1 + word.len() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

fn style(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font())
}

/// Registers the embedded font once; plotters needs it before any text (SVG too).
fn register_fonts() -> Result<()> {
    // The outcome is kept, so a failure is reported on every call, not only the first.
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if !registered {
        return Err(Error::Usage(
            "the embedded DejaVu font could not be loaded".into(),
        ));
    }
    Ok(())
}

impl Chart {
    fn height(&self) -> u32 {
        let rows = match &self.kind {
            Kind::Bars { rows, .. } => rows.len() as f64,
            Kind::Dots { rows, series, .. } => rows.len() as f64 + legend_rows(series.len()),
            _ => return 460,
        };
        (160 + (30.0 * rows).round() as u32).max(260) + FOOTER_PX
    }

    /// Draws the chart as SVG text (inlined in report.html, and written as a file when asked).
    pub fn svg(&self) -> Result<String> {
        register_fonts()?;
        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (WIDTH, self.height())).into_drawing_area();
            self.draw(&root).map_err(|reason| self.failed(&reason))?;
            root.present()
                .map_err(|error| self.failed(&error.to_string()))?;
        }
        Ok(svg)
    }

    /// Draws the chart as `<dir>/<name>.png`.
    pub fn write_png(&self, dir: &Path) -> Result<()> {
        register_fonts()?;
        let path = dir.join(format!("{}.png", self.name));
        let bitmap = BitMapBackend::new(&path, (WIDTH, self.height()));
        let backend = super::png_text::PngBackend::new(bitmap)
            .ok_or_else(|| Error::Usage("the embedded DejaVu font could not be loaded".into()))?;
        let root = backend.into_drawing_area();
        self.draw(&root).map_err(|reason| self.failed(&reason))?;
        root.present()
            .map_err(|error| self.failed(&error.to_string()))
    }

    fn failed(&self, reason: &str) -> Error {
        Error::Usage(format!("drawing chart '{}': {reason}", self.name))
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let text = |error: DrawingAreaErrorKind<DB::ErrorType>| error.to_string();
        root.fill(&WHITE).map_err(text)?;
        let (_, height) = root.dim_in_pixel();
        let (plot, footer) = root.split_vertically(height - FOOTER_PX);
        for (index, line) in wrap(&self.note, 125).iter().take(2).enumerate() {
            footer
                .draw_text(
                    line,
                    &(FONT, 13).into_font().color(&GREY),
                    (12, 6 + 18 * index as i32),
                )
                .map_err(text)?;
        }
        let plot = plot
            .titled(&self.title, (FONT, 20).into_font().style(FontStyle::Bold))
            .map_err(text)?;
        match &self.kind {
            Kind::Bars {
                rows,
                x_label,
                reference,
            } => draw_bars(&plot, rows, x_label, *reference),
            Kind::Dots {
                rows,
                series,
                x_label,
                references,
            } => draw_dots(&plot, rows, series, x_label, references),
            Kind::Lines {
                series,
                x_label,
                y_label,
                vertical,
                horizontal,
                markers,
                y_range,
            } => draw_lines(
                &plot,
                series,
                (x_label, y_label),
                vertical,
                *horizontal,
                markers,
                *y_range,
            ),
            Kind::Histogram {
                bins,
                x_label,
                y_label,
                vertical,
            } => draw_histogram(&plot, bins, x_label, y_label, vertical),
        }
    }
}

/// (min, max) of finite values, widened by 5% on each side (and to include `always`).
fn padded_range(values: impl Iterator<Item = f64>, always: &[f64]) -> (f64, f64) {
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for value in values
        .chain(always.iter().copied())
        .filter(|v| v.is_finite())
    {
        low = low.min(value);
        high = high.max(value);
    }
    if !low.is_finite() {
        return (0.0, 1.0);
    }
    if high - low < 1e-9 {
        return (low - 1.0, high + 1.0);
    }
    let pad = (high - low) * 0.05;
    (low - pad, high + pad)
}

fn label_width(labels: impl Iterator<Item = usize>) -> u32 {
    (labels.max().unwrap_or(10) as u32 * 8 + 16).clamp(80, 340)
}

type RowChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Rows of empty space kept above the data for a legend of `series` entries (none for one
/// series), so the legend never covers an estimate or its interval.
/// The outline (pixels about the point) of a dot series' marker: a shape per series as
/// well as a colour, so the series stay apart in greyscale print (some Okabe-Ito colours are
/// of near-equal lightness): circle, square, triangle, diamond.
fn marker_outline(series: usize) -> Vec<(i32, i32)> {
    match series % 4 {
        0 => (0..16)
            .map(|step| {
                let angle = f64::from(step) * std::f64::consts::PI / 8.0;
                (
                    (5.5 * angle.cos()).round() as i32,
                    (5.5 * angle.sin()).round() as i32,
                )
            })
            .collect(),
        1 => vec![(-5, -5), (5, -5), (5, 5), (-5, 5)],
        2 => vec![(0, -7), (6, 5), (-6, 5)],
        _ => vec![(0, -7), (7, 0), (0, 7), (-7, 0)],
    }
}

fn legend_rows(series: usize) -> f64 {
    if series > 1 {
        0.65 * series as f64
    } else {
        0.0
    }
}

/// A chart with one row per label (row 0 at the top) over x in `x_range`, with `headroom`
/// empty rows above them: axes, x label and the row labels are drawn; the caller adds bars or
/// dots at y = rows - 1 - index.
fn row_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    labels: &[&str],
    (x_low, x_high): (f64, f64),
    x_label: &str,
    headroom: f64,
) -> std::result::Result<RowChart<'a, DB>, String> {
    let text = |error: DrawingAreaErrorKind<DB::ErrorType>| error.to_string();
    let n = labels.len().max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(label_width(labels.iter().map(|label| label.len())))
        .build_cartesian_2d(x_low..x_high, -0.6..n - 0.4 + headroom)
        .map_err(text)?;
    let x_tick = tick(x_high - x_low);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .light_line_style(MINOR_GRID)
        .max_light_lines(MINOR_LINES)
        .bold_line_style(MAJOR_GRID)
        .x_label_formatter(&x_tick)
        .x_desc(x_label)
        .axis_desc_style((FONT, 15))
        .label_style((FONT, 13))
        .draw()
        .map_err(text)?;
    for (index, label) in labels.iter().enumerate() {
        let (x, y_px) = chart.backend_coord(&(x_low, n - 1.0 - index as f64));
        text_at(
            area,
            label,
            &style(14).pos(Pos::new(HPos::Right, VPos::Center)),
            (x - 8, y_px),
        )?;
    }
    Ok(chart)
}

/// The series legend, boxed, at `position`.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> std::result::Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(GREY)
        .label_font((FONT, 13))
        .draw()
        .map_err(|error| error.to_string())
}

fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rows: &[Bar],
    x_label: &str,
    reference: Option<f64>,
) -> std::result::Result<(), String> {
    let text = |error: DrawingAreaErrorKind<DB::ErrorType>| error.to_string();
    let n = rows.len().max(1) as f64;
    let values = rows.iter().flat_map(|row| [row.start, row.end]);
    let (x_low, mut x_high) = padded_range(values, &reference.into_iter().collect::<Vec<_>>());
    x_high += (x_high - x_low) * 0.12; // room for the value text
    let labels: Vec<&str> = rows.iter().map(|row| row.label.as_str()).collect();
    let mut chart = row_chart(area, &labels, (x_low, x_high), x_label, 0.0)?;
    let position = |index: usize| n - 1.0 - index as f64;
    chart
        .draw_series(rows.iter().enumerate().map(|(index, row)| {
            let y = position(index);
            Rectangle::new(
                [(row.start, y - 0.35), (row.end, y + 0.35)],
                PALETTE[row.colour % PALETTE.len()].filled(),
            )
        }))
        .map_err(text)?;
    if let Some(reference) = reference {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(reference, -0.6), (reference, n - 0.4)],
                BLACK.stroke_width(2),
            )))
            .map_err(text)?;
    }
    for (index, row) in rows.iter().enumerate() {
        let y = position(index);
        let (end_x, y_px) = chart.backend_coord(&(row.start.max(row.end), y));
        text_at(
            area,
            &row.text,
            &style(13).pos(Pos::new(HPos::Left, VPos::Center)),
            (end_x + 6, y_px),
        )?;
    }
    Ok(())
}

fn draw_dots<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rows: &[DotRow],
    series: &[String],
    x_label: &str,
    references: &[f64],
) -> std::result::Result<(), String> {
    let text = |error: DrawingAreaErrorKind<DB::ErrorType>| error.to_string();
    let n = rows.len().max(1) as f64;
    let values = rows.iter().flat_map(|row| {
        row.points.iter().flatten().flat_map(|(value, interval)| {
            let mut all = vec![*value];
            if let Some((low, high)) = interval {
                all.extend([*low, *high]);
            }
            all
        })
    });
    let x_range = padded_range(values, references);
    let labels: Vec<&str> = rows.iter().map(|row| row.label.as_str()).collect();
    let headroom = legend_rows(series.len());
    let mut chart = row_chart(area, &labels, x_range, x_label, headroom)?;
    for reference in references {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(*reference, -0.6), (*reference, n - 0.4)],
                GREY.stroke_width(1),
            )))
            .map_err(text)?;
    }
    let offset = |series_index: usize| {
        if series.len() < 2 {
            0.0
        } else {
            0.36 * (series_index as f64 / (series.len() - 1) as f64 - 0.5)
        }
    };
    for (series_index, name) in series.iter().enumerate() {
        let colour = PALETTE[series_index % PALETTE.len()];
        let points: Vec<(f64, Estimate)> = rows
            .iter()
            .enumerate()
            .filter_map(|(index, row)| {
                let (value, interval) = row.points.get(series_index).copied().flatten()?;
                let y = n - 1.0 - index as f64 - offset(series_index);
                value.is_finite().then_some((y, (value, interval)))
            })
            .collect();
        chart
            .draw_series(points.iter().filter_map(|(y, (_, interval))| {
                interval.map(|(low, high)| {
                    PathElement::new(vec![(low, *y), (high, *y)], colour.stroke_width(2))
                })
            }))
            .map_err(text)?;
        chart
            .draw_series(points.iter().map(|(y, (value, _))| {
                EmptyElement::at((*value, *y))
                    + Polygon::new(marker_outline(series_index), colour.filled())
            }))
            .map_err(text)?
            .label(name.as_str())
            .legend(move |(x, y)| {
                EmptyElement::at((x + 8, y))
                    + Polygon::new(marker_outline(series_index), colour.filled())
            });
    }
    if series.len() > 1 {
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    Ok(())
}

fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    series: &[Line],
    (x_label, y_label): (&str, &str),
    vertical: &[(f64, String)],
    horizontal: Option<f64>,
    markers: &[(f64, f64, String)],
    y_range: Option<(f64, f64)>,
) -> std::result::Result<(), String> {
    let text = |error: DrawingAreaErrorKind<DB::ErrorType>| error.to_string();
    let (x_low, x_high) = padded_range(
        series
            .iter()
            .flat_map(|line| line.points.iter().map(|point| point.0)),
        &[],
    );
    let y_values = series.iter().flat_map(|line| {
        line.points
            .iter()
            .map(|point| point.1)
            .chain(line.band.iter().flat_map(|band| [band.1, band.2]))
    });
    let (y_low, y_high) = y_range
        .unwrap_or_else(|| padded_range(y_values, &horizontal.into_iter().collect::<Vec<_>>()));
    let mut chart = ChartBuilder::on(area)
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(80)
        .build_cartesian_2d(x_low..x_high, y_low..y_high)
        .map_err(text)?;
    let (x_tick, y_tick) = (tick(x_high - x_low), tick(y_high - y_low));
    chart
        .configure_mesh()
        .x_label_formatter(&x_tick)
        .y_label_formatter(&y_tick)
        .x_desc(x_label)
        .y_desc(y_label)
        .axis_desc_style((FONT, 15))
        .label_style((FONT, 13))
        .light_line_style(MINOR_GRID)
        .max_light_lines(MINOR_LINES)
        .bold_line_style(MAJOR_GRID)
        .draw()
        .map_err(text)?;
    for line in series {
        if line.band.is_empty() {
            continue;
        }
        let colour = PALETTE[line.colour % PALETTE.len()];
        let mut outline: Vec<(f64, f64)> = line.band.iter().map(|band| (band.0, band.2)).collect();
        outline.extend(line.band.iter().rev().map(|band| (band.0, band.1)));
        chart
            .draw_series(std::iter::once(Polygon::new(outline, colour.mix(0.18))))
            .map_err(text)?;
    }
    if let Some(level) = horizontal {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x_low, level), (x_high, level)],
                BLACK.stroke_width(1),
            )))
            .map_err(text)?;
    }
    for (x, label) in vertical {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(*x, y_low), (*x, y_high)],
                GREY.stroke_width(2),
            )))
            .map_err(text)?;
        let (px, py) = chart.backend_coord(&(*x, y_high));
        text_at(
            area,
            label,
            &(FONT, 13).into_font().color(&GREY),
            (px + 4, py + 4),
        )?;
    }
    for line in series {
        let colour = PALETTE[line.colour % PALETTE.len()];
        let style = colour.stroke_width(if line.stroke == Stroke::Dashed { 2 } else { 3 });
        let drawn = match line.stroke {
            Stroke::Solid => chart
                .draw_series(LineSeries::new(line.points.clone(), style))
                .map_err(text)?,
            Stroke::Dashed => chart
                .draw_series(DashedLineSeries::new(line.points.clone(), 8, 6, style))
                .map_err(text)?,
            Stroke::Points => chart
                .draw_series(
                    line.points
                        .iter()
                        .map(|point| Circle::new(*point, 5, colour.filled())),
                )
                .map_err(text)?,
            Stroke::Cloud => chart
                .draw_series(
                    line.points
                        .iter()
                        .map(|point| Circle::new(*point, 2, colour.mix(0.35).filled())),
                )
                .map_err(text)?,
        };
        // A line with no name (the second limit of a pair) has no legend entry.
        if line.name.is_empty() {
            continue;
        }
        let labelled = drawn.label(line.name.as_str());
        match line.stroke {
            Stroke::Points | Stroke::Cloud => {
                labelled.legend(move |(x, y)| Circle::new((x + 9, y), 5, colour.filled()));
            }
            stroke => {
                let width = if stroke == Stroke::Dashed { 2 } else { 3 };
                labelled.legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(width))
                });
            }
        }
    }
    for (x, y, label) in markers {
        chart
            .draw_series(std::iter::once(Circle::new(
                (*x, *y),
                7,
                BLACK.stroke_width(2),
            )))
            .map_err(text)?;
        let (px, py) = chart.backend_coord(&(*x, *y));
        text_at(area, label, &style(13), (px + 10, py - 20))?;
    }
    if series.iter().all(|line| line.name.is_empty()) {
        return Ok(()); // nothing to name: no empty legend box
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}

fn draw_histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    bins: &[Bin],
    x_label: &str,
    y_label: &str,
    vertical: &[(f64, String)],
) -> std::result::Result<(), String> {
    let text = |error: DrawingAreaErrorKind<DB::ErrorType>| error.to_string();
    let (x_low, x_high) = padded_range(
        bins.iter().flat_map(|bin| [bin.from, bin.to]),
        &vertical.iter().map(|(x, _)| *x).collect::<Vec<_>>(),
    );
    let top = bins.iter().map(|bin| bin.height).fold(1.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(x_low..x_high, 0.0..top)
        .map_err(text)?;
    let (x_tick, y_tick) = (tick(x_high - x_low), tick(top));
    chart
        .configure_mesh()
        .x_label_formatter(&x_tick)
        .y_label_formatter(&y_tick)
        .x_desc(x_label)
        .y_desc(y_label)
        .axis_desc_style((FONT, 15))
        .label_style((FONT, 13))
        .light_line_style(MINOR_GRID)
        .max_light_lines(MINOR_LINES)
        .bold_line_style(MAJOR_GRID)
        .draw()
        .map_err(text)?;
    chart
        .draw_series(bins.iter().map(|bin| {
            Rectangle::new(
                [(bin.from, 0.0), (bin.to, bin.height)],
                PALETTE[0].mix(0.85).filled(),
            )
        }))
        .map_err(text)?;
    for bin in bins {
        let (px, py) = chart.backend_coord(&((bin.from + bin.to) / 2.0, bin.height));
        text_at(
            area,
            &bin.text,
            &style(11).pos(Pos::new(HPos::Center, VPos::Bottom)),
            (px, py - 3),
        )?;
    }
    for (x, label) in vertical {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(*x, 0.0), (*x, top)],
                PALETTE[3].stroke_width(2),
            )))
            .map_err(text)?;
        let (px, py) = chart.backend_coord(&(*x, top));
        text_at(
            area,
            label,
            &(FONT, 12).into_font().color(&PALETTE[3]),
            (px + 4, py + 4),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Grey level of a colour as greyscale print renders it (ITU-R BT.601 luma).
    fn luma(colour: RGBColor) -> f64 {
        0.299 * f64::from(colour.0) + 0.587 * f64::from(colour.1) + 0.114 * f64::from(colour.2)
    }

    /// In greyscale the two colours of a two-series chart (lines, bars) differ clearly, and
    /// dot series (up to four in one chart) differ by shape whatever their grey.
    #[test]
    fn series_stay_apart_in_greyscale() {
        assert!((luma(PALETTE[0]) - luma(PALETTE[1])).abs() > 60.0);
        let outlines: Vec<Vec<(i32, i32)>> = (0..4).map(marker_outline).collect();
        for (index, outline) in outlines.iter().enumerate() {
            assert!(outline.len() >= 3);
            assert!(!outlines[..index].contains(outline), "series {index}");
        }
    }
}
