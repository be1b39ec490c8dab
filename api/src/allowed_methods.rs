//! The methods each path allows, read from the OpenAPI document: a request whose path exists but
//! not with its method answers `405` with an `Allow` header (RFC 9110, 15.5.6) instead of `404`,
//! so a client developer sees "wrong method", not "no such thing". The document is the list of
//! routes (a test holds it to the served routes), so a new route is covered without editing this.

use actix_web::http::Method;

/// One path template of the document: its segments, `None` where a `{parameter}` stands.
#[derive(Debug)]
struct Template {
    segments: Vec<Option<String>>,
    methods: Vec<Method>,
}

/// The document's paths and their methods.
#[derive(Debug, Default)]
pub struct AllowedMethods {
    templates: Vec<Template>,
}

impl AllowedMethods {
    /// Reads the paths and methods of `document`, plus the routes served beside it.
    #[must_use]
    pub fn of(document: &utoipa::openapi::OpenApi) -> Self {
        let mut templates: Vec<Template> = document
            .paths
            .paths
            .iter()
            .map(|(path, item)| Template {
                segments: segments(path),
                methods: [
                    (&item.get, Method::GET),
                    (&item.post, Method::POST),
                    (&item.put, Method::PUT),
                    (&item.patch, Method::PATCH),
                    (&item.delete, Method::DELETE),
                ]
                .into_iter()
                .filter_map(|(operation, method)| operation.is_some().then_some(method))
                .collect(),
            })
            .collect();
        // Served, but not operations of the API: the document itself and its interactive pages.
        for path in ["/openapi.json", "/docs"] {
            templates.push(Template { segments: segments(path), methods: vec![Method::GET] });
        }
        Self { templates }
    }

    /// The `Allow` value for `path` when some template matches it; `None` for a path that does
    /// not exist (then `404`).
    #[must_use]
    pub fn allow(&self, path: &str) -> Option<String> {
        let parts: Vec<&str> = path.split('/').collect();
        let mut methods: Vec<&str> = Vec::new();
        for template in &self.templates {
            let fits = template.segments.len() == parts.len()
                && template.segments.iter().zip(&parts).all(|(segment, part)| match segment {
                    Some(literal) => literal == part,
                    None => !part.is_empty(),
                });
            if fits {
                methods.extend(template.methods.iter().map(Method::as_str));
            }
        }
        methods.sort_unstable();
        methods.dedup();
        (!methods.is_empty()).then(|| methods.join(", "))
    }
}

fn segments(template: &str) -> Vec<Option<String>> {
    template
        .split('/')
        .map(|s| if s.starts_with('{') && s.ends_with('}') { None } else { Some(s.to_owned()) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> AllowedMethods {
        AllowedMethods {
            templates: vec![
                Template { segments: segments("/api/v1/cases"), methods: vec![Method::GET, Method::POST] },
                Template { segments: segments("/api/v1/cases/{id}"), methods: vec![Method::GET, Method::PATCH] },
                Template { segments: segments("/api/v1/cases/{id}/notes"), methods: vec![Method::POST] },
            ],
        }
    }

    #[test]
    fn a_path_of_the_document_lists_its_methods_and_any_other_path_none() {
        let t = table();
        assert_eq!(t.allow("/api/v1/cases").as_deref(), Some("GET, POST"));
        assert_eq!(t.allow("/api/v1/cases/"), None, "routes match exactly, as the router does");
        assert_eq!(t.allow("/api/v1/cases/0199a1b2-0000-7000-8000-000000000000").as_deref(), Some("GET, PATCH"));
        assert_eq!(t.allow("/api/v1/cases/x/notes").as_deref(), Some("POST"));
        assert_eq!(t.allow("/api/v1/cases//notes"), None, "a parameter is never empty");
        assert_eq!(t.allow("/api/v1/case"), None);
        assert_eq!(t.allow("/api/v1/cases/x/notes/y"), None);
        assert_eq!(t.allow("/"), None);
    }
}
