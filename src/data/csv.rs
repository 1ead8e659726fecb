//! Numeric CSV files into owned samples and labels (feature `std`).

use std::fmt;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

use super::{DataError, Dataset};
use crate::Scalar;

/// Which column of a CSV file holds the class label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelColumn<'a> {
    /// The column with this name in the header row (surrounding spaces and quotes ignored).
    Name(&'a str),
    /// The column at this position, counted from 0.
    Index(usize),
}

/// The samples and class labels of a CSV file, owned; [`dataset`](Csv::dataset) views
/// them as a [`Dataset`].
#[derive(Clone, Debug, PartialEq)]
pub struct Csv<T, const IN: usize> {
    /// The feature columns' names, in file order (the label column left out).
    pub features: Vec<String>,
    /// The label column's name.
    pub label: String,
    /// One sample per data row, its features in file order.
    pub inputs: Vec<[T; IN]>,
    /// The class label of each sample.
    pub labels: Vec<usize>,
}

impl<T, const IN: usize> Csv<T, IN> {
    /// A [`Dataset`] view of the samples and labels.
    ///
    /// # Errors
    ///
    /// None in practice: the two vectors have the same length unless they were edited
    /// apart ([`DataError::LengthMismatch`]).
    pub fn dataset(&self) -> Result<Dataset<'_, T, IN, usize>, DataError> {
        Dataset::new(&self.inputs, &self.labels)
    }
}

/// Why a CSV file could not be read. Lines and columns are counted from 1, as editors
/// show them; the header is line 1.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsvError {
    /// The file could not be read.
    Io {
        /// What went wrong, as the operating system says it.
        message: String,
    },
    /// The file has no header row (it is empty or blank).
    NoHeader,
    /// No column of the header has the label column's name.
    NoSuchLabel {
        /// The name looked for.
        name: String,
    },
    /// The label column's index is not below the number of columns.
    LabelOutOfRange {
        /// The index asked for.
        index: usize,
        /// Columns in the header.
        columns: usize,
    },
    /// The header does not have one label column and `IN` feature columns.
    WrongColumnCount {
        /// Columns the network's input needs, the label's included (`IN + 1`).
        expected: usize,
        /// Columns in the header.
        found: usize,
    },
    /// A data row has another number of fields than the header.
    WrongFieldCount {
        /// The row's line.
        line: usize,
        /// Fields the header has.
        expected: usize,
        /// Fields the row has.
        found: usize,
    },
    /// A field is not what its column holds: a finite number for a feature, a class
    /// number (a non-negative integer) for the label.
    BadField {
        /// The row's line.
        line: usize,
        /// The field's column.
        column: usize,
        /// The column's name in the header.
        name: String,
        /// The field as written.
        text: String,
        /// What was expected there.
        expected: &'static str,
    },
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvError::Io { message } => write!(f, "cannot read the CSV file: {message}"),
            CsvError::NoHeader => f.write_str("the CSV file has no header row"),
            CsvError::NoSuchLabel { name } => {
                write!(f, "the CSV header has no column named `{name}`")
            }
            CsvError::LabelOutOfRange { index, columns } => write!(
                f,
                "the label column index {index} is out of range: the CSV header has {columns} columns"
            ),
            CsvError::WrongColumnCount { expected, found } => write!(
                f,
                "the CSV header has {found} columns, but the network needs {expected} (its inputs and the label)"
            ),
            CsvError::WrongFieldCount {
                line,
                expected,
                found,
            } => write!(
                f,
                "line {line}: {found} fields, but the header has {expected}"
            ),
            CsvError::BadField {
                line,
                column,
                name,
                text,
                expected,
            } => write!(
                f,
                "line {line}, column {column} (`{name}`): `{text}` is not {expected}"
            ),
        }
    }
}

impl std::error::Error for CsvError {}

/// A field without surrounding spaces and double quotes.
fn clean(field: &str) -> &str {
    let field = field.trim();
    field
        .strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .unwrap_or(field)
        .trim()
}

