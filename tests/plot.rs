#![cfg(feature = "plot")]
//! The `plot` feature: a real training run's learning curves and a confusion matrix written
//! as SVG files to a temporary folder, read back, checked to be well-formed XML and to
//! carry the series (one polyline per curve, one point per epoch, in the data's order) and
//! the counts; bad input is a typed error.

use std::path::PathBuf;

use staticnn::data::{Dataset, Loader, Remainder};
use staticnn::fit::{Batch, EpochStats, Fit, Workspace, each_epoch};
use staticnn::metrics::Confusion;
use staticnn::plot::{self, PlotError};
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

network! {
    struct Net { input: 2, Linear(8), Tanh, Linear(2), loss: SoftmaxCrossEntropy }
}

/// A folder of its own under the system's temporary folder.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("staticnn-plot-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Checks that `svg` is well-formed XML with an `svg` root: every tag closed in order,
/// attribute values quoted. Returns the start tags (name and the whole tag) in order.
fn parse(svg: &str) -> Vec<(String, String)> {
    let mut stack: Vec<String> = Vec::new();
    let mut tags = Vec::new();
    let mut rest = svg;
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>').expect("an unclosed tag");
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
            continue;
        }
        let name: String = tag.chars().take_while(|c| c.is_alphanumeric()).collect();
        assert!(!name.is_empty(), "a tag without a name: <{tag}>");
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "unbalanced quotes in <{tag}>"
        );
        if stack.is_empty() {
            assert!(tags.is_empty() && name == "svg", "the root is <{name}>");
        }
        tags.push((name.clone(), tag.to_string()));
        if !tag.ends_with('/') {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert!(!tags.is_empty());
    tags
}

/// The value of attribute `name` in a tag.
fn attribute<'a>(tag: &'a str, name: &str) -> &'a str {
    let start = tag.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
    &tag[start..start + tag[start..].find('"').unwrap()]
}

/// The curves, as polylines of width 2 (axes and ticks are width 1), as pixel points.
fn curves(tags: &[(String, String)]) -> Vec<Vec<(f64, f64)>> {
    tags.iter()
        .filter(|(n, t)| n == "polyline" && attribute(t, "stroke-width") == "2")
        .map(|(_, t)| {
            attribute(t, "points")
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect()
        })
        .collect()
}

#[test]
fn a_training_history_plots_loss_and_accuracy() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let xs: Vec<[f32; 2]> = (0..32)
        .map(|i| {
            let side = if i % 2 == 0 { -1.0 } else { 1.0 };
            [side + rng.random::<f32>() * 0.5, rng.random::<f32>()]
        })
        .collect();
    let ys: Vec<usize> = (0..32).map(|i| i % 2).collect();
    let data = Dataset::new(&xs, &ys).unwrap();
    let mut net = Net::<f32>::new(&mut rng);
    let mut work = Workspace::new(&net, Batch::<8>);
    let mut order = vec![0; 32];
    let mut loader = Loader::new(data, &mut order, Remainder::Drop).unwrap();
    let mut history = Vec::new();
    Fit::new(12)
        .callback(each_epoch(|s: &EpochStats| history.push(*s)))
        .run(
            &mut net,
            &mut Sgd::new(0.3),
            &mut loader,
            data,
            &mut work,
            &mut rng,
        )
        .unwrap();

    let path = temp_dir("history").join("learning-curves.svg");
    plot::history(&path, &history).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert_eq!(svg, plot::history_svg(&history).unwrap());
    let tags = parse(&svg);
    for label in [
        "train loss",
        "validation loss",
        "train accuracy",
        "validation accuracy",
    ] {
        assert!(
            svg.contains(&format!("\n{label}\n")),
            "no legend entry {label}"
        );
    }
    let lines = curves(&tags);
    assert_eq!(lines.len(), 4, "train and validation loss and accuracy");
    for line in &lines {
        assert_eq!(line.len(), 12, "one point per epoch");
        assert!(
            line.windows(2).all(|w| w[0].0 < w[1].0),
            "epochs left to right"
        );
    }
    // Higher values are drawn higher (smaller y): the pixels follow the train loss.
    for (w, s) in lines[0].windows(2).zip(history.windows(2)) {
        let (up, higher) = (w[1].1 < w[0].1, s[1].train_loss > s[0].train_loss);
        if s[1].train_loss != s[0].train_loss && w[1].1 != w[0].1 {
            assert_eq!(up, higher, "{s:?}");
        }
    }
    // The first and last epochs of the validation accuracy are ordered as the data.
    let (first, last) = (history[0].val_accuracy, history[11].val_accuracy);
    let (p0, p1) = (lines[3][0].1, lines[3][11].1);
    assert_eq!(first < last, p1 < p0, "{first:?} {last:?}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn regression_history_has_no_accuracy_panel() {
    let history: Vec<EpochStats> = (0..5)
        .map(|e| EpochStats {
            epoch: e,
            train_loss: 2.0 - e as f64 * 0.3,
            val_loss: 2.1 - e as f64 * 0.2,
            ..EpochStats::default()
        })
        .collect();
    let svg = plot::history_svg(&history).unwrap();
    let tags = parse(&svg);
    assert_eq!(curves(&tags).len(), 2);
    assert!(!svg.contains("accuracy"));
}

#[test]
fn bad_input_is_a_typed_error() {
    assert!(matches!(plot::history_svg(&[]), Err(PlotError::Empty)));
    let mut history = [EpochStats::default(); 3];
    for (e, s) in history.iter_mut().enumerate() {
        s.epoch = e;
    }
    history[2].val_loss = f64::NAN;
    assert!(matches!(
        plot::history_svg(&history),
        Err(PlotError::NonFinite { epoch: 2 })
    ));
    history[2].val_loss = 0.5;
    let missing = temp_dir("errors").join("no-such-folder").join("curves.svg");
    let err = plot::history(&missing, &history).unwrap_err();
    assert!(matches!(err, PlotError::Io(_)), "{err}");
    std::fs::remove_dir_all(missing.parent().unwrap().parent().unwrap()).unwrap();
    assert!(matches!(
        plot::confusion_svg(&Confusion::<0>::new()),
        Err(PlotError::Empty)
    ));
}

#[test]
fn a_confusion_matrix_plots_every_cell() {
    let mut c = Confusion::<3>::new();
    c.counts = [[12, 0, 1], [2, 9, 0], [0, 0, 10]];
    let path = temp_dir("confusion").join("confusion.svg");
    plot::confusion(&path, &c).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    let tags = parse(&svg);
    // The white background, then the 9 cells row by row from class 0.
    let rects: Vec<&str> = tags
        .iter()
        .filter(|(n, _)| n == "rect")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(rects.len(), 1 + 9);
    let opacity = |k: usize| attribute(rects[1 + k], "opacity").parse::<f64>().unwrap();
    let y = |k: usize| attribute(rects[1 + k], "y").parse::<f64>().unwrap();
    // Shaded by the fraction of the row: 12/13 > 1/13 > 0/13.
    assert!(opacity(0) > opacity(2) && opacity(2) > opacity(1));
    assert!(y(0) < y(3) && y(3) < y(6), "class 0 at the top");
    for count in ["12", "9", "10", "2", "1"] {
        assert!(
            svg.contains(&format!("\n{count}\n")),
            "no cell labelled {count}"
        );
    }
    for label in ["predicted", "true", "confusion matrix"] {
        assert!(svg.contains(label));
    }
    // One class still draws.
    let mut one = Confusion::<1>::new();
    one.add(0, 0);
    parse(&plot::confusion_svg(&one).unwrap());
}
