//! A terminal progress bar for [`Fit::run`](crate::fit::Fit::run), with `std`.

use std::format;

use crate::fit::{Callback, Control, EpochStats, FitReport};

/// Shows training progress with an [indicatif](https://docs.rs/indicatif) bar: one tick
/// per epoch, the latest losses and accuracies as its message. The end of training
/// (early or not) finishes the bar where it stands. [`Fit::progress`](crate::fit::Fit::progress)
/// adds one to a training run; it is a [`Callback`] of any network.
///
/// ```
/// use staticnn::fit::{Callback, EpochStats};
/// let mut bar = staticnn::progress::Progress::new(10);
/// let stats = EpochStats { epoch: 0, val_accuracy: Some(0.5), ..EpochStats::default() };
/// Callback::<()>::epoch_end(&mut bar, &(), &stats);
/// bar.finish();
/// ```
#[derive(Debug)]
pub struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    /// A bar for `epochs` epochs (it hides itself when the output is not a terminal).
    pub fn new(epochs: usize) -> Self {
        let bar = indicatif::ProgressBar::new(epochs as u64);
        let style = indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} epochs {elapsed_precise} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix("training");
        Progress { bar }
    }

    /// Ends the bar, leaving its last state on screen.
    pub fn finish(&self) {
        self.bar.finish();
    }
}

impl<N: ?Sized> Callback<N> for Progress {
    fn epoch_end(&mut self, _: &N, s: &EpochStats) -> Control {
        let pct = |a: Option<f64>| a.map_or_else(|| "-".into(), |a| format!("{:.2}%", 100.0 * a));
        self.bar.set_message(format!(
            "train {:.4} ({}) · val {:.4} ({}) · lr {:.2e}",
            s.train_loss,
            pct(s.train_accuracy),
            s.val_loss,
            pct(s.val_accuracy),
            s.lr
        ));
        self.bar.inc(1);
        Control::Continue
    }

    fn train_end(&mut self, _: &N, _: &FitReport) {
        self.finish();
    }
}
