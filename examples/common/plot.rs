//! SVG charts for the examples and studies, drawn with plotters.
//!
//! Include it with `#[path = "common/plot.rs"] mod plot;`. Every figure is a grid of
//! panels: line charts ([`Panel`]) or histograms ([`Histogram`]). Files go to
//! `target/staticnn-examples/<name>/` ([`output_dir`]). No system fonts are needed to write
//! SVG: text is left for the viewer to render.
#![allow(dead_code)] // each example uses a part of it

use std::error::Error;
use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

/// One named line of a chart.
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Points in drawing order.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series named `name` through `points`.
    pub fn new(name: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points: points.into_iter().collect(),
        }
    }
}

/// One line chart of a figure.
pub struct Panel {
    /// Caption above the chart.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_desc: String,
    /// Label of the vertical axis.
    pub y_desc: String,
    /// Horizontal range.
    pub x: Range<f64>,
    /// Vertical range.
    pub y: Range<f64>,
    /// The lines, coloured in order.
    pub series: Vec<Series>,
}

impl Panel {
    /// A panel whose ranges fit its series (the vertical one with 5 % headroom, from 0 when
    /// every value is non-negative).
    pub fn fitted(title: &str, x_desc: &str, y_desc: &str, series: Vec<Series>) -> Self {
        let points = || series.iter().flat_map(|s| s.points.iter());
        let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in points().filter(|(x, y)| x.is_finite() && y.is_finite()) {
            (x_lo, x_hi, y_lo, y_hi) = (x_lo.min(x), x_hi.max(x), y_lo.min(y), y_hi.max(y));
        }
        if x_lo > x_hi {
            (x_lo, x_hi, y_lo, y_hi) = (0.0, 1.0, 0.0, 1.0);
        }
        if y_lo >= 0.0 {
            y_lo = 0.0;
        }
        let pad = 0.05 * (y_hi - y_lo).max(1e-12);
        Self {
            title: title.into(),
            x_desc: x_desc.into(),
            y_desc: y_desc.into(),
            x: x_lo..x_hi.max(x_lo + 1e-12),
            y: if y_lo == 0.0 { 0.0 } else { y_lo - pad }..y_hi + pad,
            series,
        }
    }

    /// The same panel with a fixed vertical range.
    pub fn with_y(mut self, y: Range<f64>) -> Self {
        self.y = y;
        self
    }
}

/// One histogram of a figure: the counts of `values` in equal bins over `range` (values
/// outside it are clamped into the end bins).
pub struct Histogram {
    /// Caption above the chart.
    pub title: String,
    /// The values counted.
    pub values: Vec<f64>,
    /// Horizontal range, split into `bins` equal bins.
    pub range: Range<f64>,
    /// Number of bins.
    pub bins: usize,
}

/// The folder `target/staticnn-examples/<name>`, created if needed.
pub fn output_dir(name: &str) -> Result<PathBuf, Box<dyn Error>> {
    let dir = PathBuf::from("target/staticnn-examples").join(name);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Size in pixels of one panel.
const PANEL: (u32, u32) = (420, 320);

/// Draws `panels` as line charts in a grid `columns` wide into the SVG file `path`.
pub fn lines(path: &Path, columns: usize, panels: &[Panel]) -> Result<(), Box<dyn Error>> {
    let (root, shape) = grid_root(path, columns, panels.len())?;
    let areas = root.split_evenly(shape);
    for (panel, area) in panels.iter().zip(&areas) {
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(48)
            .build_cartesian_2d(panel.x.clone(), panel.y.clone())?;
        chart
            .configure_mesh()
            .x_desc(&panel.x_desc)
            .y_desc(&panel.y_desc)
            .draw()?;
        for (k, s) in panel.series.iter().enumerate() {
            let colour = Palette99::pick(k).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    colour.stroke_width(2),
                ))?
                .label(&s.name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour));
        }
        if panel.series.iter().any(|s| !s.name.is_empty()) {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }
    }
    root.present()?;
    Ok(())
}

