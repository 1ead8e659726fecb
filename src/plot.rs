//! SVG figures of a training run (feature `plot`): the learning curves of
//! [`Fit::run`](crate::fit::Fit::run) and a confusion matrix, drawn with
//! [plotters](https://docs.rs/plotters)' SVG backend. No system fonts are needed: the text
//! is written as SVG text, for the viewer to render.
//!
//! Each figure comes as a string ([`history_svg`], [`confusion_svg`]) or written to a file
//! ([`history`], [`confusion`]).
//!
//! ```
//! use staticnn::fit::EpochStats;
//! use staticnn::metrics::Confusion;
//!
//! // The figures `Fit::run` reports each epoch, e.g. gathered with `fit::each_epoch`.
//! let curves: Vec<EpochStats> = (0..10)
//!     .map(|e| EpochStats {
//!         epoch: e,
//!         train_loss: 1.0 / (e + 1) as f64,
//!         val_loss: 1.2 / (e + 1) as f64,
//!         train_accuracy: Some(0.5 + 0.04 * e as f64),
//!         val_accuracy: Some(0.45 + 0.04 * e as f64),
//!         ..EpochStats::default()
//!     })
//!     .collect();
//! let svg = staticnn::plot::history_svg(&curves)?;
//! assert!(svg.starts_with("<svg") && svg.contains("validation accuracy"));
//!
//! let mut c = Confusion::<3>::new();
//! c.counts = [[12, 0, 1], [2, 9, 0], [0, 0, 10]];
//! let svg = staticnn::plot::confusion_svg(&c)?;
//! assert!(svg.contains("\n12\n")); // the count of cell (0, 0)
//! # Ok::<(), staticnn::plot::PlotError>(())
//! ```

use std::format;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::fit::EpochStats;
use crate::metrics::Confusion;

/// Why a figure could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum PlotError {
    /// There is nothing to draw: no epochs, or a confusion matrix without classes.
    Empty,
    /// A value to plot is NaN or infinite (a diverged run's loss), at this epoch.
    NonFinite {
        /// The epoch whose figures are not finite.
        epoch: usize,
    },
    /// plotters failed to draw; its message.
    Draw(String),
    /// Writing the file failed.
    Io(std::io::Error),
}

impl core::fmt::Display for PlotError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PlotError::Empty => f.write_str("nothing to plot"),
            PlotError::NonFinite { epoch } => {
                write!(f, "the figures of epoch {epoch} are not finite")
            }
            PlotError::Draw(e) => write!(f, "drawing failed: {e}"),
            PlotError::Io(e) => write!(f, "writing the figure failed: {e}"),
        }
    }
}

impl std::error::Error for PlotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlotError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for PlotError {
    fn from(e: std::io::Error) -> Self {
        PlotError::Io(e)
    }
}

fn draw<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// Size in pixels of one panel.
const PANEL: (u32, u32) = (440, 330);

/// One line of a panel.
struct Series {
    name: &'static str,
    points: Vec<(f64, f64)>,
}

