// The iris network takes four measurements per flower; five do not compile.
use staticnn::prelude::*;
use staticnn_ui_template::Iris;

fn main() {
    let net = Iris::<f32>::zeroed();
    let flowers = SMatrix::<f32, 5, 8>::zeros();
    let _ = net.classify(&flowers);
}
