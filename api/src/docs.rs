//! The human-readable API page, rendered on the server from the OpenAPI
//! document itself: no CDN, no script, nothing fetched at run time.

use utoipa::openapi::path::Operation;
use utoipa::openapi::{OpenApi, RefOr};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn schema_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

fn operations(document: &OpenApi) -> Vec<(String, &'static str, &Operation)> {
    let mut all = Vec::new();
    for (path, item) in &document.paths.paths {
        for (method, operation) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("DELETE", &item.delete),
            ("PATCH", &item.patch),
        ] {
            if let Some(operation) = operation {
                all.push((path.clone(), method, operation));
            }
        }
    }
    all
}

/// The whole page.
pub fn render(document: &OpenApi) -> String {
    let mut html = String::from(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>守望 shouwang API</title><style>\
         body{font-family:system-ui,\"Noto Sans CJK SC\",sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.5}\
         h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.5rem}\
         .op{border:1px solid #ddd;border-radius:6px;padding:.6rem .9rem;margin:.8rem 0}\
         .m{font-weight:700;font-family:monospace;padding:.1rem .4rem;border-radius:4px;color:#fff}\
         .GET{background:#2b7a3d}.POST{background:#1f5fa8}.DELETE{background:#a82b1f}.PUT,.PATCH{background:#8a5a00}\
         code{background:#f4f4f4;padding:.05rem .3rem;border-radius:3px}\
         table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}\
         </style></head><body>",
    );
    html.push_str(&format!(
        "<h1>{}</h1><p>{}</p><p>版本 {} · 机器可读文档：<a href=\"/api/openapi.json\"><code>/api/openapi.json</code></a> · \
         认证：<code>Authorization: Bearer &lt;token&gt;</code>（由 <code>POST /api/v1/auth/login</code> 取得）</p>",
        escape(&document.info.title),
        escape(document.info.description.as_deref().unwrap_or_default()),
        escape(&document.info.version),
    ));
    let tags: Vec<(String, String)> = document
        .tags
        .iter()
        .flatten()
        .map(|tag| {
            (
                tag.name.clone(),
                tag.description.clone().unwrap_or_default(),
            )
        })
        .collect();
    let all = operations(document);
    for (tag, description) in &tags {
        let in_tag: Vec<_> = all
            .iter()
            .filter(|(_, _, op)| op.tags.as_ref().is_some_and(|tags| tags.contains(tag)))
            .collect();
        if in_tag.is_empty() {
            continue;
        }
        html.push_str(&format!(
            "<h2 id=\"{0}\">{1} <small><code>{0}</code></small></h2>",
            escape(tag),
            escape(description)
        ));
        for (path, method, operation) in in_tag {
            html.push_str(&format!(
                "<div class=\"op\"><span class=\"m {method}\">{method}</span> <code>{}</code>",
                escape(path)
            ));
            if let Some(summary) = &operation.summary {
                html.push_str(&format!(" — {}", escape(summary)));
            }
            if let Some(description) = &operation.description {
                html.push_str(&format!("<p>{}</p>", escape(description)));
            }
            if let Some(RefOr::T(body)) = &operation.request_body {
                for (content_type, content) in &body.content {
                    let schema = match content {
                        RefOr::Ref(reference) => Some(RefOr::Ref(reference.clone())),
                        RefOr::T(content) => content.schema.clone(),
                    };
                    let schema = match &schema {
                        Some(RefOr::Ref(reference)) => {
                            schema_name(&reference.ref_location).to_owned()
                        }
                        Some(RefOr::T(_)) => "inline".to_owned(),
                        None => "—".to_owned(),
                    };
                    html.push_str(&format!(
                        "<p>请求体 request body: <code>{}</code> <a href=\"#schema-{1}\"><code>{1}</code></a></p>",
                        escape(content_type),
                        escape(&schema)
                    ));
                }
            }
            html.push_str("<table><tr><th>状态</th><th>说明</th></tr>");
            for (status, response) in &operation.responses.responses {
                let description = match response {
                    RefOr::T(response) => response.description.clone(),
                    RefOr::Ref(reference) => schema_name(&reference.ref_location).to_owned(),
                };
                html.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td></tr>",
                    escape(status),
                    escape(&description)
                ));
            }
            html.push_str("</table></div>");
        }
    }
    if let Some(components) = &document.components {
        html.push_str("<h2 id=\"schemas\">数据结构 schemas</h2>");
        for (name, schema) in &components.schemas {
            let json = serde_json::to_string_pretty(schema).unwrap_or_default();
            html.push_str(&format!(
                "<details id=\"schema-{0}\"><summary><code>{0}</code></summary><pre>{1}</pre></details>",
                escape(name),
                escape(&json)
            ));
        }
    }
    html.push_str("</body></html>");
    html
}