/// Draws `histograms` in a grid `columns` wide into the SVG file `path`, each scaled to its
/// own tallest bin.
pub fn histograms(
    path: &Path,
    columns: usize,
    histograms: &[Histogram],
) -> Result<(), Box<dyn Error>> {
    let (root, shape) = grid_root(path, columns, histograms.len())?;
    let areas = root.split_evenly(shape);
    for (h, area) in histograms.iter().zip(&areas) {
        let bins = h.bins.max(1);
        let width = (h.range.end - h.range.start) / bins as f64;
        let mut counts = vec![0usize; bins];
        for &v in h.values.iter().filter(|v| v.is_finite()) {
            let b = ((v - h.range.start) / width).floor();
            counts[(b.max(0.0) as usize).min(bins - 1)] += 1;
        }
        let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
        let mut chart = ChartBuilder::on(area)
            .caption(&h.title, ("sans-serif", 14))
            .margin(6)
            .x_label_area_size(24)
            .y_label_area_size(56)
            .build_cartesian_2d(h.range.clone(), 0.0..top * 1.05)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .y_label_formatter(&|n| format!("{n:.0}"))
            .draw()?;
        chart.draw_series(counts.iter().enumerate().map(|(b, &n)| {
            let x0 = h.range.start + b as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width, n as f64)], BLUE.mix(0.6).filled())
        }))?;
    }
    root.present()?;
    Ok(())
}

/// The drawing area of a whole figure.
type Canvas<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// A white SVG canvas big enough for `count` panels in rows of `columns`, and its grid shape
/// (rows, columns).
fn grid_root(
    path: &Path,
    columns: usize,
    count: usize,
) -> Result<(Canvas<'_>, (usize, usize)), Box<dyn Error>> {
    let columns = columns.clamp(1, count.max(1));
    let rows = count.div_ceil(columns).max(1);
    let size = (PANEL.0 * columns as u32, PANEL.1 * rows as u32);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    Ok((root, (rows, columns)))
}

/// A shaded band of a chart: at each `x`, the range from `lo` to `hi` (for example a
/// mean ± one standard deviation).
pub struct Band {
    /// Legend entry.
    pub name: String,
    /// Points `(x, lo, hi)` in increasing `x`.
    pub points: Vec<(f64, f64, f64)>,
}

/// Draws `panels` as [`lines`] does, each first shaded with its bands (`bands[i]` belongs to
/// `panels[i]`; missing entries mean no band), into the SVG file `path`.
pub fn lines_with_bands(
    path: &Path,
    columns: usize,
    panels: &[Panel],
    bands: &[Vec<Band>],
) -> Result<(), Box<dyn Error>> {
    let (root, shape) = grid_root(path, columns, panels.len())?;
    let areas = root.split_evenly(shape);
    for (i, (panel, area)) in panels.iter().zip(&areas).enumerate() {
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(48)
            .build_cartesian_2d(panel.x.clone(), panel.y.clone())?;
        chart
            .configure_mesh()
            .x_desc(&panel.x_desc)
            .y_desc(&panel.y_desc)
            .draw()?;
        for (k, band) in bands.get(i).into_iter().flatten().enumerate() {
            // Bands take their colour from the series of the same index, lightened.
            let colour = Palette99::pick(k).mix(0.2);
            let outline: Vec<(f64, f64)> = band
                .points
                .iter()
                .map(|&(x, _, hi)| (x, hi))
                .chain(band.points.iter().rev().map(|&(x, lo, _)| (x, lo)))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(outline, colour.filled())))?
                .label(&band.name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 4), (x + 16, y + 4)], colour.filled())
                });
        }
        for (k, s) in panel.series.iter().enumerate() {
            let colour = Palette99::pick(k).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    colour.stroke_width(2),
                ))?
                .label(&s.name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
