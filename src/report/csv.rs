//! CSV outputs for people and spreadsheets: RFC 4180 quoting, and text that
//! a spreadsheet would run as a formula (leading `=`, `+`, `-`, `@`, tab or
//! carriage return) neutralised with a leading `'`. Values come from logs,
//! and a log can carry `=HYPERLINK(...)`.

/// Builds one CSV file in memory.
#[derive(Debug, Default)]
pub struct CsvText {
    text: String,
    row_started: bool,
}

/// Neutralises a text value a spreadsheet would evaluate.
pub fn neutralise(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_string(),
    }
}

impl CsvText {
    pub fn new(header: &[&str]) -> CsvText {
        let mut csv = CsvText::default();
        for h in header {
            csv.text(h);
        }
        csv.end_row();
        csv
    }

    fn push_raw(&mut self, field: &str) {
        if self.row_started {
            self.text.push(',');
        }
        self.row_started = true;
        if field.contains([',', '"', '\n', '\r']) {
            self.text.push('"');
            self.text.push_str(&field.replace('"', "\"\""));
            self.text.push('"');
        } else {
            self.text.push_str(field);
        }
    }

    /// A text field (from a log or not): neutralised and quoted.
    pub fn text(&mut self, value: &str) -> &mut CsvText {
        self.push_raw(&neutralise(value));
        self
    }

    /// A number, written as is.
    pub fn num(&mut self, value: f64) -> &mut CsvText {
        if (value - value.round()).abs() < 1e-9 && value.abs() < 1e15 {
            self.push_raw(&format!("{}", value.round() as i64));
        } else {
            self.push_raw(&format!("{value}"));
        }
        self
    }

    pub fn end_row(&mut self) {
        self.text.push('\n');
        self.row_started = false;
    }

    pub fn into_string(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_fields_quoted() {
        let mut csv = CsvText::new(&["customer", "note", "rows"]);
        csv.text("=HYPERLINK(\"http://x\",\"y\")")
            .text("a,b")
            .num(-3.0);
        csv.end_row();
        csv.text("+1").text("@SUM(A1)").num(2.5);
        csv.end_row();
        csv.text("-2").text("plain").num(7.0);
        csv.end_row();
        assert_eq!(
            csv.into_string(),
            "customer,note,rows\n\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",\"a,b\",-3\n'+1,'@SUM(A1),2.5\n'-2,plain,7\n"
        );
    }
}
