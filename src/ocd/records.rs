//! Reading the CSV export (RFC 4180, lenient where RFC 4180 is silent or strict) with the `csv`
//! crate: records end at LF, CRLF or a lone CR; blank lines are skipped; text after a closing
//! quote (`"ab"c`) is kept, and a quote inside an unquoted field is literal.
//!
//! Two things the crate does not report are worked out here: the line a record starts on
//! (counting lone CRs as line breaks too) and a quoted field that the end of the text leaves
//! open, which the crate would silently close.

use super::OcdError;

/// One CSV record and the line it starts on (1-based).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Record {
    pub(super) line: usize,
    pub(super) fields: Vec<String>,
}

/// Appended to the text to learn whether it ends inside a quoted field. If it does, the quote
/// closes the field and the record ends with a field holding just `SENTINEL_FIELD`; in every
/// other state the line break ends (or skips) a line and the quote opens a field that reads
/// `,~\n`, so no other record can end with that field.
const SENTINEL: &str = "\n\",~\n";
const SENTINEL_FIELD: &[u8] = b"~";

/// Reads every record of `text`.
pub(super) fn read(text: &str) -> Result<Vec<Record>, OcdError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut input = String::with_capacity(text.len() + SENTINEL.len());
    input.push_str(text);
    input.push_str(SENTINEL);

    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input.as_bytes());
    let mut raw = Vec::new();
    let mut record = ::csv::ByteRecord::new();
    // Reading from memory with flexible records fails neither on I/O nor on field counts.
    while reader
        .read_byte_record(&mut record)
        .expect("reading a CSV from memory")
    {
        // The crate may place a record's start on the line break before it (the LF of a CRLF):
        // no record starts with a line break, so step over them.
        let at = record.position().map_or(0, |p| p.byte() as usize);
        let breaks = input.as_bytes()[at.min(input.len())..]
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        raw.push((at + breaks, record.clone()));
    }

    // The last record read is the sentinel's: either the one that closed an open quote, or the
    // extra record the sentinel opened.
    let Some((start, last)) = raw.pop() else {
        return Ok(Vec::new());
    };
    if last.len() >= 2 && last.get(last.len() - 1) == Some(SENTINEL_FIELD) {
        // The open field is the one before the sentinel's: its text ran to the end of the input
        // plus the sentinel's line break; each quote in it was written doubled.
        let open = last.get(last.len() - 2).unwrap_or_default();
        let quotes = memchr::memchr_iter(b'"', open).count();
        let raw_len = open.len() - 1 + quotes;
        let quote_at = text.len().saturating_sub(raw_len + 1).max(start);
        return Err(OcdError::UnterminatedQuote {
            line: 1 + count_line_breaks(&text.as_bytes()[..quote_at]),
        });
    }

    let mut records = Vec::with_capacity(raw.len());
    let (mut line, mut counted) = (1, 0);
    for (start, fields) in raw {
        let blank = fields.len() == 1 && fields[0].is_empty();
        if blank {
            continue;
        }
        line += count_line_breaks(&text.as_bytes()[counted..start]);
        counted = start;
        records.push(Record {
            line,
            // Fields are split at ASCII bytes of valid UTF-8, so they are valid UTF-8 too.
            fields: fields
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect(),
        });
    }
    Ok(records)
}

/// Line breaks (LF, CRLF or lone CR) in `bytes`.
fn count_line_breaks(bytes: &[u8]) -> usize {
    memchr::memchr2_iter(b'\n', b'\r', bytes)
        .filter(|&k| bytes[k] == b'\n' || bytes.get(k + 1) != Some(&b'\n'))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<Vec<String>> {
        read(text).unwrap().into_iter().map(|r| r.fields).collect()
    }

    #[test]
    fn csv_plain_and_quoted_fields() {
        assert_eq!(
            fields("a,b,c\n1,\"two, and more\",\"say \"\"hi\"\"\"\n"),
            vec![
                vec!["a", "b", "c"],
                vec!["1", "two, and more", "say \"hi\""]
            ]
        );
        assert_eq!(fields("a,,\n"), vec![vec!["a", "", ""]]);
        assert_eq!(fields("\"\",x"), vec![vec!["", "x"]]);
        assert_eq!(fields("\"\"\"\""), vec![vec!["\""]]);
    }

    #[test]
    fn csv_line_endings_and_embedded_newlines() {
        let text = "h1,h2\r\n\"multi\r\nline\",x\r\n\r\n\"a\nb\nc\",y\rlast,z";
        let records = read(text).unwrap();
        let got: Vec<_> = records.iter().map(|r| (r.line, r.fields.clone())).collect();
        assert_eq!(
            got,
            vec![
                (1, vec!["h1".to_string(), "h2".to_string()]),
                (2, vec!["multi\r\nline".to_string(), "x".to_string()]),
                (5, vec!["a\nb\nc".to_string(), "y".to_string()]),
                (8, vec!["last".to_string(), "z".to_string()]),
            ]
        );
    }

    #[test]
    fn csv_lenient_quotes_and_bom() {
        assert_eq!(fields("\u{feff}a,b"), vec![vec!["a", "b"]]);
        assert_eq!(fields("ab\"c,\"d\"e"), vec![vec!["ab\"c", "de"]]);
        assert_eq!(
            fields("caf\u{e9},\"\u{fc}\""),
            vec![vec!["caf\u{e9}", "\u{fc}"]]
        );
        assert_eq!(fields(""), Vec::<Vec<String>>::new());
        assert_eq!(fields("\n\n"), Vec::<Vec<String>>::new());
    }

    #[test]
    fn csv_unterminated_quote_is_an_error() {
        assert_eq!(
            read("a,b\nc,\"open\n\nnever closed"),
            Err(OcdError::UnterminatedQuote { line: 2 })
        );
        // The line is the one the quote opens on, not the record's first line.
        assert_eq!(
            read("a,\"two\nlines\",\"x\"\"y\n\"\"z"),
            Err(OcdError::UnterminatedQuote { line: 2 })
        );
        assert_eq!(read("\""), Err(OcdError::UnterminatedQuote { line: 1 }));
        assert_eq!(
            read("a\r\n\"\r\n"),
            Err(OcdError::UnterminatedQuote { line: 2 })
        );
    }

    #[test]
    fn text_that_looks_like_the_sentinel_is_data() {
        assert_eq!(fields("a,~\n"), vec![vec!["a", "~"]]);
        assert_eq!(fields("a,~"), vec![vec!["a", "~"]]);
        assert_eq!(fields("\",~\n\""), vec![vec![",~\n"]]);
        assert_eq!(fields("\"a\",\"~\""), vec![vec!["a", "~"]]);
        assert_eq!(fields("x\n\",~\n\"\n"), vec![vec!["x"], vec![",~\n"]]);
    }

    #[test]
    fn closed_quotes_at_the_end_are_not_errors() {
        assert_eq!(fields("a,\"b\""), vec![vec!["a", "b"]]);
        assert_eq!(fields("a,\"b\"\"\""), vec![vec!["a", "b\""]]);
        assert_eq!(fields("a,\"b\"c"), vec![vec!["a", "bc"]]);
        assert_eq!(fields("a,b\""), vec![vec!["a", "b\""]]);
    }
}
