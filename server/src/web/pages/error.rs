//! Error pages: a status, a heading and a sentence, in the same shell as every page.

use crate::web::html::{esc, page};

/// An error page (`message` is escaped).
pub fn render(title: &str, message: &str) -> String {
    page(
        title,
        "",
        &format!(
            r#"<section><p>{}</p><p><a href="/ui/">Back to the overview</a></p></section>"#,
            esc(message)
        ),
    )
}
