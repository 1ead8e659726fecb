//! Compile-time check of the layers' [`Tensor`](super::Tensor) lists, for the safetensors functions.

use super::Place;
use crate::summary::LayerInfo;

/// Checks that every layer's tensors cover its parameters and state exactly once (no
/// overlap, no gap, nothing out of range). Evaluated at compile time by the safetensors
/// functions, so a custom layer with a wrong [`Layer::TENSORS`](crate::Layer::TENSORS)
/// fails to build, with a message naming the layer.
pub(crate) const fn layout(layers: &[LayerInfo]) {
    let mut l = 0;
    while l < layers.len() {
        let info = &layers[l];
        check_place(info, l, Place::Params, info.params);
        check_place(info, l, Place::State, info.state);
        l += 1;
    }
}

const fn check_place(info: &LayerInfo, index: usize, place: Place, total: usize) {
    let tensors = info.tensors;
    let mut covered = 0;
    let mut i = 0;
    while i < tensors.len() {
        let t = &tensors[i];
        if same_place(t.place, place) {
            if t.offset + t.len() > total {
                layout_error(
                    info,
                    index,
                    "tensor `",
                    t.name,
                    "` reaches past the end of its block",
                );
            }
            let mut j = 0;
            while j < i {
                let u = &tensors[j];
                if same_place(u.place, place)
                    && t.offset < u.offset + u.len()
                    && u.offset < t.offset + t.len()
                {
                    layout_error(
                        info,
                        index,
                        "tensor `",
                        t.name,
                        "` overlaps an earlier tensor",
                    );
                }
                j += 1;
            }
            covered += t.len();
        }
        i += 1;
    }
    if covered != total {
        let what = match place {
            Place::Params => "Params",
            _ => "State",
        };
        layout_error(
            info,
            index,
            "the tensors do not cover all of its `",
            what,
            "`",
        );
    }
}

/// Stops compilation with "layer {index} (`{kind}`): {a}{b}{c} (see `Layer::TENSORS`)".
const fn layout_error(info: &LayerInfo, index: usize, a: &str, b: &str, c: &str) -> ! {
    let mut m = ConstMsg::new();
    m = m
        .push("layer ")
        .number(index)
        .push(" (`")
        .push(info.kind)
        .push("`): ");
    m = m.push(a).push(b).push(c).push(" (see `Layer::TENSORS`)");
    panic!("{}", m.as_str())
}

/// A message assembled in a constant (at most 256 bytes; longer ones are cut short).
struct ConstMsg {
    buf: [u8; 256],
    len: usize,
}

impl ConstMsg {
    const fn new() -> Self {
        ConstMsg {
            buf: [0; 256],
            len: 0,
        }
    }

    const fn push(mut self, s: &str) -> Self {
        let s = s.as_bytes();
        let mut i = 0;
        // Stop at a character boundary so that the message stays UTF-8.
        while i < s.len() && self.len < self.buf.len() - 4 {
            self.buf[self.len] = s[i];
            self.len += 1;
            i += 1;
            while i < s.len() && (s[i] & 0xc0) == 0x80 && self.len < self.buf.len() {
                self.buf[self.len] = s[i];
                self.len += 1;
                i += 1;
            }
        }
        self
    }

    const fn number(mut self, n: usize) -> Self {
        let mut digits = [0u8; 20];
        let (mut k, mut n) = (0, n);
        loop {
            digits[k] = b'0' + (n % 10) as u8;
            k += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        while k > 0 && self.len < self.buf.len() {
            k -= 1;
            self.buf[self.len] = digits[k];
            self.len += 1;
        }
        self
    }

    const fn as_str(&self) -> &str {
        let (bytes, _) = self.buf.split_at(self.len);
        match core::str::from_utf8(bytes) {
            Ok(s) => s,
            Err(_) => "invalid layer tensors (see `Layer::TENSORS`)",
        }
    }
}

const fn same_place(a: Place, b: Place) -> bool {
    matches!(
        (a, b),
        (Place::Params, Place::Params) | (Place::State, Place::State)
    )
}
