//! Markdown to safe HTML: CommonMark (plus strikethrough) rendered by pulldown-cmark,
//! then cleaned by ammonia with a short list of tags. Raw HTML in a message is shown
//! as text, never passed through; links open safely.

use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let tags: HashSet<&str> = [
        "p",
        "br",
        "strong",
        "em",
        "del",
        "code",
        "pre",
        "a",
        "blockquote",
        "ul",
        "ol",
        "li",
        "hr",
    ]
    .into_iter()
    .collect();
    let mut builder = ammonia::Builder::default();
    builder
        .tags(tags)
        .tag_attributes(
            [
                ("a", ["href"].into_iter().collect()),
                ("ol", ["start"].into_iter().collect()),
            ]
            .into(),
        )
        .generic_attributes(HashSet::new())
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("nofollow noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank");
    builder
});

/// Renders a message's Markdown to sanitized HTML.
pub fn to_html(markdown: &str) -> String {
    let parser =
        Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH).map(|event| match event {
            // Raw HTML becomes visible text: a chat message is not a web page.
            Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
            Event::Start(Tag::HtmlBlock) => Event::Start(Tag::Paragraph),
            Event::End(TagEnd::HtmlBlock) => Event::End(TagEnd::Paragraph),
            // Images become links to them; headings become strong paragraphs.
            Event::Start(Tag::Image {
                dest_url,
                title,
                id,
                ..
            }) => Event::Start(Tag::Link {
                link_type: pulldown_cmark::LinkType::Inline,
                dest_url,
                title,
                id,
            }),
            Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
            other => other,
        });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, parser);
    CLEANER.clean(&html).to_string().trim_end().to_string()
}

/// Plain text as HTML: escaped, in a paragraph.
pub fn escape(text: &str) -> String {
    format!("<p>{}</p>", ammonia::clean_text(text))
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn renders_the_usual_markdown() {
        assert_eq!(
            to_html("**bold** *it* ~~gone~~ `x<y`"),
            "<p><strong>bold</strong> <em>it</em> <del>gone</del> <code>x&lt;y</code></p>"
        );
        assert_eq!(
            to_html("> quoted"),
            "<blockquote>\n<p>quoted</p>\n</blockquote>"
        );
        assert_eq!(to_html("- a\n- b"), "<ul>\n<li>a</li>\n<li>b</li>\n</ul>");
        assert_eq!(
            to_html("```\nfn main() {}\n```"),
            "<pre><code>fn main() {}\n</code></pre>"
        );
        assert_eq!(
            to_html("[site](https://example.com)"),
            "<p><a href=\"https://example.com\" target=\"_blank\" rel=\"nofollow noopener noreferrer\">site</a></p>"
        );
    }

    /// None of these may produce a script, an event handler, a dangerous URL or a tag
    /// outside the allowed list.
    #[test]
    fn xss_vectors_come_out_harmless() {
        let vectors = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<svg onload=alert(1)>",
            "[click](javascript:alert(1))",
            "[click](JaVaScRiPt:alert(1))",
            "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
            "[click](vbscript:msgbox(1))",
            "![x](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
            "[x](https://example.com \"title\" onmouseover=alert(1))",
            "<<script>script>alert(1)<</script>/script>",
            "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
            "[a](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1))",
            "<object data=\"javascript:alert(1)\"></object>",
            "<form action=\"javascript:alert(1)\"><button>x</button></form>",
            "<details open ontoggle=alert(1)>",
            "`<script>` and <b onclick=alert(1)>bold</b>",
            "<style>body{display:none}</style>",
            "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
        ];
        for vector in vectors {
            let html = to_html(vector);
            let lower = html.to_lowercase();
            for bad in [
                "<script", "<img", "<svg", "<iframe", "<object", "<form", "<style", "<meta",
                "<math", "<div", "<details", "<b ",
            ] {
                assert!(!lower.contains(bad), "{vector:?} -> {html}");
            }
            for bad in ["javascript:", "vbscript:", "data:text", " on", "style="] {
                // Escaped text may mention these words; an attribute may not.
                let in_attribute = lower
                    .split('<')
                    .skip(1)
                    .any(|tag| tag.split('>').next().unwrap_or("").contains(bad));
                assert!(!in_attribute, "{vector:?} -> {html}");
            }
        }
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        assert_eq!(to_html("<b>hi</b>"), "<p>&lt;b&gt;hi&lt;/b&gt;</p>");
    }
}