/// Draws one line chart with its legend on `area`, its ranges fitted to the series.
fn panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    y_desc: &str,
    series: &[Series],
) -> Result<(), PlotError> {
    let points = || series.iter().flat_map(|s| s.points.iter().copied());
    let (mut x_hi, mut y_lo, mut y_hi) = (0.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for (x, y) in points() {
        (x_hi, y_lo, y_hi) = (x_hi.max(x), y_lo.min(y), y_hi.max(y));
    }
    if y_lo > y_hi {
        (y_lo, y_hi) = (0.0, 1.0);
    }
    let pad = 0.05 * (y_hi - y_lo).max(1e-9);
    let y_lo = if y_lo >= 0.0 { 0.0 } else { y_lo - pad };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(32)
        .y_label_area_size(52)
        .build_cartesian_2d(0.0..x_hi.max(1.0), y_lo..y_hi + pad)
        .map_err(draw)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .draw()
        .map_err(draw)?;
    for (k, s) in series.iter().enumerate() {
        let colour = Palette99::pick(k).to_rgba();
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(draw)?
            .label(s.name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(draw)
}

/// The learning curves of a run as an SVG document: training and validation loss per epoch
/// (left) and, when the targets are classes, training and validation accuracy (right).
/// Training figures are in train mode (dropout on, batch statistics), validation figures
/// in eval mode, as [`EpochStats`] records them.
///
/// # Errors
///
/// [`PlotError::Empty`] for no epochs, [`PlotError::NonFinite`] when a loss or accuracy is
/// NaN or infinite, [`PlotError::Draw`] when plotters fails.
pub fn history_svg(history: &[EpochStats]) -> Result<String, PlotError> {
    if history.is_empty() {
        return Err(PlotError::Empty);
    }
    let finite = |s: &EpochStats| {
        [s.train_loss, s.val_loss]
            .into_iter()
            .chain(s.train_accuracy)
            .chain(s.val_accuracy)
            .all(f64::is_finite)
    };
    if let Some(bad) = history.iter().find(|s| !finite(s)) {
        return Err(PlotError::NonFinite { epoch: bad.epoch });
    }
    let line = |name, f: &dyn Fn(&EpochStats) -> Option<f64>| Series {
        name,
        points: history
            .iter()
            .filter_map(|s| f(s).map(|v| (s.epoch as f64, v)))
            .collect(),
    };
    let loss = [
        line("train loss", &|s| Some(s.train_loss)),
        line("validation loss", &|s| Some(s.val_loss)),
    ];
    let accuracy = [
        line("train accuracy", &|s| s.train_accuracy),
        line("validation accuracy", &|s| s.val_accuracy),
    ];
    let with_accuracy = accuracy.iter().any(|s| !s.points.is_empty());
    let columns = if with_accuracy { 2 } else { 1 };
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (PANEL.0 * columns, PANEL.1)).into_drawing_area();
        root.fill(&WHITE).map_err(draw)?;
        let areas = root.split_evenly((1, columns as usize));
        panel(&areas[0], "loss", "", &loss)?;
        if with_accuracy {
            panel(&areas[1], "accuracy", "", &accuracy)?;
        }
        root.present().map_err(draw)?;
    }
    Ok(svg)
}

/// Writes [`history_svg`] to the file `path`.
///
/// # Errors
///
/// As [`history_svg`], and [`PlotError::Io`] when the file cannot be written.
pub fn history(path: impl AsRef<Path>, history: &[EpochStats]) -> Result<(), PlotError> {
    std::fs::write(path, history_svg(history)?)?;
    Ok(())
}

/// A confusion matrix as an SVG document: one row per true class (class 0 at the top), one
/// column per predicted class, each cell shaded by the fraction of its row (its recall when
/// on the diagonal) and labelled with its count.
///
/// # Errors
///
/// [`PlotError::Empty`] for a matrix of no classes, [`PlotError::Draw`] when plotters
/// fails.
pub fn confusion_svg<const N: usize>(c: &Confusion<N>) -> Result<String, PlotError> {
    if N == 0 {
        return Err(PlotError::Empty);
    }
    let n = N as i32;
    let side = (40 * N as u32).clamp(240, 1000);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (side + 90, side + 90)).into_drawing_area();
        root.fill(&WHITE).map_err(draw)?;
        // `(0..k).into_segmented()` has a segment for each of `0..=k`; one class still
        // needs a range that is not empty (its cell then fills half of the chart).
        let cells = || (0..(n - 1).max(1)).into_segmented();
        let mut chart = ChartBuilder::on(&root)
            .caption("confusion matrix", ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(40)
            .build_cartesian_2d(cells(), cells())
            .map_err(draw)?;
        // Row `t` is drawn at height `n − 1 − t`, so that class 0 is at the top.
        let class = |v: &SegmentValue<i32>, flip: bool| match *v {
            SegmentValue::CenterOf(k) | SegmentValue::Exact(k) if (0..n).contains(&k) => {
                format!("{}", if flip { n - 1 - k } else { k })
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("predicted")
            .y_desc("true")
            .x_labels(N)
            .y_labels(N)
            .x_label_formatter(&|v| class(v, false))
            .y_label_formatter(&|v| class(v, true))
            .draw()
            .map_err(draw)?;
        let cells = (0..N).flat_map(|t| (0..N).map(move |p| (t, p)));
        let fraction = |t: usize, p: usize| {
            let row: u64 = c.counts[t].iter().map(|&v| u64::from(v)).sum();
            if row == 0 {
                0.0
            } else {
                f64::from(c.counts[t][p]) / row as f64
            }
        };
        chart
            .draw_series(cells.clone().map(|(t, p)| {
                let (x, y) = (p as i32, n - 1 - t as i32);
                let shade = BLUE.mix(0.05 + 0.9 * fraction(t, p));
                Rectangle::new(
                    [
                        (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                        (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                    ],
                    shade.filled(),
                )
            }))
            .map_err(draw)?;
        chart
            .draw_series(cells.map(|(t, p)| {
                let (x, y) = (p as i32, n - 1 - t as i32);
                let colour = if fraction(t, p) > 0.5 { &WHITE } else { &BLACK };
                Text::new(
                    format!("{}", c.counts[t][p]),
                    (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)),
                    ("sans-serif", 12).into_font().color(colour),
                )
            }))
            .map_err(draw)?;
        root.present().map_err(draw)?;
    }
    Ok(svg)
}

/// Writes [`confusion_svg`] to the file `path`.
///
/// # Errors
///
/// As [`confusion_svg`], and [`PlotError::Io`] when the file cannot be written.
pub fn confusion<const N: usize>(
    path: impl AsRef<Path>,
    c: &Confusion<N>,
) -> Result<(), PlotError> {
    std::fs::write(path, confusion_svg(c)?)?;
    Ok(())
}
