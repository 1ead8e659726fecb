//! CSV in (feature `std`): a numeric file with a header into owned samples and labels that
//! a `Dataset` views; bad files and rows are typed errors with their line and column.
#![cfg(feature = "std")]

use staticnn::data::{CsvError, LabelColumn, load_csv, read_csv};

const GOOD: &str = "\"sepal length\", label ,petal\r\n5.1,0,1.4\r\n\r\n6.25, 2 ,-4.5e1\r\n";

#[test]
fn reads_a_good_file_by_name_or_index() {
    for label in [LabelColumn::Name("label"), LabelColumn::Index(1)] {
        let csv = read_csv::<f64, 2>(GOOD, label).unwrap();
        assert_eq!(csv.features, ["sepal length", "petal"]);
        assert_eq!(csv.label, "label");
        assert_eq!(csv.inputs, [[5.1, 1.4], [6.25, -45.0]]);
        assert_eq!(csv.labels, [0, 2]);
        let data = csv.dataset().unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data.get(1), Some((&[6.25, -45.0], &2)));
    }
    let csv = read_csv::<f32, 2>("a,b,y\n0.1,0.2,1\n", LabelColumn::Index(2)).unwrap();
    assert_eq!(csv.inputs, [[0.1f32, 0.2f32]]);
    // A header alone is an empty data set.
    let empty = read_csv::<f32, 1>("x,y\n", LabelColumn::Name("y")).unwrap();
    assert!(empty.inputs.is_empty() && empty.dataset().unwrap().is_empty());
}

#[test]
fn bad_files_and_rows_are_typed_errors_with_line_and_column() {
    let read = |text: &str, label| read_csv::<f32, 2>(text, label).unwrap_err();
    let y = LabelColumn::Name("y");
    assert_eq!(read("", y), CsvError::NoHeader);
    assert_eq!(read(" \n\n", y), CsvError::NoHeader);
    assert_eq!(
        read("a,b,c\n", y),
        CsvError::NoSuchLabel { name: "y".into() }
    );
    assert_eq!(
        read("a,b,y\n", LabelColumn::Index(3)),
        CsvError::LabelOutOfRange {
            index: 3,
            columns: 3
        }
    );
    assert_eq!(
        read("a,b,c,y\n", y),
        CsvError::WrongColumnCount {
            expected: 3,
            found: 4
        }
    );
    let e = read("a,b,y\n1,2,0\n\n1,2\n", y);
    assert_eq!(
        e,
        CsvError::WrongFieldCount {
            line: 4,
            expected: 3,
            found: 2
        }
    );
    assert_eq!(e.to_string(), "line 4: 2 fields, but the header has 3");
    let e = read("a,b,y\n1,2,0\n1,oops,1\n", y);
    assert_eq!(
        e,
        CsvError::BadField {
            line: 3,
            column: 2,
            name: "b".into(),
            text: "oops".into(),
            expected: "a finite number"
        }
    );
    assert_eq!(
        e.to_string(),
        "line 3, column 2 (`b`): `oops` is not a finite number"
    );
    for (row, column, expected) in [
        ("NaN,1,0", 1, "a finite number"),
        ("1,1e39,0", 2, "a finite number"), // beyond f32
        ("1,,0", 2, "a finite number"),
        ("1,2,-1", 3, "a class number (a non-negative integer)"),
        ("1,2,0.5", 3, "a class number (a non-negative integer)"),
    ] {
        match read(&format!("a,b,y\n{row}\n"), y) {
            CsvError::BadField {
                line: 2,
                column: c,
                expected: e,
                ..
            } => assert_eq!((c, e), (column, expected), "{row}"),
            other => panic!("{row}: {other:?}"),
        }
    }
}

#[test]
fn load_csv_reads_a_file_and_reports_io_errors() {
    let path = std::env::temp_dir().join(format!("staticnn-csv-{}.csv", std::process::id()));
    std::fs::write(&path, GOOD).unwrap();
    let csv = load_csv::<f64, 2>(&path, LabelColumn::Name("label"));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(csv.unwrap().labels, [0, 2]);
    let missing = load_csv::<f64, 2>(&path, LabelColumn::Index(0)).unwrap_err();
    assert!(matches!(missing, CsvError::Io { .. }), "{missing:?}");
    assert!(
        missing
            .to_string()
            .starts_with("cannot read the CSV file: ")
    );
}
