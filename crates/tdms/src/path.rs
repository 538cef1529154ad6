//! TDMS object paths: `/`, `/'group'`, `/'group'/'channel'`, with `''` escaping a quote.

/// A parsed object path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectPath {
    /// The file (root) object `/`.
    Root,
    /// A group object.
    Group(String),
    /// A channel object.
    Channel(String, String),
}

/// Parse a path string. Returns `None` for malformed paths or more than two components.
/// Like npTDMS, an empty string is the root object.
pub fn parse_path(path: &str) -> Option<ObjectPath> {
    let mut components: Vec<String> = Vec::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '/' {
            return None;
        }
        match chars.next() {
            // A lone trailing "/" (the root path) ends the path.
            None => break,
            Some('\'') => {}
            Some(_) => return None,
        }
        let mut component = String::new();
        loop {
            match chars.next() {
                None => return None,
                Some('\'') => {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                        component.push('\'');
                    } else {
                        break;
                    }
                }
                Some(other) => component.push(other),
            }
        }
        if components.len() == 2 {
            return None;
        }
        components.push(component);
    }
    let mut it = components.into_iter();
    match (it.next(), it.next()) {
        (None, _) => Some(ObjectPath::Root),
        (Some(g), None) => Some(ObjectPath::Group(g)),
        (Some(g), Some(c)) => Some(ObjectPath::Channel(g, c)),
    }
}

/// Build the canonical path string for a group or channel (quotes doubled).
pub fn format_path(group: &str, channel: Option<&str>) -> String {
    let mut s = format!("/'{}'", group.replace('\'', "''"));
    if let Some(c) = channel {
        s.push_str(&format!("/'{}'", c.replace('\'', "''")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_escaped_quotes() {
        assert_eq!(parse_path("/"), Some(ObjectPath::Root));
        assert_eq!(parse_path(""), Some(ObjectPath::Root));
        assert_eq!(parse_path("/'g'"), Some(ObjectPath::Group("g".into())));
        assert_eq!(
            parse_path("/'group'/'chan''nel'"),
            Some(ObjectPath::Channel("group".into(), "chan'nel".into()))
        );
        assert_eq!(
            parse_path("/'a/b'/'c'"),
            Some(ObjectPath::Channel("a/b".into(), "c".into()))
        );
        assert_eq!(parse_path("/'a'/'b'/'c'"), None);
        assert_eq!(parse_path("/'abc"), None);
        assert_eq!(parse_path("x"), None);
        assert_eq!(parse_path("/'a'x"), None);
        assert_eq!(format_path("g'", Some("c")), "/'g'''/'c'");
    }
}
