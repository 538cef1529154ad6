//! Tags taken from where a file sits on the upload server.

use std::path::{Component, Path, PathBuf};

use crate::error::{PowerviewError, Result};

/// The tags encoded in an upload path `<base>/<company>/<campaign>/<device_master_sn>/<file>.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTags {
    /// First folder below the base directory.
    pub company: String,
    /// Second folder.
    pub campaign: String,
    /// Third folder: the master serial number the file was uploaded under.
    pub device_master_sn: String,
    /// The file name (last component).
    pub file_name: String,
}

/// Splits `path` relative to `base_dir` into company, campaign and device folder.
///
/// Both paths are compared lexically (no file system access, symlinks are not resolved): `.` is
/// dropped and `..` removes the previous component. Files deeper than the device folder (such as
/// `<device>/parsed/<file>`) are accepted; the three first folders are the tags.
///
/// # Errors
/// [`PowerviewError::PathOutsideBase`] if `path` is not below `base_dir` (including via `..`), and
/// [`PowerviewError::InvalidPath`] for an empty base, a path with fewer than four components below
/// the base, or a component that is not UTF-8. Both are invalid-parameter errors.
pub fn parse_path_tags(path: impl AsRef<Path>, base_dir: impl AsRef<Path>) -> Result<PathTags> {
    let path = path.as_ref();
    let base = base_dir.as_ref();
    let invalid = |reason: &str| PowerviewError::InvalidPath {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
    };
    let outside = || PowerviewError::PathOutsideBase {
        path: path.to_path_buf(),
        base: base.to_path_buf(),
    };
    if base.as_os_str().is_empty() {
        return Err(invalid("empty base directory"));
    }
    let base_parts = normalize(base).ok_or_else(outside)?;
    let path_parts = normalize(path).ok_or_else(outside)?;
    let relative = path_parts
        .strip_prefix(&base_parts)
        .map_err(|_| outside())?;
    let parts: Vec<&str> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect::<Option<_>>()
        .ok_or_else(|| invalid("a path component is not valid UTF-8"))?;
    let [company, campaign, device, .., file] = parts.as_slice() else {
        return Err(invalid(
            "expected <base>/<company>/<campaign>/<device_master_sn>/<file>",
        ));
    };
    Ok(PathTags {
        company: (*company).to_owned(),
        campaign: (*campaign).to_owned(),
        device_master_sn: (*device).to_owned(),
        file_name: (*file).to_owned(),
    })
}

/// Lexically normalized path; `None` if `..` climbs above the start.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    let mut depth = 0usize;
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => out.push(component.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                depth = depth.checked_sub(1)?;
                out.pop();
            }
            Component::Normal(part) => {
                depth += 1;
                out.push(part);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCategory;

    #[test]
    fn tags_from_upload_path() {
        let tags = parse_path_tags(
            "/srv/data/company1/campaign1/02001084/T302_251012_031720.tsv",
            "/srv/data",
        )
        .unwrap();
        assert_eq!(
            tags,
            PathTags {
                company: "company1".into(),
                campaign: "campaign1".into(),
                device_master_sn: "02001084".into(),
                file_name: "T302_251012_031720.tsv".into(),
            }
        );
        // Trailing slash on the base, `.` components, and a parsed/ subfolder.
        let tags = parse_path_tags("/srv/./data/c/k/0200/parsed/f.tsv", "/srv/data/").unwrap();
        assert_eq!(
            (
                tags.company.as_str(),
                tags.campaign.as_str(),
                tags.device_master_sn.as_str()
            ),
            ("c", "k", "0200")
        );
        assert_eq!(tags.file_name, "f.tsv");
        // Relative paths work when both are relative.
        let tags = parse_path_tags("up/c/k/d/f.tsv", "up").unwrap();
        assert_eq!(tags.device_master_sn, "d");
    }

    #[test]
    fn rejects_paths_outside_base() {
        for (path, base) in [
            ("/srv/other/c/k/d/f.tsv", "/srv/data"),
            ("/srv/data/../other/c/k/d/f.tsv", "/srv/data"),
            ("/srv/data/c/../../data2/k/d/f.tsv", "/srv/data"),
            ("/srv/database/c/k/d/f.tsv", "/srv/data"),
            ("c/k/d/f.tsv", "/srv/data"),
            ("/../../c/k/d/f.tsv", "/"),
        ] {
            let err = parse_path_tags(path, base).unwrap_err();
            assert!(
                matches!(err, PowerviewError::PathOutsideBase { .. }),
                "{path}: {err:?}"
            );
            assert_eq!(err.category(), ErrorCategory::InvalidParameter);
        }
    }

    #[test]
    fn rejects_short_paths() {
        for path in ["/srv/data/c/k/f.tsv", "/srv/data/c", "/srv/data"] {
            let err = parse_path_tags(path, "/srv/data").unwrap_err();
            assert!(
                matches!(err, PowerviewError::InvalidPath { .. }),
                "{path}: {err:?}"
            );
        }
        assert!(matches!(
            parse_path_tags("a/b/c/d/e", "").unwrap_err(),
            PowerviewError::InvalidPath { .. }
        ));
    }
}
