//! CSV answers (RFC 4180), safe to open in a spreadsheet: a cell that
//! begins with `=`, `+`, `-` or `@` (or a tab or carriage return) would be
//! taken as a formula there, so it is prefixed with `'` (OWASP's advice on
//! CSV injection).

/// One cell, escaped and quoted as it needs.
pub fn cell(value: &str) -> String {
    let value = match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    };
    if value.contains([',', '"', '\n', '\r']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value }
}

/// A table: a header row, then one row per record; lines end in CRLF.
pub fn table<'a>(header: &[&str], rows: impl IntoIterator<Item = Vec<String>> + 'a) -> String {
    let line = |cells: Vec<String>| cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",") + "\r\n";
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    rows.into_iter().for_each(|row| out.push_str(&line(row)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_separators_quoted() {
        assert_eq!(cell("=SUM(A1:A9)"), "'=SUM(A1:A9)");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-2"), "'-2");
        assert_eq!(cell("@cmd"), "'@cmd");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=1,2"), "\"'=1,2\"");
        assert_eq!(cell("2026-12-05"), "2026-12-05");
        assert_eq!(table(&["a", "b"], [vec!["1".into(), "x\ny".into()]]), "a,b\r\n1,\"x\ny\"\r\n");
    }
}
