//! Kubernetes names from Docker's: RFC 1123 labels (lower case letters, digits and `-`, starting and
//! ending with an alphanumeric, at most 63 characters). Docker allows `_`, `.` and upper case, which
//! Kubernetes refuses, so every name that goes into a manifest passes through [`label`].

/// The longest RFC 1123 label.
const MAX_LABEL: usize = 63;

/// `name` as an RFC 1123 label: lower case; `_`, `.` and anything else outside `[a-z0-9-]` become `-`;
/// runs of `-` fold into one; no `-` at either end; at most 63 characters. An empty result is `x`.
pub fn label(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.chars() {
        let ch = ch.to_ascii_lowercase();
        let ch = if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            ch
        } else {
            '-'
        };
        if ch == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(ch);
    }
    out.truncate(MAX_LABEL);
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push('x');
    }
    out
}

/// Whether `name` is already an RFC 1123 label.
pub fn is_label(name: &str) -> bool {
    label(name) == name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names_become_rfc1123_labels() {
        assert_eq!(label("web"), "web");
        assert_eq!(label("My_App.v2"), "my-app-v2");
        assert_eq!(label("_lead__trail_"), "lead-trail");
        assert_eq!(label("proj_web_1"), "proj-web-1");
        assert_eq!(label("___"), "x");
        let long = "a".repeat(70) + "_b";
        assert_eq!(label(&long).len(), 63);
        assert!(is_label(&label(&long)));
        assert!(!is_label("Web"));
    }
}