/// Reads numeric CSV text: a header row, then one sample per row, fields separated by
/// commas (surrounding spaces and double quotes are ignored; quoted commas are not
/// supported). The label column holds class numbers; the other `IN` columns, in file
/// order, are the features, read as `f64` and converted to `T`. Blank lines are skipped;
/// `\r\n` line ends are accepted.
///
/// ```
/// use staticnn::data::{CsvError, LabelColumn, read_csv};
/// let text = "sepal,petal,species\n5.1,1.4,0\n6.3, 4.9 ,1\n";
/// let csv = read_csv::<f32, 2>(text, LabelColumn::Name("species"))?;
/// assert_eq!(csv.inputs, [[5.1, 1.4], [6.3, 4.9]]);
/// assert_eq!(csv.labels, [0, 1]);
/// let data = csv.dataset()?;
/// assert_eq!(data.len(), 2);
///
/// let err = read_csv::<f32, 2>("a,b,y\n1,x,0\n", LabelColumn::Index(2)).unwrap_err();
/// assert_eq!(err.to_string(), "line 2, column 2 (`b`): `x` is not a finite number");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// A [`CsvError`]: about the header ([`NoHeader`](CsvError::NoHeader),
/// [`NoSuchLabel`](CsvError::NoSuchLabel), [`LabelOutOfRange`](CsvError::LabelOutOfRange),
/// [`WrongColumnCount`](CsvError::WrongColumnCount)), then for the first bad row, with its
/// line and column ([`WrongFieldCount`](CsvError::WrongFieldCount),
/// [`BadField`](CsvError::BadField)).
pub fn read_csv<T: Scalar, const IN: usize>(
    text: &str,
    label: LabelColumn<'_>,
) -> Result<Csv<T, IN>, CsvError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(CsvError::NoHeader)?;
    let names: Vec<&str> = header.split(',').map(clean).collect();
    let columns = names.len();
    let label_at = match label {
        LabelColumn::Name(name) => {
            names
                .iter()
                .position(|n| *n == name.trim())
                .ok_or_else(|| CsvError::NoSuchLabel {
                    name: name.to_string(),
                })?
        }
        LabelColumn::Index(index) if index < columns => index,
        LabelColumn::Index(index) => return Err(CsvError::LabelOutOfRange { index, columns }),
    };
    if columns != IN + 1 {
        return Err(CsvError::WrongColumnCount {
            expected: IN + 1,
            found: columns,
        });
    }

    let mut inputs = Vec::new();
    let mut labels = Vec::new();
    for (line, row) in lines {
        let fields: Vec<&str> = row.split(',').map(clean).collect();
        if fields.len() != columns {
            return Err(CsvError::WrongFieldCount {
                line,
                expected: columns,
                found: fields.len(),
            });
        }
        let bad = |column: usize, expected: &'static str| CsvError::BadField {
            line,
            column: column + 1,
            name: names[column].to_string(),
            text: fields[column].to_string(),
            expected,
        };
        let mut x = [T::default(); IN];
        let mut k = 0;
        for (column, field) in fields.iter().enumerate() {
            if column == label_at {
                let class = field
                    .parse::<usize>()
                    .map_err(|_| bad(column, "a class number (a non-negative integer)"))?;
                labels.push(class);
            } else {
                let value = field
                    .parse::<f64>()
                    .ok()
                    .map(T::of)
                    .filter(|v: &T| v.as_f64().is_finite())
                    .ok_or_else(|| bad(column, "a finite number"))?;
                x[k] = value;
                k += 1;
            }
        }
        inputs.push(x);
    }
    Ok(Csv {
        features: names
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != label_at)
            .map(|(_, n)| n.to_string())
            .collect(),
        label: names[label_at].to_string(),
        inputs,
        labels,
    })
}

/// Reads a numeric CSV file as [`read_csv`] reads text.
///
/// # Errors
///
/// [`CsvError::Io`] when the file cannot be read (or is not UTF-8), otherwise those of
/// [`read_csv`].
pub fn load_csv<T: Scalar, const IN: usize>(
    path: impl AsRef<Path>,
    label: LabelColumn<'_>,
) -> Result<Csv<T, IN>, CsvError> {
    let text = std::fs::read_to_string(path).map_err(|e| CsvError::Io {
        message: e.to_string(),
    })?;
    read_csv(&text, label)
}
