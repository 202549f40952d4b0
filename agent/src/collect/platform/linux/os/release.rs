//! `os-release(5)`: `KEY=value` lines with shell-style quoting.
//!
//! Owns the parsing only; which keys mean what is the OS collector's business.

use std::collections::HashMap;

/// The keys of an os-release file with their unquoted values. Lines that are not
/// assignments (comments, blank lines, garbage) are skipped; the count of garbage
/// lines is returned so the caller can say the file looked wrong.
pub fn parse(text: &str) -> (HashMap<String, String>, usize) {
    let mut fields = HashMap::new();
    let mut garbage = 0;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            garbage += 1;
            continue;
        };
        let valid_key = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        match (valid_key, unquote(raw)) {
            (true, Some(value)) => {
                fields.insert(key.to_owned(), value);
            }
            _ => garbage += 1,
        }
    }
    (fields, garbage)
}

/// Unquotes a shell value: `"..."` (with `\"`, `\\`, `\$`, `` \` `` escapes), `'...'`,
/// or a bare word. `None` when a quote is not closed.
fn unquote(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if let Some(body) = raw.strip_prefix('"') {
        let mut out = String::with_capacity(body.len());
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => match chars.next() {
                    Some(next @ ('"' | '\\' | '$' | '`')) => out.push(next),
                    Some(next) => {
                        out.push('\\');
                        out.push(next);
                    }
                    None => return None,
                },
                c => out.push(c),
            }
        }
        return None;
    }
    if let Some(body) = raw.strip_prefix('\'') {
        return body.find('\'').map(|end| body[..end].to_owned());
    }
    Some(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_styles_are_undone() {
        let (fields, garbage) =
            parse("NAME=\"Rocky Linux\"\nID=debian\nX='a b'\n# c\n\nQ=\"say \\\"hi\\\" \\$x\"\n");
        assert_eq!(fields["NAME"], "Rocky Linux");
        assert_eq!(fields["ID"], "debian");
        assert_eq!(fields["X"], "a b");
        assert_eq!(fields["Q"], "say \"hi\" $x");
        assert_eq!(garbage, 0);
    }

    #[test]
    fn garbage_lines_are_counted_not_kept() {
        let (fields, garbage) = parse("ID=ok\nthis is not\nNAME=\"unterminated\nlower=x\n");
        assert_eq!(fields.len(), 1);
        assert_eq!(garbage, 3);
    }
}
