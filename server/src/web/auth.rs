//! Who may read the web page: the read token, presented as `Authorization: Bearer
//! <token>` (as the read API takes it) or as HTTP Basic with any user name and the token
//! as the password (so a browser can log in without JavaScript). Pure: it parses a
//! header value and compares; the comparison is the read API's
//! ([`crate::auth::same_secret`], constant time). It never logs or returns a token.

use crate::auth;

/// Whether the `Authorization` header value grants read access when the read token is
/// `expected`.
pub fn read_access(authorization: Option<&str>, expected: &str) -> bool {
    if let Some(token) = auth::bearer(authorization) {
        return auth::same_secret(token, expected);
    }
    match basic_password(authorization) {
        Some(password) => auth::same_secret(&password, expected),
        None => false,
    }
}

/// The password of an `Authorization: Basic <base64(user:password)>` header value (the
/// user name is ignored); `None` when the header is not Basic or does not decode.
pub fn basic_password(header: Option<&str>) -> Option<String> {
    let value = header?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64_decode(encoded.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, password) = text.split_once(':')?;
    (!password.is_empty()).then(|| password.to_owned())
}

/// Decodes standard base64 (RFC 4648, `+` and `/`, padding optional); `None` on any
/// other character or a dangling bit group.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let body = text.trim_end_matches('=');
    if text.len() - body.len() > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.as_bytes().chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = (acc << 6) | sextet(c)?;
        }
        match chunk.len() {
            4 => out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]),
            3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
            2 => out.push((acc >> 4) as u8),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(
            base64_decode("YWxhZGRpbjpvcGVuc2VzYW1l").unwrap(),
            b"aladdin:opensesame"
        );
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("Y"), None);
        assert_eq!(base64_decode("Y!=="), None);
        assert_eq!(base64_decode("YQ==="), None);
    }

    #[test]
    fn basic_takes_the_password_and_ignores_the_user() {
        // "anyone:s3cret-token-0123" and ":s3cret-token-0123"
        assert_eq!(
            basic_password(Some("Basic YW55b25lOnMzY3JldC10b2tlbi0wMTIz")).as_deref(),
            Some("s3cret-token-0123")
        );
        assert_eq!(
            basic_password(Some("basic OnMzY3JldC10b2tlbi0wMTIz")).as_deref(),
            Some("s3cret-token-0123")
        );
        // "user" (no colon), "user:" (empty password), not Basic.
        assert_eq!(basic_password(Some("Basic dXNlcg==")), None);
        assert_eq!(basic_password(Some("Basic dXNlcjo=")), None);
        assert_eq!(basic_password(Some("Bearer abc")), None);
        assert_eq!(basic_password(None), None);
    }

    #[test]
    fn bearer_and_basic_grant_only_with_the_token() {
        let token = "s3cret-token-0123";
        assert!(read_access(Some("Bearer s3cret-token-0123"), token));
        assert!(read_access(
            Some("Basic YW55b25lOnMzY3JldC10b2tlbi0wMTIz"),
            token
        ));
        assert!(!read_access(Some("Bearer s3cret-token-0124"), token));
        // "anyone:wrong"
        assert!(!read_access(Some("Basic YW55b25lOndyb25n"), token));
        assert!(!read_access(Some("Digest abc"), token));
        assert!(!read_access(None, token));
    }
}
